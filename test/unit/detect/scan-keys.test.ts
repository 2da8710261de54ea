// ScanHosts and ScanPorts, keyed by addrKey(), against stated expectations: sweeps of known
// numbers of distinct hosts and ports fire exactly at the threshold with the count so far, then
// bump by one per new target; windows, idle ends, the per-source target cap, and the
// source / pair caps evict exactly what they say. Small settings so every edge is reachable.
import t from 'tap';
import type { AnomalyInit, Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { ScanHosts } from '../../../collector/detect/scan-hosts.js';
import { ScanPorts } from '../../../collector/detect/scan-ports.js';
import { defaultSettings } from '../../../collector/detect/settings.js';

const SETTINGS = {
  ...defaultSettings(), scanHostsThreshold: 6, scanPortsThreshold: 5, scanMaxSources: 3, scanMaxTargets: 8,
  scanHostsWindowMs: 4000, scanPortsWindowMs: 3000,
};
const T = 1_700_000_000_000;

/** Keeps reports and bumps; `open` says whether an aggregate still takes bumps. */
class LogReporter implements Reporter {
  readonly reports: { key: string; kind: string; time: number; lastSeen: number | undefined; count: number | undefined; peer: string }[] = [];
  readonly bumps: [string, number, number][] = [];
  open = true;
  report(init: AnomalyInit): string {
    const key = `k${this.reports.length}`;
    this.reports.push({ key, kind: init.kind, time: init.time, lastSeen: init.lastSeen, count: init.count, peer: init.peer ?? '' });
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
  const flow = (src: string, dst: string, time: number, dport = 80) => d.observe(src, dst, 'tcp', dport, time, subject(src));
  return { r, d, flow };
}

function ports() {
  const r = new LogReporter();
  const d = new ScanPorts(SETTINGS, r);
  const flow = (src: string, dst: string, dport: number, time: number) => d.observe(src, dst, 'tcp', dport, time, subject(src));
  return { r, d, flow };
}

const S = '192.168.50.10';
// six distinct host texts; "010.0.0.1" is not how a decoder spells 10.0.0.1, so it is another host
const SIX = ['10.0.0.1', '010.0.0.1', '2001:db8::5', '255.255.255.255', '0.0.0.0', '128.0.0.1'];

t.test('scan.hosts fires at exactly the sixth distinct host, with count 6', async (t) => {
  const { r, d, flow } = hosts();
  for (let i = 0; i < 5; i++) {
    t.equal(flow(S, SIX[i], T + i * 10), -1, `host ${i + 1}: not yet`);
    t.equal(d.raisedNow, false);
  }
  // repeats of known hosts, on other ports, count nothing; nor do other sources' flows
  for (let i = 0; i < 5; i++) t.equal(flow(S, SIX[i], T + 50 + i, 443 + i), -1, `host ${i + 1} again`);
  for (let i = 0; i < 5; i++) t.equal(flow('fd00:50::10', SIX[i], T + 60 + i), -1, 'another source');
  t.same(r.reports, []);
  t.equal(d.scanningSince(S, T + 99), -1);

  t.equal(flow(S, SIX[5], T + 100), T, 'the sixth host: scanning since the first flow');
  t.equal(d.raisedNow, true);
  t.same(r.reports, [{ key: 'k0', kind: 'scan.hosts', time: T, lastSeen: T + 100, count: 6, peer: '' }]);

  t.equal(flow(S, '10.0.0.2', T + 110), T, 'a seventh host');
  t.equal(d.raisedNow, false, 'raised once');
  t.equal(flow(S, SIX[0], T + 120), T, 'a known host: still scanning');
  t.equal(flow(S, '10.0.0.3', T + 130), T);
  t.same(r.bumps, [['k0', 1, T + 110], ['k0', 1, T + 130]], 'one bump per new host, none for a known one');
  t.equal(r.reports.length, 1);
  t.equal(d.scanningSince(S, T + 130), T);
  t.equal(d.scanningSince('fd00:50::10', T + 130), -1, 'five hosts: not scanning');
  t.equal(d.scanningSince('192.168.50.010', T + 130), -1, 'another text is another source');
  t.equal(d.tracked, 2);
});

t.test('scan.hosts: beyond scanMaxTargets (8) new hosts count without dedup', async (t) => {
  const { r, flow } = hosts();
  for (let i = 1; i <= 8; i++) flow(S, `10.0.0.${i}`, T + i);
  t.equal(r.reports[0].count, 6);
  t.equal(r.bumps.length, 2, 'hosts 7 and 8');
  flow(S, '10.0.0.9', T + 9);
  flow(S, '10.0.0.9', T + 10);
  t.equal(r.bumps.length, 4, 'a ninth host is not remembered: each of its flows counts');
  flow(S, '10.0.0.8', T + 11);
  flow(S, '10.0.0.1', T + 12);
  t.equal(r.bumps.length, 4, 'the eight remembered hosts do not');
});

t.test('scan.hosts window: 4000 ms from the first flow, inclusive', async (t) => {
  {
    const { r, flow } = hosts();
    for (let i = 0; i < 5; i++) flow(S, SIX[i], T);
    t.equal(flow(S, SIX[5], T + 4000), T, 'the sixth host 4000 ms later: the same window');
    t.equal(r.reports[0].count, 6);
  }
  {
    const { r, flow } = hosts();
    for (let i = 0; i < 5; i++) flow(S, SIX[i], T + i * 10);
    t.equal(flow(S, SIX[5], T + 4001), -1, '4001 ms after the first: a fresh window with one host');
    for (let i = 0; i < 4; i++) t.equal(flow(S, SIX[i], T + 4002 + i), -1, `fresh window: ${i + 2} hosts`);
    t.same(r.reports, []);
    t.equal(flow(S, SIX[4], T + 4010), T + 4001, 'six hosts in the fresh window');
    t.same(r.reports.map((x) => [x.time, x.count]), [[T + 4001, 6]]);
  }
});

t.test('scan.hosts: a scan ends after a window without flows; the next is a new one', async (t) => {
  const { r, d, flow } = hosts();
  for (let i = 0; i < 6; i++) flow(S, SIX[i], T + i);
  flow(S, '10.0.0.2', T + 3000);
  // windowStart T, last T + 3000: the scan outlives the window from its start while busy
  t.equal(flow(S, '10.0.0.3', T + 6000), T, 'busy: one scan past the first window');
  t.equal(d.scanningSince(S, T + 10_000), T, 'idle exactly one window: still scanning');
  t.equal(d.scanningSince(S, T + 10_001), -1, 'idle longer: over');
  t.equal(flow(S, '10.0.0.4', T + 10_001), -1, 'a flow after that opens a fresh window');
  t.same(r.bumps.map((b) => b[2]), [T + 3000, T + 6000]);
  t.equal(r.reports.length, 1);
});

t.test('scan.hosts: a bump the aggregate refuses starts a new record with count 1', async (t) => {
  const { r, flow } = hosts();
  for (let i = 0; i < 6; i++) flow(S, SIX[i], T + i);
  r.open = false;
  t.equal(flow(S, '10.0.0.2', T + 1000), T);
  t.same(r.reports.map((x) => [x.key, x.time, x.lastSeen, x.count]), [['k0', T, T + 5, 6], ['k1', T + 1000, T + 1000, 1]]);
  r.open = true;
  flow(S, '10.0.0.3', T + 1001);
  t.same(r.bumps, [['k0', 1, T + 1000], ['k1', 1, T + 1001]], 'later hosts bump the new record');
});

t.test('scan.hosts: at most scanMaxSources (3) sources; eviction spares running scans', async (t) => {
  {
    const { d, flow, r } = hosts();
    for (let i = 0; i < 6; i++) flow('192.168.50.1', SIX[i], T + i); // scanning
    for (let i = 0; i < 5; i++) flow('192.168.50.2', SIX[i], T + 10 + i); // five hosts
    flow('192.168.50.3', SIX[0], T + 20);
    t.equal(d.tracked, 3);
    flow('192.168.50.4', SIX[0], T + 30);
    t.equal(d.tracked, 3, 'a fourth source makes room');
    t.equal(d.scanningSince('192.168.50.1', T + 30), T, 'the running scan is kept');
    t.equal(flow('192.168.50.2', SIX[5], T + 40), -1, 'the oldest source below the threshold was forgotten: its sixth host is its first');
    t.equal(r.reports.length, 1);
    t.equal(d.tracked, 3);
  }
  {
    const { d, flow } = hosts();
    for (const s of ['192.168.50.1', '192.168.50.2', '192.168.50.3']) for (let i = 0; i < 6; i++) flow(s, SIX[i], T + i);
    flow('192.168.50.4', SIX[0], T + 10);
    t.equal(d.tracked, 3, 'all three scanning: the oldest goes all the same');
    t.equal(d.scanningSince('192.168.50.1', T + 10), -1);
    t.equal(d.scanningSince('192.168.50.2', T + 10), T);
  }
  {
    const { d, flow } = hosts();
    flow('192.168.50.1', SIX[0], T);
    flow('192.168.50.2', SIX[0], T + 1);
    flow('192.168.50.3', SIX[0], T + 4002);
    flow('192.168.50.4', SIX[0], T + 4002);
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

t.test('scan.ports fires at exactly the fifth distinct port of one host, with count 5', async (t) => {
  const { r, d, flow } = ports();
  t.equal(flow(S, D, 1, T), -1);
  t.equal(d.tracked, 1, 'the first flow of a pair opens it');
  for (let p = 2; p <= 4; p++) t.equal(flow(S, D, p, T + p), -1, `port ${p}`);
  t.equal(flow(S, D, 1, T + 5), -1, 'the first port again');
  t.equal(flow(S, D, 3, T + 6), -1, 'another known port again');
  for (let p = 1; p <= 4; p++) flow(S, '2001:db8::30', p, T + 10 + p);
  for (let p = 1; p <= 4; p++) flow('192.168.50.11', D, p, T + 20 + p);
  t.same(r.reports, [], 'four ports each: other targets and other sources count apart');
  t.equal(d.tracked, 3);

  t.equal(flow(S, D, 5, T + 100), T, 'the fifth port');
  t.equal(d.raisedNow, true);
  t.same(r.reports, [{ key: 'k0', kind: 'scan.ports', time: T, lastSeen: T + 100, count: 5, peer: D }]);
  t.equal(flow(S, D, 6, T + 110), T);
  t.equal(d.raisedNow, false);
  t.equal(flow(S, D, 6, T + 120), T, 'a known port');
  t.equal(flow(S, D, 1, T + 130), T, 'the first port');
  t.same(r.bumps, [['k0', 1, T + 110]]);
  t.equal(d.scanningSince(S, D, T + 130), T);
  t.equal(d.scanningSince(S, '2001:db8::30', T + 130), -1);
  t.equal(d.scanningSince(S, D, T + 3130), T, 'idle one window: still scanning');
  t.equal(d.scanningSince(S, D, T + 3131), -1);
});

t.test('scan.ports: 8 ports remembered per pair, then each new-port flow counts', async (t) => {
  const { r, flow } = ports();
  for (let p = 1; p <= 8; p++) flow(S, D, p, T + p);
  t.equal(r.reports[0].count, 5);
  t.equal(r.bumps.length, 3);
  flow(S, D, 9, T + 9);
  flow(S, D, 9, T + 10);
  flow(S, D, 8, T + 11);
  t.equal(r.bumps.length, 5);
});

t.test('scan.ports window: 3000 ms from the first flow, inclusive', async (t) => {
  {
    const { r, flow } = ports();
    for (let p = 1; p <= 4; p++) flow(S, D, p, T);
    t.equal(flow(S, D, 5, T + 3000), T);
    t.equal(r.reports.length, 1);
  }
  {
    const { r, flow } = ports();
    for (let p = 1; p <= 4; p++) flow(S, D, p, T);
    t.equal(flow(S, D, 5, T + 3001), -1, 'a fresh window, port 5 its first');
    for (let p = 1; p <= 3; p++) t.equal(flow(S, D, p, T + 3001 + p), -1);
    t.equal(flow(S, D, 4, T + 3010), T + 3001, 'five ports in the fresh window');
    t.same(r.reports.map((x) => [x.time, x.count]), [[T + 3001, 5]]);
  }
});

t.test('scan.ports: at most 16 pairs per tracked source (48); eviction spares running scans', async (t) => {
  const { d, flow, r } = ports();
  for (let p = 1; p <= 5; p++) flow(S, 'fd00:1::1', p, T); // pair 0: scanning
  for (let i = 1; i < 48; i++) flow(S, `10.0.1.${i}`, 1, T + i);
  t.equal(d.tracked, 48);
  flow(S, '10.0.2.1', 1, T + 100);
  t.equal(d.tracked, 43, 'the oldest eighth (6) below the threshold goes, then the new pair');
  t.equal(d.scanningSince(S, 'fd00:1::1', T + 100), T, 'the running scan is kept');
  for (let p = 2; p <= 4; p++) flow(S, '10.0.1.6', p, T + 100 + p);
  t.equal(flow(S, '10.0.1.6', 5, T + 105), -1, 'the sixth pair was forgotten: four ports since');
  t.equal(flow(S, '10.0.1.7', 2, T + 106), -1);
  t.equal(r.reports.length, 1);
  t.equal(d.tracked, 44, 'the forgotten pair is back');
  // last flows: the scan T, pairs 8..47 T + i, 10.0.2.1 T + 100, 10.0.1.6 T + 105, 10.0.1.7 T + 106
  d.tick(T + 3046);
  t.equal(d.tracked, 5, 'a sweep drops the pairs idle longer than a window (the scan and pairs 8..45)');
  d.tick(T + 4545);
  t.equal(d.tracked, 5, 'sweeps run every half window');
  d.tick(T + 4546);
  t.equal(d.tracked, 0);
});
