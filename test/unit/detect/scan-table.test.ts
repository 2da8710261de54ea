// The scan detectors' flat state (scan-table.ts): KeySet (hosts of a source) and PairTable
// ((source, target) pairs), checked against a Map/Set model, and ScanPorts' eviction order
// and idle sweep through it.
import t, { type Test } from 'tap';
import { HostSet, KeySet, PairTable } from '../../../collector/detect/scan-table.js';
import { ScanPorts } from '../../../collector/detect/scan-ports.js';
import { ScanHosts } from '../../../collector/detect/scan-hosts.js';
import type { AnomalyInit, Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { defaultSettings } from '../../../collector/detect/settings.js';
import { addrKey } from '../../../collector/inventory/addr-key.js';

/** a fixed-seed generator (xorshift32: its low bits vary too, unlike an LCG's): the same sequence every run */
function rng(seed: number): () => number {
  let x = seed | 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

t.test('KeySet: 0, negative and string keys, no duplicates, insertion order', async (t) => {
  const s = new KeySet();
  for (const k of [0, -1, addrKey('255.255.255.255'), addrKey('10.0.0.1'), '2001:db8::5', 0, '2001:db8::5', 7, '', -2147483648]) s.add(k);
  t.equal(s.size, 7, 'duplicates are not added');
  t.ok(s.has(0), 'key 0 is a key');
  t.ok(s.has(-1) && s.has(-2147483648) && s.has(7) && s.has(''));
  t.ok(s.has('2001:db8::5'));
  t.notOk(s.has(1));
  t.notOk(s.has('0'), 'the text "0" is not the number 0');
  t.notOk(s.add(7), 'add() says the key was there');
  const order: (number | string)[] = [];
  s.forEach((k) => order.push(k));
  t.same(order, [0, -1, addrKey('10.0.0.1'), '2001:db8::5', 7, '', -2147483648], 'as a Set would');
  s.clear();
  t.equal(s.size, 0);
  t.notOk(s.has(0) || s.has('2001:db8::5') || s.has(7));
  s.add('x');
  s.add(0);
  const after: (number | string)[] = [];
  s.forEach((k) => after.push(k));
  t.same(after, ['x', 0], 'usable again after clear');
});

/**
 * Adds n keys (keyOf(i)) to the set and to a Set, checking add()'s answer each time; then every
 * key of the model must be found and none of absentOf(0..9,999) (keys never added).
 */
function againstModel(t: Test, s: { add(k: number | string): boolean; has(k: number | string): boolean; readonly size: number },
  n: number, keyOf: (i: number) => number | string, absentOf: (i: number) => number | string, model = new Set<number | string>()): Set<number | string> {
  let added = true;
  for (let i = 0; i < n; i++) {
    const k = keyOf(i);
    if (s.add(k) !== !model.has(k)) added = false;
    model.add(k);
  }
  t.ok(added, 'add() true exactly for a new key');
  t.equal(s.size, model.size);
  let same = true;
  for (const k of model) if (!s.has(k)) same = false;
  for (let i = 0; i < 10_000; i++) if (s.has(absentOf(i))) same = false;
  t.ok(same, 'every key found, none invented');
  return model;
}

t.test('KeySet: grows by doubling to 200,000 keys, the same as a Set, clear drops the big table', async (t) => {
  const s = new KeySet(), next = rng(7);
  // neighbouring addresses (a sweep), random ones, and now and then an IPv6 text
  const model = againstModel(t, s, 200_000, (i) => i % 3 === 0 ? addrKey(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) : i % 1000 === 1 ? `2001:db8::${i.toString(16)}` : next() | 0,
    (i) => `2001:db9::${i}`);
  const order: (number | string)[] = [];
  s.forEach((k) => order.push(k));
  t.same(order, [...model], 'insertion order, strings merged in their place');
  s.clear();
  t.equal(s.size, 0);
  t.equal((s as unknown as { keys: Int32Array }).keys.length, 8, 'the big table went');
});

t.test('HostSet: 0, negative and string keys; 300,000 keys the same as a Set; clear drops the big table', async (t) => {
  const s = new HostSet(), model = new Set<number | string>(), next = rng(99);
  for (const k of [0, 0, -1, '', '0', -2147483648, 2147483647]) t.equal(s.add(k), !model.has(k), `add(${JSON.stringify(k)})`), model.add(k);
  t.equal(s.size, 6);
  t.ok(s.has(0) && s.has('0') && s.has('') && s.has(-1) && s.has(-2147483648) && s.has(2147483647));
  t.notOk(s.has(1) || s.has('1') || s.has(-2));
  againstModel(t, s, 300_000, (i) => i % 2 === 0 ? addrKey(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`) : i % 999 === 1 ? `2001:db8::${i.toString(16)}` : next() % 500_000 - 250_000,
    (i) => (i % 2 === 0 ? 250_000 + i : `2001:db9::${i}`), model);
  t.ok((s as unknown as { table: Int32Array }).table.length <= 2 * 524_288, 'at most 8 bytes a key');
  s.clear();
  t.equal(s.size, 0);
  t.notOk(s.has(0) || s.has(-1) || s.has(''));
  t.equal((s as unknown as { table: Int32Array }).table.length, 16, 'the big table went');
});

t.test('PairTable: collisions, removals and index rebuilds, against a Map', async (t) => {
  // 64 slots in a 128-entry index, keys from a small range: long probe runs, many wrap-arounds
  const tab = new PairTable(64, undefined, 64), model = new Map<string, number>(), next = rng(42);
  const keyOf = (n: number): number | string => (n % 5 === 0 ? `fd00::${n}` : n - 6);
  let ok = true, removed = 0;
  for (let step = 0; step < 50_000; step++) {
    const a = keyOf(next() % 12), b = keyOf(next() % 12), name = `${typeof a}${a}|${typeof b}${b}`;
    const slot = tab.find(a, b);
    if ((slot >= 0) !== model.has(name) || (slot >= 0 && slot !== model.get(name))) ok = false;
    if (slot >= 0 && next() % 2 === 0) {
      tab.remove(slot);
      model.delete(name);
      removed++;
    } else if (slot < 0 && tab.count < 64) model.set(name, tab.insert(a, b));
    if (tab.count !== model.size) ok = false;
  }
  t.ok(ok, 'find, insert and remove agree with the model at every step');
  t.ok(model.size > 30, 'the table ran full most of the time');
  t.ok(removed > 5000, `many removals (${removed})`);
  for (const [name, slot] of model) {
    const [a, b] = name.split('|').map((x) => (x.startsWith('number') ? Number(x.slice(6)) : x.slice(6)));
    if (tab.find(a, b) !== slot) ok = false;
  }
  t.ok(ok, 'every pair left is found at its slot');
});

t.test('PairTable: number and text keys never meet; order = first seen; growth keeps slots', async (t) => {
  const grown: number[] = [];
  const tab = new PairTable(1000, (n) => grown.push(n), 2);
  const a = tab.insert(1, 2), b = tab.insert('1', 2), c = tab.insert(1, '2'), d = tab.insert('2001:db8::1', '2001:db8::2');
  t.same([tab.find(1, 2), tab.find('1', 2), tab.find(1, '2'), tab.find('2001:db8::1', '2001:db8::2')], [a, b, c, d]);
  t.equal(tab.find(2, 1), -1, 'a pair has a direction');
  t.equal(tab.find('2001:db8::2', '2001:db8::1'), -1);
  const slots = [a, b, c, d];
  for (let i = 0; i < 996; i++) slots.push(tab.insert(i, -i));
  t.same(grown, [4, 8, 16, 32, 64, 128, 256, 512, 1000], 'doubles up to the most');
  t.throws(() => tab.insert(5, 5), /full/);
  t.equal(tab.find(1, 2), a, 'slots stay where they were through growth');
  t.equal(tab.find(995, -995), slots[999]);
  tab.remove(b);
  tab.moveToBack(a);
  const order: number[] = [];
  for (let s = tab.head; s >= 0; s = tab.next(s)) order.push(s);
  t.same(order, [c, d, ...slots.slice(4), a], 'first seen first; a removed pair leaves; one moved goes last');
  t.equal(tab.find('1', 2), -1);
  const e = tab.insert('1', 2);
  t.equal(e, b, 'a freed slot is reused');
  t.equal(tab.tail, e);
});

class Recorder implements Reporter {
  reports: AnomalyInit[] = [];
  bumps = 0;
  report(init: AnomalyInit): string { this.reports.push(init); return `k${this.reports.length - 1}`; }
  bump(): boolean { this.bumps++; return true; }
  addTraffic(): boolean { return true; }
}
const T = 1_700_000_000_000;
const sub = (): Subject => ({ device: 'd', mac: '', ip: '10.0.0.9', segment: 'iot', profile: 'p' });
const SRC6 = '2001:db8::9';

/** three pairs seen, then the first port-scans its target (10 ports in 2 s), then three new pairs at a cap of 3 */
function churned(src: string): ScanPorts {
  const d = new ScanPorts(defaultSettings(), new Recorder(), 3);
  for (const dst of ['h1', 'h2', 'h3']) d.observe(src, dst, 'tcp', 1, T, true, sub);
  for (let p = 2; p <= 10; p++) d.observe(src, 'h1', 'tcp', p, T + p, true, sub);
  for (const dst of ['h4', 'h5', 'h6']) d.observe(src, dst, 'tcp', 1, T + 100, true, sub);
  return d;
}
/** the pair is still remembered: 9 more ports fire the fast rule only with its first one kept */
function remembered(d: ScanPorts, src: string, dst: string, at = T + 200): boolean {
  let r = -1;
  for (let p = 2; p <= 10; p++) r = d.observe(src, dst, 'tcp', p, at + p, true, sub);
  return r >= 0;
}

for (const src of ['10.0.0.9', SRC6]) {
  t.test(`ScanPorts at its cap (${src}): the first seen not scanning goes; a scanning one goes to the back`, async (t) => {
    const d = churned(src);
    t.equal(d.tracked, 3);
    t.equal(d.evicted, 3);
    t.equal(d.scanningSince(src, 'h1', T + 100), T, 'the port scan survives, from its first port');
    // after h4: [h3 h1 h4] (h1 passed over, h2 went); h5: h3 goes; h6: h1 passed over again, h4 goes
    const kept = ['h2', 'h3', 'h4', 'h5', 'h6'].filter((h) => remembered(churned(src), src, h));
    t.same(kept, ['h5', 'h6']);
  });
}

t.test('ScanPorts: the idle sweep forgets pairs quiet for a window, keeps the others in order', async (t) => {
  const st = defaultSettings();
  const d = new ScanPorts(st, new Recorder(), 1000);
  for (let i = 0; i < 600; i++) d.observe(i % 2 ? SRC6 : '10.0.0.9', `h${i}`, 'tcp', 1, T + (i % 3 === 0 ? 0 : st.scanPortsWindowMs), true, sub);
  d.tick(T + st.scanPortsWindowMs + 1);
  t.equal(d.tracked, 400, 'a third were idle');
  const at = T + st.scanPortsWindowMs + 2;
  const known = (i: number) => remembered(d, i % 2 ? SRC6 : '10.0.0.9', `h${i}`, at);
  let fired = 0, forgotten = 0;
  for (let i = 0; i < 600; i += 60) {
    if (known(i + 1)) fired++;
    if (!known(i + 3)) forgotten++;
  }
  t.equal(fired, 10, 'the pairs still active are still known');
  t.equal(forgotten, 10, 'the idle ones are new again');
});

t.test('ScanHosts: the state of a forgotten source is reused clean by the next new one', async (t) => {
  const st = { ...defaultSettings(), scanMaxSources: 2 };
  const r = new Recorder();
  const d = new ScanHosts(st, r);
  // A: failed attempts to one host short of the slow rule, and five SYNs (one short of the fast rule)
  for (let i = 0; i < st.scanHostsThreshold - 1; i++) d.failed('10.0.0.1', `20.0.0.${i + 1}`, 'tcp', 23, T + i, T + i, sub);
  for (let i = 0; i < st.scanHostsFastThreshold - 1; i++) d.observe('10.0.0.1', `20.0.1.${i + 1}`, 'tcp', 23, T + 100 + i, true, sub);
  d.observe('10.0.0.2', '20.0.9.9', 'tcp', 23, T + 200, true, sub);
  // C pushes A out (the first tracked, not scanning) and gets its state: one failure is not A's 25th
  d.failed('10.0.0.3', '20.0.5.5', 'tcp', 23, T + 300, T + 300, sub);
  t.equal(d.evicted, 1);
  t.same(r.reports, [], "A's failures do not count for C");
  // nor do A's hosts: the ones A tried are new to C, the sixth fires the fast rule
  for (let i = 0; i < st.scanHostsFastThreshold; i++) d.observe('10.0.0.3', `20.0.1.${i + 1}`, 'tcp', 23, T + 400 + i, true, sub);
  t.same(r.reports.map((x) => [x.rule, x.count]), [['scanHostsFastThreshold', st.scanHostsFastThreshold + 1]], 'its hosts and its failed one');
});

t.test('ScanHosts at its cap: the first source not scanning goes; scanning ones looked at go to the back, the first of them last', async (t) => {
  const d = new ScanHosts({ ...defaultSettings(), scanMaxSources: 4 }, new Recorder());
  let clock = T;
  let host = 1;
  // n SYNs of src to new hosts, 1 ms apart: 6 within 2 s make a scan (the fast rule)
  const syns = (src: string, n: number): boolean => {
    let raised = false;
    for (let i = 0; i < n; i++) {
      d.observe(src, `20.0.${host >> 8}.${host++ & 255}`, 'tcp', 23, clock++, true, sub);
      raised ||= d.raisedNow;
    }
    return raised;
  };
  const all = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8'];
  const [A, B, C, D, E, F, G] = all;
  const scanning = () => all.filter((s) => d.scanningSince(s, clock) >= 0).map((s) => s.slice(-1)).join('');
  t.ok(syns(A, 6) && syns(B, 6), 'A and B scan');
  t.notOk(syns(C, 5) || syns(D, 5), 'C and D are one host short');
  // order A B C D. E: A (held) and B are scanning and go to the back, C goes: D B A E
  t.notOk(syns(E, 5));
  t.equal(d.evicted, 1);
  // C again: D, at the front and not scanning, goes: B A E C
  t.notOk(syns(C, 1), 'C was forgotten: its sixth host starts it afresh');
  t.equal(d.evicted, 2);
  // D again: B (held) and A go to the back, E goes; B back last: C A B D
  t.notOk(syns(D, 1), 'D was forgotten');
  t.equal(d.evicted, 3);
  t.equal(scanning(), '12');
  // C and D scan; E comes when all four scan: the first looked at (C) goes; then A B D E
  for (const s of [C, D, E]) syns(s, 6);
  t.equal(scanning(), '1245');
  t.equal(d.evicted, 4);
  // F: all four scan, A (the front) goes
  syns(F, 1);
  t.equal(scanning(), '245');
  // G: B D E F; B (held), D and E scan, F does not: F goes, and the scanners stay
  syns(G, 1);
  t.equal(scanning(), '245');
  t.equal(d.evicted, 6);
  // B was held and went back last: D E B G. G scans; a new source: all four scan, D goes
  syns(G, 5);
  syns('10.0.0.8', 1);
  t.equal(scanning(), '257', 'D is forgotten (B would be, had the held B not gone to the back last)');
  t.equal(d.evicted, 7);
  t.equal(d.tracked, 4);
});
