import t from 'tap';
import { DOORBELL_IP, DOORBELL_IP6, DOORBELL_MAC, T0, harness, kinds, start } from './helpers.js';

const host = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

t.test('positive: 60,000 scan flows give one scan.hosts anomaly with the right count', async (t) => {
  const h = harness();
  const N = 60_000;
  for (let i = 0; i < N; i++) {
    // a Mirai-style telnet SYN sweep: every flow would also be a violation and clear text
    h.engine.flowStart(start({ dst: host(i + 1), dport: 23, time: T0 + i * 0.5, sport: 1024 + (i % 60000) }));
    if (i % 1000 === 0) h.engine.tick(T0 + i * 0.5);
  }
  h.engine.flush();
  t.equal(h.out.length, 1, 'one record for the whole scan');
  const a = h.out[0];
  t.match(a, { kind: 'scan.hosts', severity: 'high', device: 'doorbell', ip: DOORBELL_IP, peer: '', peerPort: 0, count: N, rule: 'scanHostsThreshold' });
  t.equal(a.firstSeen, new Date(T0).toISOString());
  t.equal(a.lastSeen, new Date(T0 + (N - 1) * 0.5).toISOString());
  t.match(a.message, /at least 64 distinct hosts within 60 s/);
  t.equal(h.first.filter((x) => x.kind === 'scan.hosts').length, 1, 'one immediate alert for the scan');
});

t.test('near miss: 63 distinct hosts in the window is not a scan', async (t) => {
  const h = harness();
  for (let i = 0; i < 63; i++) h.engine.flowStart(start({ dst: host(i + 1), dport: 443, time: T0 + i * 100 }));
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'scan.hosts'));
  t.equal(h.out.length, 63, 'each flow stays its own violation');
});

t.test('near miss: 200 hosts spread over 20 minutes (10 a minute)', async (t) => {
  const h = harness();
  for (let i = 0; i < 200; i++) {
    h.engine.flowStart(start({ dst: host(i + 1), dport: 443, time: T0 + i * 6000 }));
    h.engine.tick(T0 + i * 6000);
  }
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'scan.hosts'));
});

t.test('near miss: many ports of one host is not a host scan', async (t) => {
  const h = harness();
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1000 + i, time: T0 + i }));
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'scan.hosts'));
});

t.test('near miss: repeated flows to the same 10 hosts', async (t) => {
  const h = harness();
  for (let i = 0; i < 1000; i++) h.engine.flowStart(start({ dst: host((i % 10) + 1), dport: 443, sport: 1024 + i, time: T0 + i }));
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'scan.hosts'));
});

t.test('positive: an outsider sweeping the watched segment', async (t) => {
  const h = harness();
  for (let i = 1; i <= 200; i++) {
    h.engine.flowStart(start({ src: '198.51.100.66', srcMac: '02:00:00:00:00:fe', dst: `192.168.50.${i}`, dstMac: DOORBELL_MAC, dport: 23, time: T0 + i }));
  }
  h.engine.flush();
  const scans = h.out.filter((a) => a.kind === 'scan.hosts');
  t.equal(scans.length, 1);
  t.match(scans[0], { device: '198.51.100.66', profile: '', count: 200 });
  t.equal(h.out.length, 1, 'the clear-text hits of the sweep fold into the scan');
});

t.test('positive: IPv6 sweep', async (t) => {
  const h = harness();
  for (let i = 1; i <= 100; i++) h.engine.flowStart(start({ src: DOORBELL_IP6, dst: `2001:db8:77::${i.toString(16)}`, dport: 80, time: T0 + i }));
  h.engine.flush();
  t.same(kinds(h.out), ['scan.hosts']);
  t.equal(h.out[0].count, 100);
});

t.test('a scan that pauses longer than the window is two scans', async (t) => {
  const h = harness();
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1), dport: 80, time: T0 + i }));
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1000), dport: 80, time: T0 + 120_000 + i }));
  h.engine.flush();
  t.same(h.out.map((a) => [a.kind, a.count]), [['scan.hosts', 200]], 'same key within the suppression window: counts add up');
  const h2 = harness({ settings: { anomalyIdleMs: 60_000 } });
  for (let i = 0; i < 100; i++) h2.engine.flowStart(start({ dst: host(i + 1), dport: 80, time: T0 + i }));
  for (let i = 0; i < 100; i++) h2.engine.flowStart(start({ dst: host(i + 1000), dport: 80, time: T0 + 120_000 + i }));
  h2.engine.flush();
  t.same(h2.out.map((a) => [a.kind, a.count]), [['scan.hosts', 100], ['scan.hosts', 100]]);
});

t.test('memory stays bounded: tracked sources are capped', async (t) => {
  const h = harness({ settings: { scanMaxSources: 16 } });
  for (let i = 1; i <= 250; i++) h.engine.flowStart(start({ src: `192.168.50.${i}`, srcMac: '', dst: '203.0.113.5', dport: 443, time: T0 + i }));
  const st = h.engine.stats().scanHostsTracked;
  t.ok(st <= 16, `tracked ${st}`);
});
