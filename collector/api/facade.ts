// The read-only view of a running collector that the API sees (never its stages),
// and the bounded ring of recent anomalies the composition root feeds for it.

import type { Anomaly, Device, Sink } from '../types.js';

/** Collector-wide figures, read on each request or scrape; plain numbers, monotonic where named so. */
export interface CollectorCounters {
  /** frames read since start. */
  packets: number;
  /** bytes of those frames, IP length. */
  bytes: number;
  decodeErrors: number;
  /** flows opened since start. */
  flows: number;
  /** flows in the table now. */
  flowsActive: number;
  /** anomalies opened since start. */
  anomalies: number;
  /** anomalies open now. */
  anomaliesOpen?: number;
  /** frames, records or ticks a stage failed on (bugs), since start. */
  stageErrors?: number;
  anomaliesByKind: Record<string, number>;
  /** frames or records lost (capture drops, full queues). */
  drops: number;
  /** bytes waiting in the sinks' on-disk spool. */
  spoolBytes: number;
  /** ms since epoch. */
  startedAt: number;
  /** flows whose first packet (not a SYN) could not tell who opened them; nobody was judged as their opener. */
  directionUnknown?: number;
  /** e.g. "pcap-live:eth0", "netflow:2055". */
  source: string;
  /** path or name of the policy in force. */
  policy: string;
}

export interface CollectorFacade {
  devices(): readonly Device[];
  /** at most `limit` anomalies, newest first. */
  recentAnomalies(limit: number): readonly Anomaly[];
  counters(): CollectorCounters;
}

export const DEFAULT_RING_CAPACITY = 1000;

/**
 * The latest state of the most recent anomalies, one entry per id: an update or the closing
 * replaces the entry and makes it the newest. Bounded, so a burst of anomalies cannot grow
 * the collector's memory (the oldest entry goes first). It is a sink: it takes lifecycle
 * events like the others.
 */
export class AnomalyRing implements Sink {
  readonly name = 'api';
  readonly capacity: number;
  private readonly byId = new Map<string, Anomaly>();

  constructor(capacity: number = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`AnomalyRing capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.byId.size;
  }

  anomaly(a: Anomaly): void {
    this.push(a);
  }

  push(a: Anomaly): void {
    const key = a.id || `#${this.byId.size}:${a.time}:${a.kind}:${a.device}:${a.peer}:${a.peerPort}`;
    this.byId.delete(key);
    this.byId.set(key, a);
    if (this.byId.size > this.capacity) this.byId.delete(this.byId.keys().next().value as string);
  }

  /** the `n` most recently changed anomalies (fewer when fewer are held), newest first. */
  last(n: number): Anomaly[] {
    const k = Math.max(0, Math.min(Math.floor(n), this.byId.size));
    const all = [...this.byId.values()];
    const out: Anomaly[] = new Array<Anomaly>(k);
    for (let i = 0; i < k; i++) out[i] = all[all.length - 1 - i];
    return out;
  }

  clear(): void {
    this.byId.clear();
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
