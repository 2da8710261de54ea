// scan.ports: one device tries many distinct ports of one host. Two rules (scan-detector.ts):
//  - fast: connection attempts (bare SYNs) to scanPortsFastThreshold distinct ports of one
//    host within scanPortsFastWindowMs;
//  - slow: failed attempts (no answer, a RST) to scanPortsThreshold distinct ports of one
//    host within scanPortsWindowMs, from flow records (Zeek's rule).
// One anomaly per (scanner, target): raised when a rule fires, further ports bump its count.

import type { Proto, Text } from '../types.js';
import { textOf } from '../types.js';
import type { Reporter, Subject } from './anomaly.js';
import { who } from './anomaly.js';
import type { DetectSettings } from './settings.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectorDef } from './detector.js';
import { scanDetector } from './scan-detector.js';
import { secs } from './scan-hosts.js';
import { PAIR_OWN, PairTable } from './scan-table.js';

type PortSettings = Pick<DetectSettings, 'scanPortsThreshold' | 'scanPortsWindowMs' | 'scanPortsFastThreshold'
  | 'scanPortsFastWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>;

// A pair's fields live in its PairTable record (one 64-byte line, STRIDE words): after the
// table's own words, three int32 words, then four doubles (f64 index FD * slot + field).
const STRIDE = 16, FD = STRIDE / 2;
const FIRST_PORT = PAIR_OWN, FAILED_FIRST = PAIR_OWN + 1, FLAGS = PAIR_OWN + 2;
/** doubles; FAST_START is the scan's start while the pair is scanning (the fast window is not read then) */
const LAST = 4, SEEN_START = 5, FAST_START = 6, FAIL_START = 7;
/** bits of FLAGS: the pair has a Set in `ports` / in `failed`; it is scanning (`keys` holds the anomaly's key); its rule; FAST_N from bit 8 */
const PORTS = 1, FAILED = 2, SCANNING = 4, RULE_SHIFT = 3, RULE_MASK = 3 << RULE_SHIFT, BITS = 0xff, FAST_SHIFT = 8;
/** FAST_N saturates here: a fast window counts distinct ports, at most 65,536 */
const FAST_MAX = (1 << 23) - 1;
const FAST = 1, SLOW = 2;
/**
 * Pairs tracked per scanMaxSources (16,384 by default, 2 MB). A host sweep makes a pair per
 * flow and touches each once, so every new pair evicts one; the table's footprint decides how
 * much of that misses the cache. Four times the sources still holds a port scan of 16,000
 * targets at once; 16 times (65,536 pairs, 8 MB) made a churn replay 1.09x slower.
 */
export const PAIRS_PER_SOURCE = 4;
const RULES = ['', 'scanPortsFastThreshold', 'scanPortsThreshold'];

/**
 * (source, target) pairs, flat: a slot of a PairTable each, its fields in the slot's record (a
 * host sweep creates and evicts a pair per flow: no object for each). Per pair:
 *  - LAST: last flow or failed attempt (ms);
 *  - ports attempted since SEEN_START (once scanning: the ports counted): the first in
 *    FIRST_PORT (-1: none), a Set in `ports` from the second;
 *  - fast rule: FAST_N new ports since FAST_START;
 *  - slow rule: ports with a failed attempt since FAIL_START: the first in FAILED_FIRST (-1:
 *    none), a Set in `failed` from the second (most pairs of a host sweep fail once);
 *  - once scanning: the anomaly's key in `keys` ("" while not), its start in FAST_START, its rule.
 */
export class ScanPorts {
  private readonly table: PairTable;
  private readonly keys: string[] = [];
  private readonly ports = new Map<number, Set<number>>();
  private readonly failedSets = new Map<number, Set<number>>();
  private readonly maxPairs: number;
  /** pairs forgotten at maxPairs */
  evicted = 0;

  /** maxPairs: (source, target) pairs tracked at most; default PAIRS_PER_SOURCE per scanMaxSources */
  constructor(private readonly settings: PortSettings, private readonly reporter: Reporter, maxPairs = settings.scanMaxSources * PAIRS_PER_SOURCE) {
    this.maxPairs = Math.max(1, maxPairs);
    this.table = new PairTable(this.maxPairs, (n) => this.grow(n), 256, STRIDE);
    this.grow(this.table.size);
  }

  private nextSweep = -Infinity;

  /** true when the last observe() or failed() raised the scan anomaly. */
  raisedNow = false;

  /**
   * Count one opened flow; returns the scan's start when src is port-scanning dst, else -1.
   * `attempt`: its first packet was a bare SYN. srcKey/dstKey are addrKey() of src/dst.
   */
  observe(src: string, dst: Text, proto: Proto, dport: number, time: number, attempt: boolean, subject: () => Subject,
    _named?: () => boolean, srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(textOf(dst)), _flowId = -1): number {
    this.raisedNow = false;
    const s = this.table.find(srcKey, dstKey);
    if (s < 0) {
      if (!attempt) return -1;
      this.add(srcKey, dstKey, time, dport);
      return -1;
    }
    this.expire(s, time);
    const d = this.table.f64, w = this.table.words, t = FD * s, i = STRIDE * s;
    if (time > d[t + LAST]) d[t + LAST] = time;
    if ((w[i + FLAGS] & SCANNING) !== 0) return this.countPort(s, dport, proto, dst, time, subject);
    if (!attempt) return -1;
    if (time - d[t + SEEN_START] > this.settings.scanPortsWindowMs) {
      d[t + SEEN_START] = time;
      w[i + FIRST_PORT] = dport;
      this.dropPorts(s);
      d[t + FAST_START] = time;
      this.setFastN(s, 1);
      return -1;
    }
    if (!this.remember(s, dport)) return -1;
    if (time - d[t + FAST_START] > this.settings.scanPortsFastWindowMs) {
      d[t + FAST_START] = time;
      this.setFastN(s, 0);
    }
    const n = Math.min(FAST_MAX, (w[i + FLAGS] >>> FAST_SHIFT) + 1);
    this.setFastN(s, n);
    if (n < this.settings.scanPortsFastThreshold) return -1;
    this.startScan(s, d[t + FAST_START], FAST, subject(), dst, proto, time);
    return this.table.f64[t + FAST_START];
  }

  /** A connection attempt src made at `time` to dst:dport failed (its record arrived at `seen`). */
  failed(src: string, dst: Text, proto: Proto, dport: number, time: number, seen: number, subject: () => Subject,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(textOf(dst)), _flowId = -1): void {
    this.raisedNow = false;
    let s = this.table.find(srcKey, dstKey);
    if (s < 0) s = this.add(srcKey, dstKey, time, dport);
    else this.expire(s, seen);
    const d = this.table.f64, w = this.table.words, t = FD * s, i = STRIDE * s;
    if (seen > d[t + LAST]) d[t + LAST] = seen;
    if ((w[i + FLAGS] & SCANNING) !== 0) {
      this.countPort(s, dport, proto, dst, seen, subject);
      return;
    }
    if (this.failedCount(s) === 0 || time - d[t + FAIL_START] > this.settings.scanPortsWindowMs) {
      this.clearFailed(s);
      d[t + FAIL_START] = time;
    }
    if (dport === w[i + FAILED_FIRST]) return;
    let failed = (w[i + FLAGS] & FAILED) !== 0 ? this.failedSets.get(s)! : null;
    if (failed?.has(dport)) return;
    if (w[i + FAILED_FIRST] < 0) w[i + FAILED_FIRST] = dport;
    else if (this.failedCount(s) < this.settings.scanMaxTargets) {
      if (!failed) {
        failed = new Set<number>();
        this.failedSets.set(s, failed);
        w[i + FLAGS] |= FAILED;
      }
      failed.add(dport);
    }
    if (this.failedCount(s) < this.settings.scanPortsThreshold) return;
    // the scan counts the ports that failed; ports only tried so far count when they fail or recur
    this.dropPorts(s);
    w[i + FIRST_PORT] = -1;
    this.startScan(s, d[t + FAIL_START], SLOW, subject(), dst, proto, seen);
  }

  scanningSince(src: string, dst: string, time: number): number {
    const s = this.table.find(addrKey(src), addrKey(dst));
    return s >= 0 && (this.table.words[STRIDE * s + FLAGS] & SCANNING) !== 0 && time - this.table.f64[FD * s + LAST] <= this.settings.scanPortsWindowMs
      ? this.table.f64[FD * s + FAST_START] : -1;
  }

  tick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.settings.scanPortsWindowMs / 2;
    const win = this.settings.scanPortsWindowMs;
    for (let s = this.table.head; s >= 0; ) {
      const next = this.table.next(s);
      if (now - this.table.f64[FD * s + LAST] > win) this.remove(s);
      s = next;
    }
  }

  get tracked(): number {
    return this.table.count;
  }

  private setFastN(s: number, n: number): void {
    const w = this.table.words, i = STRIDE * s + FLAGS;
    w[i] = (w[i] & BITS) | (n << FAST_SHIFT);
  }

  /** true when dport is new to the pair (and now remembered). */
  private remember(s: number, dport: number): boolean {
    const w = this.table.words, i = STRIDE * s, first = w[i + FIRST_PORT];
    if (dport === first) return false;
    if (first < 0) {
      w[i + FIRST_PORT] = dport;
      return true;
    }
    let ports = (w[i + FLAGS] & PORTS) !== 0 ? this.ports.get(s)! : null;
    if (!ports) {
      // not new Set([first]): the constructor walks its argument through the iterator protocol
      ports = new Set<number>();
      ports.add(first);
      this.ports.set(s, ports);
      w[i + FLAGS] |= PORTS;
    }
    if (ports.has(dport)) return false;
    if (ports.size < this.settings.scanMaxTargets) ports.add(dport);
    return true;
  }

  private expire(s: number, time: number): void {
    const d = this.table.f64, w = this.table.words, t = FD * s, i = STRIDE * s;
    if ((w[i + FLAGS] & SCANNING) === 0 || time - d[t + LAST] <= this.settings.scanPortsWindowMs) return;
    this.setKey(s, '');
    d[t + SEEN_START] = time;
    this.dropPorts(s);
    w[i + FIRST_PORT] = -1;
    d[t + FAST_START] = time;
    this.setFastN(s, 0);
    this.clearFailed(s);
  }

  private countPort(s: number, dport: number, proto: Proto, dst: Text, time: number, subject: () => Subject): number {
    const start = this.table.f64[FD * s + FAST_START];
    if (!this.remember(s, dport)) return start;
    if (!this.reporter.bump(this.keys[s], 1, time)) {
      this.setKey(s, this.raise(time, (this.table.words[STRIDE * s + FLAGS] & RULE_MASK) >> RULE_SHIFT, 1, subject(), dst, proto, time));
    }
    return start;
  }

  /** The scan counts (and `ports` holds) the ports tried in the window and those that failed. */
  private startScan(s: number, start: number, rule: number, sub: Subject, dst: Text, proto: Proto, time: number): void {
    this.raisedNow = true;
    const w = this.table.words, i = STRIDE * s;
    this.table.f64[FD * s + FAST_START] = start;
    w[i + FLAGS] = (w[i + FLAGS] & ~RULE_MASK) | (rule << RULE_SHIFT);
    if (w[i + FAILED_FIRST] >= 0) this.remember(s, w[i + FAILED_FIRST]);
    const failed = (w[i + FLAGS] & FAILED) !== 0 ? this.failedSets.get(s)! : null;
    if (failed) for (const p of failed) this.remember(s, p);
    const ports = (w[i + FLAGS] & PORTS) !== 0 ? this.ports.get(s)! : null;
    const count = ports ? ports.size : w[i + FIRST_PORT] >= 0 ? 1 : 0;
    this.setKey(s, this.raise(start, rule, count, sub, dst, proto, time));
  }

  /** The anomaly's key; "" (not scanning) clears SCANNING with it. */
  private setKey(s: number, key: string): void {
    this.keys[s] = key;
    if (key) this.table.words[STRIDE * s + FLAGS] |= SCANNING; else this.table.words[STRIDE * s + FLAGS] &= ~SCANNING;
  }

  private raise(start: number, rule: number, count: number, sub: Subject, dst: Text, proto: Proto, time: number): string {
    const to = textOf(dst);
    const st = this.settings;
    const message = rule === FAST
      ? `${who(sub)} tried to connect to ${st.scanPortsFastThreshold} distinct ports of ${to} within ${secs(st.scanPortsFastWindowMs)}: it is port-scanning; isolate it and check it for compromise`
      : `${who(sub)} failed to connect (no answer or reset) to at least ${st.scanPortsThreshold} distinct ports of ${to} within ${secs(st.scanPortsWindowMs)}: it is port-scanning; isolate it and check it for compromise`;
    return this.reporter.report({
      kind: 'scan.ports', time: start, lastSeen: time, subject: sub,
      peer: to, peerName: '', peerPort: 0, proto, count, rule: RULES[rule], message,
    });
  }

  /**
   * At the cap: the pairs at the front idle for a window go first (expired, not counted); if
   * that made room, done. Else one pair is forgotten and counted: the first seen that is not
   * scanning now, looking at most 8 deep (scanning ones looked at go to the back); when all
   * of those are scanning, the first of them all the same. O(1) amortised per new pair.
   */
  private makeRoom(now: number): void {
    const win = this.settings.scanPortsWindowMs, t = this.table;
    while (t.head >= 0 && now - t.f64[FD * t.head + LAST] > win) this.remove(t.head);
    if (t.count < this.maxPairs || t.head < 0) return;
    const first = t.head;
    const limit = Math.min(8, t.count);
    for (let looked = 0; t.head >= 0; looked++) {
      const s = t.head;
      if ((t.words[STRIDE * s + FLAGS] & SCANNING) === 0 || now - t.f64[FD * s + LAST] > win) {
        this.remove(s);
        this.evicted++;
        return;
      }
      if (looked + 1 >= limit) break;
      t.moveToBack(s);
    }
    this.remove(first);
    this.evicted++;
  }

  private add(src: number | string, dst: number | string, time: number, dport: number): number {
    if (this.table.count >= this.maxPairs) this.makeRoom(time);
    const s = this.table.insert(src, dst);
    const d = this.table.f64, w = this.table.words, t = FD * s, i = STRIDE * s;
    d[t + LAST] = time;
    d[t + SEEN_START] = time;
    d[t + FAST_START] = time;
    d[t + FAIL_START] = time;
    w[i + FIRST_PORT] = dport;
    w[i + FAILED_FIRST] = -1;
    w[i + FLAGS] = 1 << FAST_SHIFT;
    return s;
  }

  private remove(s: number): void {
    this.table.remove(s);
    if ((this.table.words[STRIDE * s + FLAGS] & BITS) === 0) return;
    this.keys[s] = '';
    this.dropPorts(s);
    this.clearFailed(s);
    this.table.words[STRIDE * s + FLAGS] = 0;
  }

  private dropPorts(s: number): void {
    if ((this.table.words[STRIDE * s + FLAGS] & PORTS) === 0) return;
    this.ports.delete(s);
    this.table.words[STRIDE * s + FLAGS] &= ~PORTS;
  }

  private failedCount(s: number): number {
    const w = this.table.words, i = STRIDE * s;
    return (w[i + FAILED_FIRST] >= 0 ? 1 : 0) + ((w[i + FLAGS] & FAILED) !== 0 ? this.failedSets.get(s)!.size : 0);
  }

  private clearFailed(s: number): void {
    const w = this.table.words, i = STRIDE * s;
    w[i + FAILED_FIRST] = -1;
    // an empty Set counts as none: it goes
    if ((w[i + FLAGS] & FAILED) !== 0) {
      this.failedSets.delete(s);
      w[i + FLAGS] &= ~FAILED;
    }
  }

  /** The table's slots grew to n: the anomaly keys follow (the other fields live in the table). */
  private grow(n: number): void {
    for (let i = this.keys.length; i < n; i++) this.keys.push('');
  }
}

export const scanPortsDetector: DetectorDef = scanDetector({
  name: 'scan-ports', kind: 'scan.ports', severity: 'high', trackedStat: 'scanPortsTracked', evictedStat: 'scanPortsEvicted',
  make: (ctx) => new ScanPorts(ctx.settings, ctx.reporter),
  since: (scan, src, dst, time) => scan.scanningSince(src, dst, time),
});
