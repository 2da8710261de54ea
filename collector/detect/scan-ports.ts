// scan.ports: one device tries many distinct ports of one host. Two rules (scan-detector.ts):
//  - fast: connection attempts (bare SYNs) to scanPortsFastThreshold distinct ports of one
//    host within scanPortsFastWindowMs;
//  - slow: failed attempts (no answer, a RST) to scanPortsThreshold distinct ports of one
//    host within scanPortsWindowMs, from flow records (Zeek's rule).
// One anomaly per (scanner, target): raised when a rule fires, further ports bump its count.

import type { Proto } from '../types.js';
import type { Reporter, Subject } from './anomaly.js';
import { who } from './anomaly.js';
import type { DetectSettings } from './settings.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectorDef } from './detector.js';
import { scanDetector } from './scan-detector.js';
import { secs } from './scan-hosts.js';
import { PairTable } from './scan-table.js';

type PortSettings = Pick<DetectSettings, 'scanPortsThreshold' | 'scanPortsWindowMs' | 'scanPortsFastThreshold'
  | 'scanPortsFastWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>;

const NONE = 0, FAST = 1, SLOW = 2;
const RULES = ['', 'scanPortsFastThreshold', 'scanPortsThreshold'];
/** bits of `sets`: the pair has a Set in `ports` / in `failed` */
const PORTS = 1, FAILED = 2;

/**
 * (source, target) pairs, flat: a slot of a PairTable each, its fields in typed arrays by
 * slot (a host sweep creates and evicts a pair per flow: no object for each). Per pair:
 *  - last: last flow or failed attempt (ms);
 *  - ports attempted since seenStart (once scanning: the ports counted): the first in
 *    firstPort (-1: none), a Set in `ports` from the second;
 *  - fast rule: fastN new ports since fastStart;
 *  - slow rule: ports with a failed attempt since failStart: the first in failedFirst (-1:
 *    none), a Set in `failed` from the second (most pairs of a host sweep fail once);
 *  - once scanning: the anomaly's key in `keys` ("" while not), its start and rule.
 */
export class ScanPorts {
  private readonly table: PairTable;
  private last: Float64Array;
  private seenStart: Float64Array;
  private fastStart: Float64Array;
  private failStart: Float64Array;
  private start: Float64Array;
  private firstPort: Int32Array;
  private fastN: Int32Array;
  private failedFirst: Int32Array;
  private rule: Uint8Array;
  private sets: Uint8Array;
  private readonly keys: string[] = [];
  private readonly ports = new Map<number, Set<number>>();
  private readonly failedSets = new Map<number, Set<number>>();
  private readonly maxPairs: number;
  /** pairs forgotten at maxPairs */
  evicted = 0;

  /** maxPairs: (source, target) pairs tracked at most; default 16 per scanMaxSources (a host sweep touches many pairs once each) */
  constructor(private readonly settings: PortSettings, private readonly reporter: Reporter, maxPairs = settings.scanMaxSources * 16) {
    this.maxPairs = Math.max(1, maxPairs);
    this.table = new PairTable(this.maxPairs, (n) => this.grow(n), 256);
    const n = this.table.size;
    this.last = new Float64Array(n);
    this.seenStart = new Float64Array(n);
    this.fastStart = new Float64Array(n);
    this.failStart = new Float64Array(n);
    this.start = new Float64Array(n);
    this.firstPort = new Int32Array(n);
    this.fastN = new Int32Array(n);
    this.failedFirst = new Int32Array(n);
    this.rule = new Uint8Array(n);
    this.sets = new Uint8Array(n);
    for (let i = 0; i < n; i++) this.keys.push('');
  }

  private nextSweep = -Infinity;

  /** true when the last observe() or failed() raised the scan anomaly. */
  raisedNow = false;

  /**
   * Count one opened flow; returns the scan's start when src is port-scanning dst, else -1.
   * `attempt`: its first packet was a bare SYN. srcKey/dstKey are addrKey() of src/dst.
   */
  observe(src: string, dst: string, proto: Proto, dport: number, time: number, attempt: boolean, subject: () => Subject,
    _named?: () => boolean, srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(dst)): number {
    this.raisedNow = false;
    const s = this.table.find(srcKey, dstKey);
    if (s < 0) {
      if (!attempt) return -1;
      this.add(srcKey, dstKey, time, dport);
      return -1;
    }
    this.expire(s, time);
    if (time > this.last[s]) this.last[s] = time;
    if (this.keys[s]) return this.countPort(s, dport, proto, dst, time, subject);
    if (!attempt) return -1;
    if (time - this.seenStart[s] > this.settings.scanPortsWindowMs) {
      this.seenStart[s] = time;
      this.firstPort[s] = dport;
      this.dropPorts(s);
      this.fastStart[s] = time;
      this.fastN[s] = 1;
      return -1;
    }
    if (!this.remember(s, dport)) return -1;
    if (time - this.fastStart[s] > this.settings.scanPortsFastWindowMs) {
      this.fastStart[s] = time;
      this.fastN[s] = 0;
    }
    if (++this.fastN[s] < this.settings.scanPortsFastThreshold) return -1;
    this.startScan(s, this.fastStart[s], FAST, subject(), dst, proto, time);
    return this.start[s];
  }

  /** A connection attempt src made at `time` to dst:dport failed (its record arrived at `seen`). */
  failed(src: string, dst: string, proto: Proto, dport: number, time: number, seen: number, subject: () => Subject,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(dst)): void {
    this.raisedNow = false;
    let s = this.table.find(srcKey, dstKey);
    if (s < 0) s = this.add(srcKey, dstKey, time, dport);
    else this.expire(s, seen);
    if (seen > this.last[s]) this.last[s] = seen;
    if (this.keys[s]) {
      this.countPort(s, dport, proto, dst, seen, subject);
      return;
    }
    if (this.failedCount(s) === 0 || time - this.failStart[s] > this.settings.scanPortsWindowMs) {
      this.clearFailed(s);
      this.failStart[s] = time;
    }
    if (dport === this.failedFirst[s]) return;
    let failed = (this.sets[s] & FAILED) !== 0 ? this.failedSets.get(s)! : null;
    if (failed?.has(dport)) return;
    if (this.failedFirst[s] < 0) this.failedFirst[s] = dport;
    else if (this.failedCount(s) < this.settings.scanMaxTargets) {
      if (!failed) {
        failed = new Set<number>();
        this.failedSets.set(s, failed);
        this.sets[s] |= FAILED;
      }
      failed.add(dport);
    }
    if (this.failedCount(s) < this.settings.scanPortsThreshold) return;
    // the scan counts the ports that failed; ports only tried so far count when they fail or recur
    this.dropPorts(s);
    this.firstPort[s] = -1;
    this.startScan(s, this.failStart[s], SLOW, subject(), dst, proto, seen);
  }

  scanningSince(src: string, dst: string, time: number): number {
    const s = this.table.find(addrKey(src), addrKey(dst));
    return s >= 0 && this.keys[s] && time - this.last[s] <= this.settings.scanPortsWindowMs ? this.start[s] : -1;
  }

  tick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.settings.scanPortsWindowMs / 2;
    const win = this.settings.scanPortsWindowMs;
    for (let s = this.table.head; s >= 0; ) {
      const next = this.table.next(s);
      if (now - this.last[s] > win) this.remove(s);
      s = next;
    }
  }

  get tracked(): number {
    return this.table.count;
  }

  /** true when dport is new to the pair (and now remembered). */
  private remember(s: number, dport: number): boolean {
    const first = this.firstPort[s];
    if (dport === first) return false;
    if (first < 0) {
      this.firstPort[s] = dport;
      return true;
    }
    let ports = (this.sets[s] & PORTS) !== 0 ? this.ports.get(s)! : null;
    if (!ports) {
      // not new Set([first]): the constructor walks its argument through the iterator protocol
      ports = new Set<number>();
      ports.add(first);
      this.ports.set(s, ports);
      this.sets[s] |= PORTS;
    }
    if (ports.has(dport)) return false;
    if (ports.size < this.settings.scanMaxTargets) ports.add(dport);
    return true;
  }

  private expire(s: number, time: number): void {
    if (this.keys[s] === '' || time - this.last[s] <= this.settings.scanPortsWindowMs) return;
    this.keys[s] = '';
    this.seenStart[s] = time;
    this.dropPorts(s);
    this.firstPort[s] = -1;
    this.fastStart[s] = time;
    this.fastN[s] = 0;
    this.clearFailed(s);
  }

  private countPort(s: number, dport: number, proto: Proto, dst: string, time: number, subject: () => Subject): number {
    if (!this.remember(s, dport)) return this.start[s];
    if (!this.reporter.bump(this.keys[s], 1, time)) this.keys[s] = this.raise(time, this.rule[s], 1, subject(), dst, proto, time);
    return this.start[s];
  }

  /** The scan counts (and `ports` holds) the ports tried in the window and those that failed. */
  private startScan(s: number, start: number, rule: number, sub: Subject, dst: string, proto: Proto, time: number): void {
    this.raisedNow = true;
    this.start[s] = start;
    this.rule[s] = rule;
    if (this.failedFirst[s] >= 0) this.remember(s, this.failedFirst[s]);
    const failed = (this.sets[s] & FAILED) !== 0 ? this.failedSets.get(s)! : null;
    if (failed) for (const p of failed) this.remember(s, p);
    const ports = (this.sets[s] & PORTS) !== 0 ? this.ports.get(s)! : null;
    const count = ports ? ports.size : this.firstPort[s] >= 0 ? 1 : 0;
    this.keys[s] = this.raise(start, rule, count, sub, dst, proto, time);
  }

  private raise(start: number, ruleCode: number, count: number, sub: Subject, dst: string, proto: Proto, time: number): string {
    const st = this.settings;
    const rule = RULES[ruleCode];
    const message = ruleCode === FAST
      ? `${who(sub)} tried to connect to ${st.scanPortsFastThreshold} distinct ports of ${dst} within ${secs(st.scanPortsFastWindowMs)}: it is port-scanning; isolate it and check it for compromise`
      : `${who(sub)} failed to connect (no answer or reset) to at least ${st.scanPortsThreshold} distinct ports of ${dst} within ${secs(st.scanPortsWindowMs)}: it is port-scanning; isolate it and check it for compromise`;
    return this.reporter.report({
      kind: 'scan.ports', time: start, lastSeen: time, subject: sub,
      peer: dst, peerName: '', peerPort: 0, proto, count, rule, message,
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
    while (t.head >= 0 && now - this.last[t.head] > win) this.remove(t.head);
    if (t.count < this.maxPairs || t.head < 0) return;
    const first = t.head;
    const limit = Math.min(8, t.count);
    for (let looked = 0; t.head >= 0; looked++) {
      const s = t.head;
      if (!this.keys[s] || now - this.last[s] > win) {
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
    this.last[s] = time;
    this.seenStart[s] = time;
    this.firstPort[s] = dport;
    this.fastStart[s] = time;
    this.fastN[s] = 1;
    this.failedFirst[s] = -1;
    this.failStart[s] = time;
    this.start[s] = time;
    this.rule[s] = NONE;
    return s;
  }

  private remove(s: number): void {
    this.table.remove(s);
    this.keys[s] = '';
    this.dropPorts(s);
    if ((this.sets[s] & FAILED) !== 0) {
      this.failedSets.delete(s);
      this.sets[s] &= ~FAILED;
    }
  }

  private dropPorts(s: number): void {
    if ((this.sets[s] & PORTS) === 0) return;
    this.ports.delete(s);
    this.sets[s] &= ~PORTS;
  }

  private failedCount(s: number): number {
    return (this.failedFirst[s] >= 0 ? 1 : 0) + ((this.sets[s] & FAILED) !== 0 ? this.failedSets.get(s)!.size : 0);
  }

  private clearFailed(s: number): void {
    this.failedFirst[s] = -1;
    // an empty Set counts as none: it goes
    if ((this.sets[s] & FAILED) !== 0) {
      this.failedSets.delete(s);
      this.sets[s] &= ~FAILED;
    }
  }

  /** The table doubled its slots: the fields follow. */
  private grow(n: number): void {
    const f64 = (a: Float64Array) => { const b = new Float64Array(n); b.set(a); return b; };
    const i32 = (a: Int32Array) => { const b = new Int32Array(n); b.set(a); return b; };
    const u8 = (a: Uint8Array) => { const b = new Uint8Array(n); b.set(a); return b; };
    this.last = f64(this.last);
    this.seenStart = f64(this.seenStart);
    this.fastStart = f64(this.fastStart);
    this.failStart = f64(this.failStart);
    this.start = f64(this.start);
    this.firstPort = i32(this.firstPort);
    this.fastN = i32(this.fastN);
    this.failedFirst = i32(this.failedFirst);
    this.rule = u8(this.rule);
    this.sets = u8(this.sets);
    for (let i = this.keys.length; i < n; i++) this.keys.push('');
  }
}

export const scanPortsDetector: DetectorDef = scanDetector({
  name: 'scan-ports', kind: 'scan.ports', severity: 'high', trackedStat: 'scanPortsTracked', evictedStat: 'scanPortsEvicted',
  make: (ctx) => new ScanPorts(ctx.settings, ctx.reporter),
  since: (scan, src, dst, time) => scan.scanningSince(src, dst, time),
});
