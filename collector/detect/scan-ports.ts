// scan.ports: one device opens flows to many distinct ports of one host in a short window.
// One anomaly per (scanner, target): raised at the threshold, further ports bump its count.

import type { Proto } from '../types.js';
import type { Reporter, Subject } from './anomaly.js';
import { who } from './anomaly.js';
import type { DetectSettings } from './settings.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectorDef } from './detector.js';
import { scanDetector } from './scan-detector.js';

interface PortScan {
  windowStart: number;
  last: number;
  /** the first port, kept without a Set: most pairs never see a second one. */
  firstPort: number;
  ports: Set<number> | null;
  key: string;
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

  constructor(
    private readonly settings: Pick<DetectSettings, 'scanPortsThreshold' | 'scanPortsWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>,
    private readonly reporter: Reporter,
  ) {
    // 16 targets per tracked source on average; a host sweep touches many pairs once each
    this.maxPairs = settings.scanMaxSources * 16;
  }

  private nextSweep = -Infinity;

  /** true when the last observe() raised the scan anomaly (the threshold was crossed). */
  raisedNow = false;

  /**
   * Count one opened flow; returns the scan's start when src is port-scanning dst, else -1.
   * srcKey/dstKey are addrKey() of src/dst, for a caller that has them already.
   */
  observe(src: string, dst: string, proto: Proto, dport: number, time: number, subject: () => Subject,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(dst)): number {
    this.raisedNow = false;
    const win = this.settings.scanPortsWindowMs;
    let s = this.bySrc.get(srcKey)?.get(dstKey);
    if (!s) {
      if (this.count >= this.maxPairs) this.makeRoom(time);
      this.add({ windowStart: time, last: time, firstPort: dport, ports: null, key: '', src: srcKey, dst: dstKey, prev: null, next: null });
      return -1;
    }
    if (s.key === '' ? time - s.windowStart > win : time - s.last > win) {
      s.windowStart = time;
      s.firstPort = dport;
      s.ports = null;
      s.key = '';
      return -1;
    }
    if (time > s.last) s.last = time;
    if (dport === s.firstPort) return s.key ? s.windowStart : -1;
    if (!s.ports) {
      // not new Set([first]): the constructor walks its argument through the iterator protocol
      s.ports = new Set<number>();
      s.ports.add(s.firstPort);
    }
    if (s.ports.has(dport)) return s.key ? s.windowStart : -1;
    if (s.ports.size < this.settings.scanMaxTargets) s.ports.add(dport);
    if (s.key) {
      if (!this.reporter.bump(s.key, 1, time)) s.key = this.raise(time, subject(), dst, proto, time, 1);
      return s.windowStart;
    }
    if (s.ports.size >= this.settings.scanPortsThreshold) {
      this.raisedNow = true;
      s.key = this.raise(s.windowStart, subject(), dst, proto, time, s.ports.size);
      return s.windowStart;
    }
    return -1;
  }

  scanningSince(src: string, dst: string, time: number): number {
    const s = this.bySrc.get(addrKey(src))?.get(addrKey(dst));
    return s && s.key && time - s.last <= this.settings.scanPortsWindowMs ? s.windowStart : -1;
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

  /**
   * At the cap: forget idle pairs, else the oldest eighth (a sweep of one address each
   * touches many pairs once). Deleting in batches keeps this O(1) per flow amortised.
   */
  private makeRoom(now: number): void {
    const win = this.settings.scanPortsWindowMs;
    for (let s = this.head; s !== null; ) {
      const next = s.next;
      if (now - s.last > win) this.remove(s);
      s = next;
    }
    if (this.count < this.maxPairs) return;
    let n = Math.max(1, this.maxPairs >> 3);
    for (let s = this.head; s !== null && n > 0; ) {
      const next = s.next;
      if (!s.key) { this.remove(s); n--; }
      s = next;
    }
    if (this.count >= this.maxPairs && this.head) this.remove(this.head);
  }

  private add(s: PortScan): void {
    let targets = this.bySrc.get(s.src);
    if (!targets) {
      targets = new Map();
      this.bySrc.set(s.src, targets);
    }
    targets.set(s.dst, s);
    s.prev = this.tail;
    if (this.tail) this.tail.next = s; else this.head = s;
    this.tail = s;
    this.count++;
  }

  private remove(s: PortScan): void {
    const targets = this.bySrc.get(s.src)!;
    targets.delete(s.dst);
    if (targets.size === 0) this.bySrc.delete(s.src);
    if (s.prev) s.prev.next = s.next; else this.head = s.next;
    if (s.next) s.next.prev = s.prev; else this.tail = s.prev;
    s.prev = s.next = null;
    this.count--;
  }

  get tracked(): number {
    return this.count;
  }

  private raise(start: number, sub: Subject, dst: string, proto: Proto, time: number, count: number): string {
    const n = this.settings.scanPortsThreshold;
    const secs = Math.round(this.settings.scanPortsWindowMs / 1000);
    return this.reporter.report({
      kind: 'scan.ports', time: start, lastSeen: time, subject: sub,
      peer: dst, peerName: '', peerPort: 0, proto, count,
      rule: 'scanPortsThreshold',
      message: `${who(sub)} opened flows to at least ${n} distinct ports of ${dst} within ${secs} s: it is port-scanning; isolate it and check it for compromise`,
    });
  }
}

export const scanPortsDetector: DetectorDef = scanDetector({
  name: 'scan-ports', kind: 'scan.ports', severity: 'high', trackedStat: 'scanPortsTracked',
  make: (ctx) => new ScanPorts(ctx.settings, ctx.reporter),
  since: (scan, src, dst, time) => scan.scanningSince(src, dst, time),
});
