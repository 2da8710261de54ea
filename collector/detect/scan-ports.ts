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

type PortSettings = Pick<DetectSettings, 'scanPortsThreshold' | 'scanPortsWindowMs' | 'scanPortsFastThreshold'
  | 'scanPortsFastWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>;

interface PortScan {
  last: number;
  /** ports attempted since seenStart (once scanning: the ports counted); the first kept without a Set */
  seenStart: number;
  firstPort: number;
  ports: Set<number> | null;
  fastStart: number;
  fastN: number;
  /**
   * ports with a failed attempt since failStart: the first kept without a Set (-1: none), the
   * Set made at the second (most pairs of a host sweep fail once: no Set for each)
   */
  failedFirst: number;
  failed: Set<number> | null;
  failStart: number;
  key: string;
  start: number;
  rule: string;
  /** addrKey()s of the pair */
  src: number | string;
  dst: number | string;
  // pairs in the order they were first seen (sweeps and eviction go oldest first)
  prev: PortScan | null;
  next: PortScan | null;
}

export class ScanPorts {
  /** source -> target -> pair, by addrKey(): two integer look-ups, no key string per flow */
  private readonly bySrc = new Map<number | string, Map<number | string, PortScan>>();
  private head: PortScan | null = null;
  private tail: PortScan | null = null;
  private count = 0;
  private readonly maxPairs: number;
  /** pairs forgotten at maxPairs */
  evicted = 0;

  /** maxPairs: (source, target) pairs tracked at most; default 16 per scanMaxSources (a host sweep touches many pairs once each) */
  constructor(private readonly settings: PortSettings, private readonly reporter: Reporter, maxPairs = settings.scanMaxSources * 16) {
    this.maxPairs = Math.max(1, maxPairs);
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
    let s = this.bySrc.get(srcKey)?.get(dstKey);
    if (!s) {
      if (!attempt) return -1;
      this.add(srcKey, dstKey, time, dport);
      return -1;
    }
    this.expire(s, time);
    if (time > s.last) s.last = time;
    if (s.key) return this.countPort(s, dport, proto, dst, time, subject);
    if (!attempt) return -1;
    if (time - s.seenStart > this.settings.scanPortsWindowMs) {
      s.seenStart = time;
      s.firstPort = dport;
      s.ports = null;
      s.fastStart = time;
      s.fastN = 1;
      return -1;
    }
    if (!this.remember(s, dport)) return -1;
    if (time - s.fastStart > this.settings.scanPortsFastWindowMs) {
      s.fastStart = time;
      s.fastN = 0;
    }
    if (++s.fastN < this.settings.scanPortsFastThreshold) return -1;
    this.startScan(s, s.fastStart, 'scanPortsFastThreshold', subject(), dst, proto, time);
    return s.start;
  }

  /** A connection attempt src made at `time` to dst:dport failed (its record arrived at `seen`). */
  failed(src: string, dst: string, proto: Proto, dport: number, time: number, seen: number, subject: () => Subject,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(dst)): void {
    this.raisedNow = false;
    let s = this.bySrc.get(srcKey)?.get(dstKey);
    if (!s) s = this.add(srcKey, dstKey, time, dport);
    else this.expire(s, seen);
    if (seen > s.last) s.last = seen;
    if (s.key) {
      this.countPort(s, dport, proto, dst, seen, subject);
      return;
    }
    if (failedCount(s) === 0 || time - s.failStart > this.settings.scanPortsWindowMs) {
      clearFailed(s);
      s.failStart = time;
    }
    if (dport === s.failedFirst || s.failed?.has(dport)) return;
    if (s.failedFirst < 0) s.failedFirst = dport;
    else if (failedCount(s) < this.settings.scanMaxTargets) (s.failed ??= new Set<number>()).add(dport);
    if (failedCount(s) < this.settings.scanPortsThreshold) return;
    // the scan counts the ports that failed; ports only tried so far count when they fail or recur
    s.ports = null;
    s.firstPort = -1;
    this.startScan(s, s.failStart, 'scanPortsThreshold', subject(), dst, proto, seen);
  }

  scanningSince(src: string, dst: string, time: number): number {
    const s = this.bySrc.get(addrKey(src))?.get(addrKey(dst));
    return s && s.key && time - s.last <= this.settings.scanPortsWindowMs ? s.start : -1;
  }

  tick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.settings.scanPortsWindowMs / 2;
    const win = this.settings.scanPortsWindowMs;
    for (let s = this.head; s !== null; ) {
      const next = s.next;
      if (now - s.last > win) this.remove(s);
      s = next;
    }
  }

  get tracked(): number {
    return this.count;
  }

  /** true when dport is new to the pair (and now remembered). */
  private remember(s: PortScan, dport: number): boolean {
    if (dport === s.firstPort) return false;
    if (s.firstPort < 0) {
      s.firstPort = dport;
      return true;
    }
    if (!s.ports) {
      // not new Set([first]): the constructor walks its argument through the iterator protocol
      s.ports = new Set<number>();
      s.ports.add(s.firstPort);
    }
    if (s.ports.has(dport)) return false;
    if (s.ports.size < this.settings.scanMaxTargets) s.ports.add(dport);
    return true;
  }

  private expire(s: PortScan, time: number): void {
    if (s.key === '' || time - s.last <= this.settings.scanPortsWindowMs) return;
    s.key = '';
    s.seenStart = time;
    s.ports = null;
    s.firstPort = -1;
    s.fastStart = time;
    s.fastN = 0;
    clearFailed(s);
  }

  private countPort(s: PortScan, dport: number, proto: Proto, dst: string, time: number, subject: () => Subject): number {
    if (!this.remember(s, dport)) return s.start;
    if (!this.reporter.bump(s.key, 1, time)) s.key = this.raise(time, s.rule, 1, subject(), dst, proto, time);
    return s.start;
  }

  /** The scan counts (and `ports` holds) the ports tried in the window and those that failed. */
  private startScan(s: PortScan, start: number, rule: string, sub: Subject, dst: string, proto: Proto, time: number): void {
    this.raisedNow = true;
    s.start = start;
    s.rule = rule;
    if (s.failedFirst >= 0) this.remember(s, s.failedFirst);
    if (s.failed) for (const p of s.failed) this.remember(s, p);
    const count = s.ports ? s.ports.size : s.firstPort >= 0 ? 1 : 0;
    s.key = this.raise(start, rule, count, sub, dst, proto, time);
  }

  private raise(start: number, rule: string, count: number, sub: Subject, dst: string, proto: Proto, time: number): string {
    const st = this.settings;
    const message = rule === 'scanPortsFastThreshold'
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
    const win = this.settings.scanPortsWindowMs;
    while (this.head !== null && now - this.head.last > win) this.remove(this.head);
    if (this.count < this.maxPairs || this.head === null) return;
    const first = this.head;
    const limit = Math.min(8, this.count);
    for (let looked = 0; this.head !== null; looked++) {
      const s = this.head;
      if (!s.key || now - s.last > win) {
        this.remove(s);
        this.evicted++;
        return;
      }
      if (looked + 1 >= limit) break;
      this.unlinkPair(s);
      this.appendPair(s);
    }
    this.remove(first);
    this.evicted++;
  }

  private unlinkPair(s: PortScan): void {
    if (s.prev) s.prev.next = s.next; else this.head = s.next;
    if (s.next) s.next.prev = s.prev; else this.tail = s.prev;
    s.prev = s.next = null;
  }

  private appendPair(s: PortScan): void {
    s.prev = this.tail;
    if (this.tail) this.tail.next = s; else this.head = s;
    this.tail = s;
  }

  private add(src: number | string, dst: number | string, time: number, dport: number): PortScan {
    if (this.count >= this.maxPairs) this.makeRoom(time);
    const s: PortScan = {
      last: time, seenStart: time, firstPort: dport, ports: null, fastStart: time, fastN: 1, failedFirst: -1, failed: null, failStart: time,
      key: '', start: time, rule: '', src, dst, prev: null, next: null,
    };
    let targets = this.bySrc.get(src);
    if (!targets) {
      targets = new Map();
      this.bySrc.set(src, targets);
    }
    targets.set(dst, s);
    this.appendPair(s);
    this.count++;
    return s;
  }

  private remove(s: PortScan): void {
    const targets = this.bySrc.get(s.src)!;
    targets.delete(s.dst);
    if (targets.size === 0) this.bySrc.delete(s.src);
    this.unlinkPair(s);
    this.count--;
  }
}

function failedCount(s: PortScan): number {
  return (s.failedFirst >= 0 ? 1 : 0) + (s.failed ? s.failed.size : 0);
}

function clearFailed(s: PortScan): void {
  s.failedFirst = -1;
  s.failed?.clear();
}

export const scanPortsDetector: DetectorDef = scanDetector({
  name: 'scan-ports', kind: 'scan.ports', severity: 'high', trackedStat: 'scanPortsTracked', evictedStat: 'scanPortsEvicted',
  make: (ctx) => new ScanPorts(ctx.settings, ctx.reporter),
  since: (scan, src, dst, time) => scan.scanningSince(src, dst, time),
});
