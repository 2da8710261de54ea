// The collector measurement (DESIGN.md storage schema): the collector's own health every
// interval, from counters the pipeline, the flow table, the source and the sinks keep.

import type { CaptureDrops, CollectorStats, NetflowFigures } from '../types.js';
import { alignUp } from './device-traffic.js';

export interface HealthFigures {
  packets: number;
  bytes: number;
  decodeErrors: number;
  flowsActive: number;
  flowsEvicted: number;
  /** frames or records the source lost (kernel, interface, queue). */
  drops: number;
  /** frames waiting between the capture and the pipeline. */
  queue: number;
  spoolBytes: number;
  /** NetFlow/IPFIX figures, when such a source runs. */
  netflow?: NetflowFigures;
  /** a live capture's drops by where (their sum is in drops). */
  capture?: CaptureDrops;
}

/** What the collector.degraded detector is given besides the collector measurement. */
export interface HealthExtras {
  records: number;
  alertsFailing: ReadonlyArray<{ channel: string; since: number }>;
}

export class HealthStage {
  private due = 0;

  constructor(
    private readonly host: string,
    private readonly source: string,
    private readonly figures: () => HealthFigures,
    private readonly emit: (s: CollectorStats) => void,
    private readonly intervalMs = 10_000,
  ) {}

  tick(now: number): void {
    if (this.due === 0) this.due = alignUp(now, this.intervalMs);
    if (now < this.due) return;
    this.write(this.due);
    this.due = alignUp(now, this.intervalMs);
  }

  /** The last point, at the end of input or at shutdown. */
  write(time: number): void {
    this.emit({ time, host: this.host, source: this.source, ...this.figures() });
  }
}
