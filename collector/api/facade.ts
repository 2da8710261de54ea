// The read-only view of a running collector that the API sees (never its stages),
// and the bounded ring of recent anomalies the composition root feeds for it.

import type { Anomaly, Device } from '../types.js';

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
  /** anomalies emitted (after suppression) since start. */
  anomalies: number;
  anomaliesByKind: Record<string, number>;
  /** frames or records lost (capture drops, full queues). */
  drops: number;
  /** bytes waiting in the sinks' on-disk spool. */
  spoolBytes: number;
  /** ms since epoch. */
  startedAt: number;
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
 * The last `capacity` anomalies, oldest overwritten first. Fixed storage so a
 * burst of anomalies cannot grow the collector's memory.
 */
export class AnomalyRing {
  readonly capacity: number;
  private readonly items: (Anomaly | undefined)[];
  /** slot the next push writes. */
  private head = 0;
  private count = 0;

  constructor(capacity: number = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`AnomalyRing capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.items = new Array<Anomaly | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  push(a: Anomaly): void {
    this.items[this.head] = a;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** the `n` most recent anomalies (fewer when fewer are held), newest first. */
  last(n: number): Anomaly[] {
    const k = Math.max(0, Math.min(Math.floor(n), this.count));
    const out: Anomaly[] = new Array<Anomaly>(k);
    for (let i = 0; i < k; i++) {
      const slot = (this.head - 1 - i + this.capacity * 2) % this.capacity;
      out[i] = this.items[slot] as Anomaly;
    }
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
