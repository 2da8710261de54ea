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
  const scans = h.out.filter((x) => x.kind === 'scan.hosts');
  t.equal(scans.length, 1, 'one record for the whole scan');
  // what the scanner did before the 64th host made it a scan was delivered when it happened
  // (a violation and clear text per host); from the scan on, every flow folds into its count
  const before = h.out.filter((x) => x.kind !== 'scan.hosts');
  t.same(kinds(before), [...Array(63).fill('policy.violation'), ...Array(63).fill('protocol.plaintext')].sort(), 'the 63 hosts before it stay their own anomalies');
  t.ok(before.every((x) => Date.parse(x.firstSeen) < T0 + 63 * 0.5), 'none after the scan was recognised');
  const a = scans[0];
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
  const hits = h.out.filter((a) => a.kind === 'protocol.plaintext');
  t.equal(hits.reduce((n, a) => n + a.count, 0), 63, 'clear-text hits before the scan was recognised stay; later ones fold into it');
  t.ok(h.out.filter((a) => a.kind === 'protocol.plaintext').every((a) => Date.parse(a.firstSeen) < T0 + 64));
});

t.test('positive: IPv6 sweep', async (t) => {
  const h = harness();
  for (let i = 1; i <= 100; i++) h.engine.flowStart(start({ src: DOORBELL_IP6, dst: `2001:db8:77::${i.toString(16)}`, dport: 80, time: T0 + i }));
  h.engine.flush();
  const scans = h.out.filter((a) => a.kind === 'scan.hosts');
  t.equal(scans.length, 1);
  t.equal(scans[0].count, 100);
  t.equal(h.out.filter((a) => a.kind === 'policy.violation').length, 63, 'the 63 flows before the scan stay violations');
});

t.test('a scan that pauses longer than the window is two scans', async (t) => {
  const h = harness();
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1), dport: 80, time: T0 + i }));
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1000), dport: 80, time: T0 + 120_000 + i }));
  h.engine.flush();
  const scans = (l: typeof h.out) => l.filter((a) => a.kind === 'scan.hosts').map((a) => [a.kind, a.count]);
  t.same(scans(h.out), [['scan.hosts', 200]], 'the cause came back before the idle time ran out: the same anomaly counts on');
  const h2 = harness({ settings: { anomalyIdleMs: 60_000 } });
  for (let i = 0; i < 100; i++) h2.engine.flowStart(start({ dst: host(i + 1), dport: 80, time: T0 + i }));
  for (let i = 0; i < 100; i++) h2.engine.flowStart(start({ dst: host(i + 1000), dport: 80, time: T0 + 120_000 + i }));
  h2.engine.flush();
  t.same(scans(h2.out), [['scan.hosts', 100], ['scan.hosts', 100]], 'quiet longer than the idle time: a second anomaly');
  const [a, b] = h2.out.filter((x) => x.kind === 'scan.hosts');
  t.not(a.id, b.id, 'with its own id');
  t.equal(a.closeReason, 'idle');
});

t.test('memory stays bounded: tracked sources are capped', async (t) => {
  const h = harness({ settings: { scanMaxSources: 16 } });
  for (let i = 1; i <= 250; i++) h.engine.flowStart(start({ src: `192.168.50.${i}`, srcMac: '', dst: '203.0.113.5', dport: 443, time: T0 + i }));
  const st = h.engine.stats().scanHostsTracked;
  t.ok(st <= 16, `tracked ${st}`);
});
