// The suppression stage between detectors and sinks: repeats of one
// (device, kind, peer, port, rule) within a window become ONE anomaly with a count.
//
// Choice: an aggregate is held until its window ends (tick passes firstSeen + window, a
// repeat arrives after it, or flush()) and is then emitted once with its final count,
// bytes and lastSeen: replay output and InfluxDB writes see exactly one record per cause.
// Alerts want immediacy, so onFirst fires at the first occurrence of each aggregate
// (count 1, a copy); alert sinks subscribe to it, record sinks to emit. The window is fixed
// from the first occurrence (Zeek's suppress_for), on packet time.
//
// `rule` is part of the key so that the hour and day limits of volume.limit (same device,
// no peer) stay two records; for every other kind the rule is fixed by the other four.

import type { Anomaly } from '../types.js';

export interface SuppressOptions {
  /** ms of packet time; at least 1. */
  windowMs: number;
  /** entries held at most; beyond it the oldest aggregate is emitted early. */
  maxEntries: number;
  /** the aggregated anomaly, once per key per window. */
  emit: (a: Anomaly) => void;
  /** the first occurrence of each aggregate, at once (for alerting). */
  onFirst?: (a: Anomaly) => void;
}

interface Entry {
  a: Anomaly;
  first: number;
  last: number;
  windowEnd: number;
}

export function suppressionKey(a: Pick<Anomaly, 'device' | 'kind' | 'peer' | 'peerPort' | 'rule'>): string {
  return keyOf(a.device, a.kind, a.peer, a.peerPort, a.rule);
}

/** suppressionKey() of the five fields, without an object to hold them. */
export function keyOf(device: string, kind: string, peer: string, peerPort: number, rule: string): string {
  return `${device}\u0000${kind}\u0000${peer}\u0000${peerPort}\u0000${rule}`;
}

export class Suppressor {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: SuppressOptions;
  /** earliest windowEnd held; tick() does nothing before it. */
  private nextDue = Infinity;
  /** anomalies folded into an aggregate rather than emitted on their own. */
  folded = 0;
  emitted = 0;

  constructor(opts: SuppressOptions) {
    this.opts = { ...opts, windowMs: Math.max(1, opts.windowMs), maxEntries: Math.max(1, opts.maxEntries) };
  }

  /**
   * Take one anomaly (count may be > 1). timeMs is its first packet, lastMs its last.
   * Returns the key it was filed under, for bump()/addTraffic().
   */
  submit(a: Anomaly, timeMs: number, lastMs: number = timeMs): string {
    const key = suppressionKey(a);
    const e = this.entries.get(key);
    if (e && timeMs < e.windowEnd) {
      this.merge(e, a.count, Math.max(timeMs, lastMs), a.bytes, a.packets);
      this.folded++;
      return key;
    }
    if (e) this.release(key, e);
    const own: Anomaly = { ...a };
    const windowEnd = timeMs + this.opts.windowMs;
    this.entries.set(key, { a: own, first: timeMs, last: Math.max(timeMs, lastMs), windowEnd });
    if (windowEnd < this.nextDue) this.nextDue = windowEnd;
    if (this.opts.onFirst) this.opts.onFirst({ ...own });
    if (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.release(oldest, this.entries.get(oldest)!);
    }
    return key;
  }

  /**
   * What submit() does with a repeat, for a caller that has not built the Anomaly yet: when key
   * has an aggregate open at timeMs, the occurrence joins it and true is returned; false when
   * submit() would start a new one (the caller then builds the Anomaly and submits it).
   */
  fold(key: string, count: number, timeMs: number, lastMs: number, bytes: number, packets: number): boolean {
    const e = this.entries.get(key);
    if (!e || timeMs >= e.windowEnd) return false;
    this.merge(e, count, Math.max(timeMs, lastMs), bytes, packets);
    this.folded++;
    return true;
  }

  /**
   * Raise the count of a held aggregate without building an Anomaly (a scan's next host).
   * false when the key has no open aggregate at timeMs (the caller submits a fresh one).
   */
  bump(key: string, count: number, timeMs: number, bytes = 0, packets = 0): boolean {
    const e = this.entries.get(key);
    if (!e || timeMs >= e.windowEnd) return false;
    this.merge(e, count, timeMs, bytes, packets);
    this.folded++;
    return true;
  }

  /** Add a flow's later bytes/packets to the aggregate it raised; false when it is gone. */
  addTraffic(key: string, bytes: number, packets: number, timeMs: number): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    e.a.bytes += bytes;
    e.a.packets += packets;
    if (timeMs > e.last) e.last = timeMs;
    return true;
  }

  /**
   * Drop held aggregates the predicate picks (e.g. one scanner's per-flow violations, which
   * its scan anomaly stands for). Returns how many occurrences were dropped.
   */
  absorb(pred: (a: Anomaly, firstMs: number) => boolean): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (pred(e.a, e.first)) { n += e.a.count; this.entries.delete(k); }
    }
    return n;
  }

  /** Emit every aggregate whose window ended at or before now (ms of packet time). */
  tick(now: number): void {
    if (now < this.nextDue) return;
    let due = Infinity;
    for (const [k, e] of this.entries) {
      if (e.windowEnd <= now) this.release(k, e);
      else if (e.windowEnd < due) due = e.windowEnd;
    }
    this.nextDue = due;
  }

  /** Emit everything held, oldest first. */
  flush(): void {
    const all = [...this.entries].sort((x, y) => x[1].first - y[1].first);
    for (const [k, e] of all) this.release(k, e);
    this.nextDue = Infinity;
  }

  /** aggregates held now. */
  get size(): number {
    return this.entries.size;
  }

  private merge(e: Entry, count: number, lastMs: number, bytes: number, packets: number): void {
    e.a.count += count;
    e.a.bytes += bytes;
    e.a.packets += packets;
    if (lastMs > e.last) e.last = lastMs;
  }

  private release(key: string, e: Entry): void {
    this.entries.delete(key);
    // lastSeen is written once here: bumps (a scan's every host) only move e.last
    e.a.lastSeen = new Date(e.last).toISOString();
    this.emitted++;
    this.opts.emit(e.a);
  }
}
