// The anomaly lifecycle stage (DESIGN.md "Anomaly lifecycle") between the detectors and
// the sinks: an anomaly OPENS at the first packet of its cause and is handed on at once;
// repeats of the same cause raise its count and are written again at most once per update
// interval, only when something changed; it CLOSES when its cause has been quiet for the
// idle time, when the input ends, or when a reloaded policy allows what it reported.
//
// One cause is (device, kind, peer, port, rule): `rule` keeps the hour and day limits of
// volume.limit (same device, no peer) apart; for every other kind the other four fix it.
// Time is whatever the caller ticks with: packet time in a replay, wall-clock time live.
//
// Cost: a repeat is one Map look-up and a few additions. tick() visits only the anomalies
// changed since their last write, and walks all open ones only when the earliest possible
// idle close is due, so a replay of many hours costs in proportion to its anomalies.

import * as crypto from 'node:crypto';
import type { Anomaly, AnomalyEvent, CloseReason } from '../types.js';
import { Oldest } from '../oldest.js';

export interface LifecycleOptions {
  /** ms of quiet after which an anomaly closes; at least 1. */
  idleMs: number;
  /** an open anomaly that changed is written again at most once per this many ms. */
  updateMs: number;
  /** open anomalies held at most; beyond it the least recently active one is closed early. */
  maxOpen: number;
  /** every lifecycle event, with a copy the receiver may keep (but see `wants`). */
  emit: (event: AnomalyEvent, a: Anomaly) => void;
  /**
   * false: nobody downstream acts on this event (a replay's sinks take only 'closed'), so emit
   * gets the stage's own anomaly, not a copy, to read at once and not keep (its counts and lastSeen may lag).
   */
  wants?: (event: AnomalyEvent) => boolean;
}

interface Entry {
  key: string;
  /** count, bytes and packets are kept below and written into `a` when it is handed on */
  a: Anomaly;
  /**
   * The counts a repeat raises, here rather than in `a`: a scan bumps its anomaly for every
   * new host, and the Entry is already in cache from the look-up; `a` (a bigger object, elsewhere) is not.
   */
  count: number;
  bytes: number;
  packets: number;
  /** first and last occurrence, ms */
  first: number;
  last: number;
  /** when it was last handed on, ms of the caller's clock */
  written: number;
  dirty: boolean;
}

/** The cause an anomaly stands for: repeats of one key while it is open raise its count. */
export function causeKey(device: string, kind: string, peer: string, peerPort: number, rule: string): string {
  return `${device}\u0000${kind}\u0000${peer}\u0000${peerPort}\u0000${rule}`;
}

/**
 * The anomaly's stable id: the same in every sink and across restarts, different for the
 * same cause coming back after it closed (its first packet differs).
 */
export function anomalyId(a: Pick<Anomaly, 'device' | 'kind' | 'peer' | 'peerPort' | 'proto' | 'rule'>, firstMs: number): string {
  const text = `${a.device}\u0000${a.kind}\u0000${a.peer}\u0000${a.peerPort}\u0000${a.proto}\u0000${a.rule}\u0000${firstMs}`;
  return sha256Hex(text).slice(0, 20);
}

/**
 * crypto.hash (Node >= 20.12) digests in one call, without the Hash object createHash
 * builds each time: a replay with many anomalies opens one per anomaly.
 */
const sha256Hex: (text: string) => string = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (text) => crypto.hash('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text).digest('hex');

export class AnomalyLifecycle {
  private readonly open = new Map<string, Entry>();
  private readonly openOldest = new Oldest(this.open);
  private readonly dirty = new Set<Entry>();
  private readonly opts: LifecycleOptions;
  /** no idle close can be due before this (min of last + idle when last computed). */
  private nextIdle = Infinity;
  /** the latest time tick() saw. */
  private now = -Infinity;
  /** closedAtCap: anomalies closed early (close_reason capacity) to stay under maxOpen */
  readonly counters = { opened: 0, updated: 0, closed: 0, repeats: 0, closedAtCap: 0 };

  constructor(opts: LifecycleOptions) {
    this.opts = { ...opts, idleMs: Math.max(1, opts.idleMs), updateMs: Math.max(0, opts.updateMs), maxOpen: Math.max(1, opts.maxOpen) };
  }

  /**
   * A repeat of an open cause joins it: true. false when key has nothing open (the caller
   * builds the Anomaly and calls submit). The counts add; lastMs moves lastSeen. A repeat
   * that comes after the cause was quiet for the idle time closes the old anomaly first
   * (whether or not a tick has seen it yet) and is the start of a new one.
   */
  repeat(key: string, count: number, timeMs: number, lastMs: number, bytes: number, packets: number): boolean {
    const e = this.open.get(key);
    if (!e) return false;
    if (timeMs - e.last >= this.opts.idleMs) {
      this.close(e, 'idle');
      return false;
    }
    e.count += count;
    e.bytes += bytes;
    e.packets += packets;
    if (lastMs > e.last) e.last = lastMs;
    this.counters.repeats++;
    this.touch(e);
    return true;
  }

  /** Later bytes and packets of a flow whose anomaly is still open; false when it closed. */
  addTraffic(key: string, bytes: number, packets: number, timeMs: number): boolean {
    const e = this.open.get(key);
    if (!e) return false;
    e.bytes += bytes;
    e.packets += packets;
    if (timeMs > e.last) e.last = timeMs;
    this.touch(e);
    return true;
  }

  /**
   * A name for the peer of an open anomaly that has none yet (a TLS SNI or HTTP Host that came
   * after the verdict): written with its next update. false when it closed or had a name.
   */
  peerName(key: string, name: string): boolean {
    const e = this.open.get(key);
    if (!e || e.a.peerName !== '' || name === '') return false;
    e.a.peerName = name;
    this.touch(e);
    return true;
  }

  /**
   * Open an anomaly (or join the open one of the same cause). firstMs is its first packet,
   * lastMs its last. Returns the cause key, for repeat() and addTraffic().
   */
  submit(a: Anomaly, firstMs: number, lastMs: number = firstMs): string {
    const key = causeKey(a.device, a.kind, a.peer, a.peerPort, a.rule);
    if (this.repeat(key, a.count, firstMs, Math.max(firstMs, lastMs), a.bytes, a.packets)) return key;
    return this.submitNew(key, { ...a }, firstMs, lastMs);
  }

  /**
   * submit() for a caller that has just had repeat(key, ...) answer false: the key is not
   * built nor looked up again. `a` is the caller's to give away (makeAnomaly's fresh object).
   */
  submitNew(key: string, a: Anomaly, firstMs: number, lastMs: number = firstMs): string {
    if (!a.id) a.id = anomalyId(a, firstMs);
    a.state = 'open';
    a.closeReason = '';
    const e: Entry = { key, a, first: firstMs, last: Math.max(firstMs, lastMs), written: this.now, dirty: false, count: a.count, bytes: a.bytes, packets: a.packets };
    this.open.set(key, e);
    const idleAt = e.last + this.opts.idleMs;
    if (idleAt < this.nextIdle) this.nextIdle = idleAt;
    this.counters.opened++;
    this.hand('opened', e);
    if (this.open.size > this.opts.maxOpen) {
      // the least recently opened is the best cheap guess at the least recently active
      const oldest = this.open.get(this.openOldest.key()!)!;
      this.counters.closedAtCap++;
      this.close(oldest, 'capacity');
    }
    return key;
  }

  /**
   * Continue an anomaly from an earlier run (state kept on disk): open, under its own id,
   * with its counts; nothing is handed on until it changes or closes.
   */
  resume(a: Anomaly, firstMs: number, lastMs: number, now: number): string {
    const key = causeKey(a.device, a.kind, a.peer, a.peerPort, a.rule);
    if (this.open.has(key)) return key;
    this.open.set(key, { key, a: { ...a, state: 'open', closeReason: '' }, first: firstMs, last: lastMs, written: now, dirty: false, count: a.count, bytes: a.bytes, packets: a.packets });
    const idleAt = lastMs + this.opts.idleMs;
    if (idleAt < this.nextIdle) this.nextIdle = idleAt;
    return key;
  }

  /** Time moved on: write what changed (at most once per update interval), close what went quiet. */
  tick(now: number): void {
    if (now > this.now) this.now = now;
    if (this.dirty.size > 0) {
      const due = now - this.opts.updateMs;
      for (const e of this.dirty) {
        if (e.written <= due) {
          this.dirty.delete(e);
          e.dirty = false;
          this.counters.updated++;
          this.hand('updated', e);
        }
      }
    }
    if (now < this.nextIdle) return;
    let next = Infinity;
    for (const e of this.open.values()) {
      const idleAt = e.last + this.opts.idleMs;
      if (idleAt <= now) this.close(e, 'idle');
      else if (idleAt < next) next = idleAt;
    }
    this.nextIdle = next;
  }

  /**
   * Judge `suppressed` of every open anomaly again (exceptions changed); each one that changed
   * is handed on as updated at once, so the alert channels hear of one no longer accepted.
   */
  resuppress(suppressed: (a: Anomaly) => boolean): number {
    let n = 0;
    for (const e of this.open.values()) {
      const s = suppressed(this.settled(e));
      if (s === e.a.suppressed) continue;
      e.a.suppressed = s;
      if (e.dirty) { this.dirty.delete(e); e.dirty = false; }
      this.counters.updated++;
      this.hand('updated', e);
      n++;
    }
    return n;
  }

  /** Close every open anomaly the predicate picks (a reloaded policy now allows it). */
  closeWhere(pred: (a: Anomaly) => boolean, reason: CloseReason): number {
    let n = 0;
    for (const e of [...this.open.values()]) if (pred(this.settled(e))) { this.close(e, reason); n++; }
    return n;
  }

  /** End of input: close everything, oldest first packet first. */
  closeAll(reason: CloseReason): void {
    const all = [...this.open.values()].sort((x, y) => x.first - y.first);
    for (const e of all) this.close(e, reason);
    this.nextIdle = Infinity;
  }

  /** Stopping: write open anomalies that changed since their last write, as they are; close nothing. */
  writeOpen(): void {
    for (const e of this.dirty) {
      e.dirty = false;
      this.counters.updated++;
      this.hand('updated', e);
    }
    this.dirty.clear();
  }

  /** Copies of the open anomalies, with their current counts. */
  openAnomalies(): Anomaly[] {
    return [...this.open.values()].map((e) => this.snapshot(e));
  }

  get size(): number {
    return this.open.size;
  }

  private touch(e: Entry): void {
    if (!e.dirty) {
      e.dirty = true;
      this.dirty.add(e);
    }
  }

  private close(e: Entry, reason: CloseReason): void {
    this.open.delete(e.key);
    if (e.dirty) { this.dirty.delete(e); e.dirty = false; }
    e.a.state = 'closed';
    e.a.closeReason = reason;
    this.counters.closed++;
    this.hand('closed', e);
  }

  private snapshot(e: Entry): Anomaly {
    return { ...this.settled(e) };
  }

  /** e.a with the counts and lastSeen of now (a repeat moves only the Entry's). */
  private settled(e: Entry): Anomaly {
    const a = e.a;
    a.count = e.count; a.bytes = e.bytes; a.packets = e.packets;
    // lastSeen is formatted here only: a repeat (a scan's every host) only moves e.last
    a.lastSeen = new Date(e.last).toISOString();
    return a;
  }

  private hand(event: AnomalyEvent, e: Entry): void {
    e.written = Number.isFinite(this.now) ? this.now : e.last;
    const w = this.opts.wants;
    if (w !== undefined && !w(event)) this.opts.emit(event, e.a);
    // the stage lets go of a closed anomaly: handed on as it is, no copy
    else if (event === 'closed') this.opts.emit(event, this.settled(e));
    else this.opts.emit(event, this.snapshot(e));
  }
}
