// scan.hosts through the engine, default settings: the fast rule (SYNs to 6 distinct new hosts
// the device did not look up, within 2 s) and the slow rule (failed attempts to 25 distinct
// hosts within 5 min, from flow records), and the near misses of real devices.
import t from 'tap';
import { DOORBELL_IP, DOORBELL_IP6, DOORBELL_MAC, T0, harness, kinds, recordOf, start } from './helpers.js';

const host = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const scans = (l: { kind: string; count: number; rule: string }[]) => l.filter((x) => x.kind === 'scan.hosts').map((x) => [x.count, x.rule]);

t.test('fast: 60,000 telnet SYNs give one scan.hosts at the sixth host, with the right count', async (t) => {
  const h = harness();
  const N = 60_000;
  for (let i = 0; i < N; i++) {
    h.engine.flowStart(start({ dst: host(i + 1), dport: 23, time: T0 + i * 0.5, sport: 1024 + (i % 60000) }));
    if (i % 1000 === 0) h.engine.tick(T0 + i * 0.5);
  }
  h.engine.flush();
  t.equal(h.out.filter((x) => x.kind === 'scan.hosts').length, 1, 'one record for the whole scan');
  // the five hosts before the sixth made it a scan were delivered when they happened
  const before = h.out.filter((x) => x.kind !== 'scan.hosts');
  t.same(kinds(before), [...Array(5).fill('policy.violation'), ...Array(5).fill('protocol.plaintext')].sort(), 'the 5 hosts before it stay their own anomalies');
  t.ok(before.every((x) => Date.parse(x.firstSeen) < T0 + 5 * 0.5), 'none after the scan was recognised');
  const a = h.out.find((x) => x.kind === 'scan.hosts')!;
  t.match(a, { severity: 'high', device: 'doorbell', ip: DOORBELL_IP, peer: '', peerPort: 0, count: N, rule: 'scanHostsFastThreshold' });
  t.equal(a.firstSeen, new Date(T0).toISOString());
  t.equal(a.lastSeen, new Date(T0 + (N - 1) * 0.5).toISOString());
  t.match(a.message, /6 distinct hosts it had not looked up within 2 s \(e\.g\. tcp\/23 to /);
  t.equal(h.first.filter((x) => x.kind === 'scan.hosts').length, 1, 'one immediate alert for the scan');
});

t.test('fast near miss: 5 new hosts within 2 s, then the next ones 2 s apart', async (t) => {
  const h = harness();
  for (let i = 0; i < 5; i++) h.engine.flowStart(start({ dst: host(i + 1), time: T0 + i * 100 }));
  for (let i = 5; i < 40; i++) h.engine.flowStart(start({ dst: host(i + 1), time: T0 + 500 + (i - 4) * 2001 }));
  h.engine.flush();
  t.same(scans(h.out), []);
  t.equal(h.out.length, 40, 'each flow stays its own violation');
});

t.test('fast near miss: a device fanning out to 30 hosts it looked up (cloud, CDN) in one second', async (t) => {
  const h = harness();
  for (let i = 0; i < 30; i++) h.inv.addName(DOORBELL_IP, host(i + 1), `edge${i}.cdn.example`, T0 + 60_000);
  for (let i = 0; i < 30; i++) h.engine.flowStart(start({ dst: host(i + 1), time: T0 + i * 30 }));
  h.engine.flush();
  t.same(scans(h.out), []);
});

t.test('fast near miss: 100 hosts in a second that are not new attempts (mid-flow, UDP, SYN-ACK)', async (t) => {
  const h = harness();
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1), time: T0 + i, tcpFlags: 0x18, sureInitiator: false, sport: 40000, dport: 8443 }));
  for (let i = 0; i < 100; i++) h.engine.flowStart(start({ proto: 'udp', dst: host(i + 1000), time: T0 + i, tcpFlags: 0, dport: 32100 }));
  h.engine.flush();
  t.same(scans(h.out), []);
});

t.test('fast near miss: repeated SYNs to the same 5 hosts', async (t) => {
  const h = harness();
  for (let i = 0; i < 1000; i++) h.engine.flowStart(start({ dst: host((i % 5) + 1), sport: 1024 + i, time: T0 + i }));
  h.engine.flush();
  t.same(scans(h.out), []);
});

t.test('slow: unanswered SYNs to 30 hosts, one every 10 s, are one scan.hosts at the 25th failure', async (t) => {
  const h = harness();
  const starts = [];
  for (let i = 0; i < 30; i++) {
    const s = start({ dst: host(i + 1), dport: 23, time: T0 + i * 10_000 });
    starts.push(s);
    h.engine.flowStart(s);
    h.engine.tick(s.time);
  }
  // the flow table reports an unanswered SYN when it times out: no packet back
  for (const s of starts) h.engine.flowRecord(recordOf(s, { end: s.time + 3000, packets: 3, bytes: 180, packetsRev: 0, bytesRev: 0, tcpFlags: 0x02 }));
  h.engine.flush();
  const a = h.out.filter((x) => x.kind === 'scan.hosts');
  t.same(scans(a), [[30, 'scanHostsThreshold']], 'raised at 25 failed hosts, the 5 after it counted');
  t.equal(a[0].firstSeen, new Date(T0).toISOString(), 'from the first failed attempt');
  t.match(a[0].message, /failed to connect \(no answer or reset\) to at least 25 distinct hosts within 5 min/);
});

t.test('slow: rejected (RST) and half-open (SYN-ACK, RST) attempts fail too; answered ones do not', async (t) => {
  const run = (rec: { packets: number; packetsRev: number; tcpFlags: number }) => {
    const h = harness();
    for (let i = 0; i < 25; i++) {
      const s = start({ dst: host(i + 1), dport: 80, time: T0 + i * 10_000 });
      h.engine.flowStart(s);
      h.engine.flowRecord(recordOf(s, { end: s.time + 5, ...rec }));
    }
    h.engine.flush();
    return scans(h.out).length;
  };
  t.equal(run({ packets: 1, packetsRev: 1, tcpFlags: 0x16 }), 1, 'SYN -> RST-ACK');
  t.equal(run({ packets: 2, packetsRev: 1, tcpFlags: 0x16 }), 1, 'SYN -> SYN-ACK -> RST');
  t.equal(run({ packets: 5, packetsRev: 4, tcpFlags: 0x1b }), 0, 'a finished connection');
  t.equal(run({ packets: 3, packetsRev: 2, tcpFlags: 0x16 }), 0, 'a connection reset after the handshake');
});

t.test('slow near miss: 24 failed hosts in 5 min; 40 failed hosts over 40 min', async (t) => {
  for (const [n, gap] of [[24, 10_000], [40, 60_000]]) {
    const h = harness();
    for (let i = 0; i < n; i++) {
      const s = start({ dst: host(i + 1), time: T0 + i * gap });
      h.engine.flowStart(s);
      h.engine.tick(s.time);
      h.engine.flowRecord(recordOf(s, { end: s.time + 3000, packets: 3, packetsRev: 0, bytesRev: 0, tcpFlags: 0x02 }));
    }
    h.engine.flush();
    t.same(scans(h.out), [], `${n} hosts, ${gap / 1000} s apart`);
  }
});

t.test('slow: NetFlow records (one-way) fail when the opener never ACKed', async (t) => {
  const h = harness();
  for (let i = 0; i < 25; i++) {
    const s = start({ dst: host(i + 1), time: T0 + i * 10_000, origin: 'netflow' });
    h.engine.flowStart(s);
    h.engine.flowRecord(recordOf(s, { packetsRev: 0, bytesRev: 0, tcpFlags: 0x02, origin: 'netflow' }));
  }
  const h2 = harness();
  for (let i = 0; i < 25; i++) {
    const s = start({ dst: host(i + 1), time: T0 + i * 10_000, origin: 'netflow' });
    h2.engine.flowStart(s);
    h2.engine.flowRecord(recordOf(s, { packetsRev: 0, bytesRev: 0, tcpFlags: 0x1a, origin: 'netflow' }));
  }
  h.engine.flush();
  h2.engine.flush();
  t.equal(scans(h.out).length, 1, 'SYN only');
  t.equal(scans(h2.out).length, 0, 'SYN, ACK, PSH: a connection');
});

t.test('fast: an outsider sweeping the watched segment', async (t) => {
  const h = harness();
  for (let i = 1; i <= 200; i++) {
    h.engine.flowStart(start({ src: '198.51.100.66', srcMac: '02:00:00:00:00:fe', dst: `192.168.50.${i}`, dstMac: DOORBELL_MAC, dport: 23, time: T0 + i }));
  }
  h.engine.flush();
  const s = h.out.filter((a) => a.kind === 'scan.hosts');
  t.equal(s.length, 1);
  t.match(s[0], { device: '198.51.100.66', profile: '', count: 200 });
  const hits = h.out.filter((a) => a.kind === 'protocol.plaintext');
  t.equal(hits.reduce((n, a) => n + a.count, 0), 5, 'clear-text hits before the scan was recognised stay; later ones fold into it');
});

t.test('fast: IPv6 sweep', async (t) => {
  const h = harness();
  for (let i = 1; i <= 100; i++) h.engine.flowStart(start({ src: DOORBELL_IP6, dst: `2001:db8:77::${i.toString(16)}`, dport: 80, time: T0 + i }));
  h.engine.flush();
  t.same(scans(h.out), [[100, 'scanHostsFastThreshold']]);
  t.equal(h.out.filter((a) => a.kind === 'policy.violation').length, 5, 'the 5 flows before the scan stay violations');
});

t.test('a scan that pauses longer than the window is over; the lifecycle decides whether it is a second anomaly', async (t) => {
  const sweep = (h: ReturnType<typeof harness>) => {
    for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1), dport: 80, time: T0 + i }));
    for (let i = 0; i < 100; i++) h.engine.flowStart(start({ dst: host(i + 1000), dport: 80, time: T0 + 400_000 + i }));
    h.engine.flush();
  };
  const h = harness();
  sweep(h);
  t.same(scans(h.out), [[200, 'scanHostsFastThreshold']], 'back before the idle time ran out: the same anomaly counts on');
  t.equal(h.out.filter((a) => a.kind === 'policy.violation').length, 10, 'each scan leaves its first five violations');
  const h2 = harness({ settings: { anomalyIdleMs: 60_000 } });
  sweep(h2);
  t.same(scans(h2.out), [[100, 'scanHostsFastThreshold'], [100, 'scanHostsFastThreshold']], 'quiet longer than the idle time: a second anomaly');
  const [a, b] = h2.out.filter((x) => x.kind === 'scan.hosts');
  t.not(a.id, b.id, 'with its own id');
  t.equal(a.closeReason, 'idle');
});

t.test('settings: a policy may slow the fast rule down', async (t) => {
  const h = harness({ settings: { scanHostsFastThreshold: 20, scanHostsFastWindowMs: 1000 } });
  for (let i = 0; i < 19; i++) h.engine.flowStart(start({ dst: host(i + 1), time: T0 + i * 10 }));
  t.same(h.first.filter((a) => a.kind === 'scan.hosts'), []);
  h.engine.flowStart(start({ dst: host(20), time: T0 + 190 }));
  h.engine.flush();
  t.same(scans(h.out), [[20, 'scanHostsFastThreshold']]);
});

t.test('memory stays bounded: tracked sources are capped', async (t) => {
  const h = harness({ settings: { scanMaxSources: 16 } });
  for (let i = 1; i <= 250; i++) h.engine.flowStart(start({ src: `192.168.50.${i}`, srcMac: '', dst: '203.0.113.5', dport: 443, time: T0 + i }));
  const st = h.engine.stats().scanHostsTracked;
  t.ok(st <= 16, `tracked ${st}`);
});
