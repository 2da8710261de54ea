// ScanHosts and ScanPorts, keyed by addrKey(), against stated expectations: the fast rule
// (attempts to distinct new targets within the fast window) and the slow rule (failed attempts
// within the window) fire exactly at their thresholds with the count so far, then bump by one
// per new target; windows, idle ends, the per-source target cap, and the source / pair caps
// evict exactly what they say; failedAttempt() tells failed records from answered ones.
// Small settings so every edge is reachable.
import t from 'tap';
import type { AnomalyInit, Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { ScanHosts } from '../../../collector/detect/scan-hosts.js';
import { PAIRS_PER_SOURCE, ScanPorts } from '../../../collector/detect/scan-ports.js';
import { defaultSettings } from '../../../collector/detect/settings.js';
import { failedAttempt } from '../../../collector/detect/scan-detector.js';
import type { FlowRecord } from '../../../collector/types.js';

const SETTINGS = {
  ...defaultSettings(), scanMaxSources: 3, scanMaxTargets: 8,
  scanHostsFastThreshold: 4, scanHostsFastWindowMs: 1000, scanHostsThreshold: 3, scanHostsWindowMs: 4000,
  scanPortsFastThreshold: 4, scanPortsFastWindowMs: 1000, scanPortsThreshold: 3, scanPortsWindowMs: 3000,
};
const T = 1_700_000_000_000;

/** Keeps reports and bumps; `open` says whether an aggregate still takes bumps. */
class LogReporter implements Reporter {
  readonly reports: { key: string; kind: string; time: number; lastSeen: number | undefined; count: number | undefined; peer: string; rule: string }[] = [];
  readonly bumps: [string, number, number][] = [];
  open = true;
  report(init: AnomalyInit): string {
    const key = `k${this.reports.length}`;
    this.reports.push({ key, kind: init.kind, time: init.time, lastSeen: init.lastSeen, count: init.count, peer: init.peer ?? '', rule: init.rule ?? '' });
    return key;
  }
  bump(key: string, count: number, time: number): boolean {
    this.bumps.push([key, count, time]);
    return this.open;
  }
  addTraffic(): boolean {
    return this.open;
  }
}

const subject = (ip: string) => (): Subject => ({ device: `dev-${ip}`, mac: '', ip, segment: 'iot', profile: 'p' });

function hosts() {
  const r = new LogReporter();
  const d = new ScanHosts(SETTINGS, r);
  /** an attempt (bare SYN) unless told otherwise */
  const flow = (src: string, dst: string, time: number, o: { attempt?: boolean; named?: boolean } = {}) =>
    d.observe(src, dst, 'tcp', 80, time, o.attempt ?? true, subject(src), () => o.named ?? false);
  const fail = (src: string, dst: string, time: number, seen = time) => d.failed(src, dst, 'tcp', 80, time, seen, subject(src));
  return { r, d, flow, fail };
}

function ports() {
  const r = new LogReporter();
  const d = new ScanPorts(SETTINGS, r);
  const flow = (src: string, dst: string, dport: number, time: number, attempt = true) => d.observe(src, dst, 'tcp', dport, time, attempt, subject(src));
  const fail = (src: string, dst: string, dport: number, time: number) => d.failed(src, dst, 'tcp', dport, time, time, subject(src));
  return { r, d, flow, fail };
}

const S = '192.168.50.10';
// four distinct host texts; "010.0.0.1" is not how a decoder spells 10.0.0.1, so it is another host
const FOUR = ['10.0.0.1', '010.0.0.1', '2001:db8::5', '128.0.0.1'];

t.test('scan.hosts fast rule: exactly the fourth new host attempted within 1000 ms, count 4', async (t) => {
  const { r, d, flow } = hosts();
  for (let i = 0; i < 3; i++) {
    t.equal(flow(S, FOUR[i], T + i * 10), -1, `host ${i + 1}: not yet`);
    t.equal(d.raisedNow, false);
  }
  // none of these is a new attempted host of S
  t.equal(flow(S, FOUR[0], T + 50), -1, 'a known host again');
  t.equal(flow(S, '10.9.9.1', T + 51, { attempt: false }), -1, 'not a SYN (mid-flow, UDP)');
  t.equal(flow(S, '10.9.9.2', T + 52, { named: true }), -1, 'a host S looked up');
  for (let i = 0; i < 3; i++) t.equal(flow('fd00:50::10', FOUR[i], T + 60 + i), -1, 'another source');
  t.same(r.reports, []);
  t.equal(d.scanningSince(S, T + 99), -1);

  t.equal(flow(S, FOUR[3], T + 1000), T, 'the fourth host 1000 ms after the first: scanning since then');
  t.equal(d.raisedNow, true);
  t.same(r.reports, [{ key: 'k0', kind: 'scan.hosts', time: T, lastSeen: T + 1000, count: 4, peer: '', rule: 'scanHostsFastThreshold' }]);

  t.equal(flow(S, '10.9.9.1', T + 1010, { attempt: false }), T, 'while scanning every flow counts: a new host');
  t.equal(d.raisedNow, false, 'raised once');
  t.equal(flow(S, FOUR[0], T + 1020), T, 'a known host: still scanning');
  t.equal(flow(S, '10.9.9.2', T + 1030, { named: true }), T, 'the host it looked up before: part of the scan');
  t.equal(flow(S, '10.9.9.3', T + 1040, { named: true }), T, 'a new looked-up host');
  t.same(r.bumps, [['k0', 1, T + 1010], ['k0', 1, T + 1040]], 'one bump per new host, none for a known one or the host looked up before');
  t.equal(r.reports.length, 1);
  t.equal(d.scanningSince(S, T + 1030), T);
  t.equal(d.scanningSince('fd00:50::10', T + 1030), -1, 'three hosts: not scanning');
  t.equal(d.scanningSince('192.168.50.010', T + 1030), -1, 'another text is another source');
  t.equal(d.tracked, 2);
});

t.test('scan.hosts fast window: 1001 ms after its start a new one begins', async (t) => {
  const { r, flow } = hosts();
  for (let i = 0; i < 3; i++) flow(S, FOUR[i], T + i);
  t.equal(flow(S, FOUR[3], T + 1001), -1, 'a fresh fast window with one host');
  for (let i = 0; i < 2; i++) t.equal(flow(S, `10.1.0.${i}`, T + 1002 + i), -1);
  t.same(r.reports, []);
  t.equal(flow(S, '10.1.0.9', T + 2001), T + 1001, 'four new hosts within the fresh window');
  t.same(r.reports.map((x) => [x.time, x.count]), [[T + 1001, 7]], 'the scan counts every host tried in the slow window');
});

t.test('scan.hosts slow rule: the third host whose attempt failed within 4000 ms, count 3', async (t) => {
  const { r, d, flow, fail } = hosts();
  t.equal(flow(S, '10.0.0.1', T), -1);
  flow(S, '10.0.0.2', T + 5000); // tried, not failed (yet)
  fail(S, '10.0.0.1', T + 100, T + 6000);
  fail(S, '10.0.0.1', T + 200, T + 6001);
  fail(S, '10.0.0.3', T + 300, T + 6002);
  t.same(r.reports, [], 'two distinct failed hosts');
  fail(S, '10.0.0.4', T + 4100, T + 6003);
  t.equal(d.raisedNow, true);
  t.same(r.reports, [{ key: 'k0', kind: 'scan.hosts', time: T + 100, lastSeen: T + 6003, count: 3, peer: '', rule: 'scanHostsThreshold' }], 'from the first failed attempt');
  fail(S, '10.0.0.3', T + 400, T + 6004);
  t.same(r.bumps, [], 'a counted host again');
  fail(S, '10.0.0.2', T + 5000, T + 6005);
  t.equal(flow(S, '10.0.0.5', T + 6006), T + 100, 'scanning since the first failure');
  t.same(r.bumps, [['k0', 1, T + 6005], ['k0', 1, T + 6006]], 'a host tried before and failing now counts; so does a new one');
});

t.test('scan.hosts slow window: a failure 4001 ms after the first starts afresh', async (t) => {
  const { r, fail } = hosts();
  fail(S, '10.0.0.1', T);
  fail(S, '10.0.0.2', T + 1);
  fail(S, '10.0.0.3', T + 4001);
  t.same(r.reports, []);
  fail(S, '10.0.0.4', T + 4002);
  fail(S, '10.0.0.5', T + 4003);
  t.same(r.reports.map((x) => [x.time, x.count]), [[T + 4001, 3]]);
});

t.test('scan.hosts: beyond scanMaxTargets (8) new hosts count without dedup', async (t) => {
  const { r, flow } = hosts();
  for (let i = 1; i <= 8; i++) flow(S, `10.0.0.${i}`, T + i);
  t.equal(r.reports[0].count, 4);
  t.equal(r.bumps.length, 4, 'hosts 5 to 8');
  flow(S, '10.0.0.9', T + 9);
  flow(S, '10.0.0.9', T + 10);
  t.equal(r.bumps.length, 6, 'a ninth host is not remembered: each of its flows counts');
  flow(S, '10.0.0.8', T + 11);
  flow(S, '10.0.0.1', T + 12);
  t.equal(r.bumps.length, 6, 'the eight remembered hosts do not');
});

t.test('scan.hosts: a scan ends after a slow window without flows; the next is a new one', async (t) => {
  const { r, d, flow } = hosts();
  for (let i = 0; i < 4; i++) flow(S, FOUR[i], T + i);
  flow(S, '10.0.0.2', T + 3000);
  t.equal(flow(S, '10.0.0.3', T + 6000), T, 'busy: one scan past the first window');
  t.equal(d.scanningSince(S, T + 10_000), T, 'idle exactly one window: still scanning');
  t.equal(d.scanningSince(S, T + 10_001), -1, 'idle longer: over');
  t.equal(flow(S, '10.0.0.4', T + 10_001), -1, 'a flow after that is a first attempt again');
  t.same(r.bumps.map((b) => b[2]), [T + 3000, T + 6000]);
  t.equal(r.reports.length, 1);
});

t.test('scan.hosts: a bump the aggregate refuses starts a new record with count 1, same rule', async (t) => {
  const { r, flow } = hosts();
  for (let i = 0; i < 4; i++) flow(S, FOUR[i], T + i);
  r.open = false;
  t.equal(flow(S, '10.0.0.2', T + 1000), T);
  t.same(r.reports.map((x) => [x.key, x.time, x.lastSeen, x.count, x.rule]), [['k0', T, T + 3, 4, 'scanHostsFastThreshold'], ['k1', T + 1000, T + 1000, 1, 'scanHostsFastThreshold']]);
  r.open = true;
  flow(S, '10.0.0.3', T + 1001);
  t.same(r.bumps, [['k0', 1, T + 1000], ['k1', 1, T + 1001]], 'later hosts bump the new record');
});

t.test('scan.hosts: at most scanMaxSources (3) sources; eviction spares running scans', async (t) => {
  {
    const { d, flow, r } = hosts();
    for (let i = 0; i < 4; i++) flow('192.168.50.1', FOUR[i], T + i); // scanning
    for (let i = 0; i < 3; i++) flow('192.168.50.2', FOUR[i], T + 10 + i); // three hosts
    flow('192.168.50.3', FOUR[0], T + 20);
    t.equal(d.tracked, 3);
    t.equal(flow('192.168.50.9', FOUR[0], T + 25, { attempt: false }), -1);
    t.equal(d.tracked, 3, 'a source with no attempt is not tracked');
    flow('192.168.50.4', FOUR[0], T + 30);
    t.equal(d.tracked, 3, 'a fourth source makes room');
    t.equal(d.scanningSince('192.168.50.1', T + 30), T, 'the running scan is kept');
    t.equal(flow('192.168.50.2', FOUR[3], T + 40), -1, 'the oldest source not scanning was forgotten: its fourth host is its first');
    t.equal(r.reports.length, 1);
    t.equal(d.tracked, 3);
  }
  {
    const { d, flow } = hosts();
    for (const s of ['192.168.50.1', '192.168.50.2', '192.168.50.3']) for (let i = 0; i < 4; i++) flow(s, FOUR[i], T + i);
    flow('192.168.50.4', FOUR[0], T + 10);
    t.equal(d.tracked, 3, 'all three scanning: the oldest goes all the same');
    t.equal(d.scanningSince('192.168.50.1', T + 10), -1);
    t.equal(d.scanningSince('192.168.50.2', T + 10), T);
  }
  {
    const { d, flow } = hosts();
    flow('192.168.50.1', FOUR[0], T);
    flow('192.168.50.2', FOUR[0], T + 1);
    flow('192.168.50.3', FOUR[0], T + 4002);
    flow('192.168.50.4', FOUR[0], T + 4002);
    t.equal(d.tracked, 2, 'idle sources are dropped first, all of them');
    d.tick(T + 8002);
    t.equal(d.tracked, 2, 'a sweep keeps sources active within the window');
    d.tick(T + 8003);
    t.equal(d.tracked, 2, 'sweeps run every half window');
    d.tick(T + 10_002);
    t.equal(d.tracked, 0, 'the next sweep drops them');
  }
});

const D = '192.168.1.30';

t.test('scan.ports fast rule: exactly the fourth port of one host attempted within 1000 ms, count 4', async (t) => {
  const { r, d, flow } = ports();
  t.equal(flow(S, D, 1, T), -1);
  t.equal(d.tracked, 1, 'the first attempt of a pair opens it');
  t.equal(flow(S, '10.7.7.7', 1, T, false), -1);
  t.equal(d.tracked, 1, 'a flow that is no attempt does not');
  for (let p = 2; p <= 3; p++) t.equal(flow(S, D, p, T + p), -1, `port ${p}`);
  t.equal(flow(S, D, 1, T + 5), -1, 'the first port again');
  t.equal(flow(S, D, 9, T + 6, false), -1, 'not an attempt');
  for (let p = 1; p <= 3; p++) flow(S, '2001:db8::30', p, T + 10 + p);
  for (let p = 1; p <= 3; p++) flow('192.168.50.11', D, p, T + 20 + p);
  t.same(r.reports, [], 'three ports each: other targets and other sources count apart');
  t.equal(d.tracked, 3);

  t.equal(flow(S, D, 4, T + 1000), T, 'the fourth port');
  t.equal(d.raisedNow, true);
  t.same(r.reports, [{ key: 'k0', kind: 'scan.ports', time: T, lastSeen: T + 1000, count: 4, peer: D, rule: 'scanPortsFastThreshold' }]);
  t.equal(flow(S, D, 5, T + 1010, false), T, 'while scanning any flow to a new port counts');
  t.equal(d.raisedNow, false);
  t.equal(flow(S, D, 5, T + 1020), T, 'a known port');
  t.equal(flow(S, D, 1, T + 1030), T, 'the first port');
  t.same(r.bumps, [['k0', 1, T + 1010]]);
  t.equal(d.scanningSince(S, D, T + 4030), T, 'idle one window: still scanning');
  t.equal(d.scanningSince(S, D, T + 4031), -1);
  t.equal(d.scanningSince(S, '2001:db8::30', T + 1030), -1);
});

t.test('scan.ports fast window: tumbling, 1001 ms after its start a new one begins', async (t) => {
  const { r, flow } = ports();
  for (let p = 1; p <= 3; p++) flow(S, D, p, T);
  t.equal(flow(S, D, 4, T + 1001), -1);
  for (let p = 5; p <= 6; p++) t.equal(flow(S, D, p, T + 1001 + p), -1);
  t.equal(flow(S, D, 7, T + 2001), T + 1001, 'four new ports in the fresh window');
  t.same(r.reports.map((x) => [x.time, x.count]), [[T + 1001, 7]]);
});

t.test('scan.ports slow rule: the third port of one host whose attempt failed, count 3', async (t) => {
  const { r, d, flow, fail } = ports();
  flow(S, D, 1, T);
  flow(S, D, 2, T + 2000);
  fail(S, D, 1, T + 100);
  fail(S, D, 1, T + 101);
  fail(S, '10.7.7.7', 3, T + 102);
  fail(S, D, 3, T + 200);
  t.same(r.reports, []);
  fail(S, D, 4, T + 3000);
  t.equal(d.raisedNow, true);
  t.same(r.reports, [{ key: 'k0', kind: 'scan.ports', time: T + 100, lastSeen: T + 3000, count: 3, peer: D, rule: 'scanPortsThreshold' }]);
  fail(S, D, 2, T + 3001);
  t.equal(flow(S, D, 3, T + 3002), T + 100);
  t.same(r.bumps, [['k0', 1, T + 3001]], 'the tried port failing counts; a counted one does not');
  fail(S, '10.7.7.7', 4, T + 3500);
  fail(S, '10.7.7.7', 5, T + 3501);
  t.equal(r.reports.length, 1, 'a failure 3001+ ms after the first opens a fresh window');
});

t.test('scan.ports: 8 ports remembered per pair, then each new-port flow counts', async (t) => {
  const { r, flow } = ports();
  for (let p = 1; p <= 8; p++) flow(S, D, p, T + p);
  t.equal(r.reports[0].count, 4);
  t.equal(r.bumps.length, 4);
  flow(S, D, 9, T + 9);
  flow(S, D, 9, T + 10);
  flow(S, D, 8, T + 11);
  t.equal(r.bumps.length, 6);
});

t.test(`scan.ports: at most ${PAIRS_PER_SOURCE} pairs per tracked source (${3 * PAIRS_PER_SOURCE}); eviction spares running scans`, async (t) => {
  const { d, flow, r } = ports();
  const cap = 3 * PAIRS_PER_SOURCE;
  for (let p = 1; p <= 4; p++) flow(S, 'fd00:1::1', p, T); // pair 0: scanning
  for (let i = 1; i < cap; i++) flow(S, `10.0.1.${i}`, 1, T + i);
  t.equal(d.tracked, cap);
  flow(S, '10.0.2.1', 1, T + 100);
  t.equal(d.tracked, cap, 'one pair goes for the new one');
  t.equal(d.evicted, 1, 'and is counted');
  t.equal(d.scanningSince(S, 'fd00:1::1', T + 100), T, 'the running scan is kept (passed over)');
  for (let p = 2; p <= 3; p++) flow(S, '10.0.1.1', p, T + 100 + p);
  t.equal(flow(S, '10.0.1.1', 4, T + 105), -1, 'the first pair not scanning was forgotten: three ports since');
  t.equal(r.reports.length, 1);
  t.equal(d.tracked, cap, 'still at the cap: its return pushed the next one out');
  t.equal(d.evicted, 2);
  t.equal(d.scanningSince(S, 'fd00:1::1', T + 105), T, 'the scan moved to the back, so it is kept again');
  d.tick(T + 100_000);
  t.equal(d.tracked, 0, 'a sweep drops the idle pairs');
});

t.test('failedAttempt: which flow records are failed connection attempts', async (t) => {
  const rec = (r: Partial<FlowRecord>): FlowRecord => ({
    id: 1, start: T, end: T + 1, proto: 'tcp', src: S, sport: 40000, dst: D, dport: 23, packets: 1, bytes: 60,
    packetsRev: 0, bytesRev: 0, srcMac: '', dstMac: '', vlan: 0, tcpFlags: 0x02, origin: 'pcap', exporter: '', final: true, ...r,
  });
  t.equal(failedAttempt(rec({})), true, 'a SYN, nothing back');
  t.equal(failedAttempt(rec({ packets: 3 })), true, 'SYN retransmitted, nothing back');
  t.equal(failedAttempt(rec({ packetsRev: 1, tcpFlags: 0x16 })), true, 'rejected: RST-ACK');
  t.equal(failedAttempt(rec({ packets: 2, packetsRev: 1, tcpFlags: 0x16 })), true, 'half-open: SYN-ACK, then the opener\'s RST');
  t.equal(failedAttempt(rec({ packets: 3, packetsRev: 1, tcpFlags: 0x12 })), false, 'answered, no reset (the record of a live flow)');
  t.equal(failedAttempt(rec({ packets: 6, packetsRev: 5, tcpFlags: 0x1f })), false, 'a connection that ended in a reset');
  t.equal(failedAttempt(rec({ tcpFlags: 0x10 })), false, 'no SYN seen: begun before the capture');
  t.equal(failedAttempt(rec({ proto: 'udp', tcpFlags: 0 })), false, 'UDP');
  t.equal(failedAttempt(rec({ origin: 'netflow', packetsRev: 0, tcpFlags: 0x02 })), true, 'exporter: SYN without ACK');
  t.equal(failedAttempt(rec({ origin: 'ipfix', packetsRev: 0, tcpFlags: 0x1b })), false, 'exporter: a handshake that completed');
});
