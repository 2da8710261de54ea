// Hands every point and lifecycle event to every sink. A sink that throws (it should not)
// is counted and logged; the other sinks still get the point and the collector goes on.

import type { Anomaly, AnomalyEvent, CollectorStats, Device, DeviceTraffic, Log, Sink } from '../types.js';
import { silentLog } from '../types.js';

export class Fanout {
  errors = 0;
  readonly wantsTraffic: boolean;

  constructor(readonly sinks: readonly Sink[], private readonly log: Log = silentLog) {
    this.wantsTraffic = sinks.some((s) => s.deviceTraffic !== undefined);
  }

  /** `a` is the caller's to give away (the lifecycle stage hands on a fresh copy each time). */
  anomaly(a: Anomaly, event: AnomalyEvent): void {
    // each sink its own copy, as a sink may keep it; the last one can have `a` itself
    const ss = this.sinks;
    let last = ss.length - 1;
    while (last >= 0 && !ss[last].anomaly) last--;
    for (let i = 0; i <= last; i++) {
      const s = ss[i];
      if (s.anomaly) this.push(s, () => s.anomaly!(i === last ? a : { ...a }, event));
    }
  }

  deviceTraffic(t: DeviceTraffic): void {
    for (const s of this.sinks) if (s.deviceTraffic) this.push(s, () => s.deviceTraffic!(t));
  }

  device(d: Device): void {
    for (const s of this.sinks) if (s.device) this.push(s, () => s.device!(d));
  }

  collector(c: CollectorStats): void {
    for (const s of this.sinks) if (s.collector) this.push(s, () => s.collector!(c));
  }

  async flush(): Promise<void> {
    for (const s of this.sinks) await s.flush();
  }

  /** Last added first: the state sink, added first, closes after the sinks that write to it (the alert outbox). */
  async close(): Promise<void> {
    for (let i = this.sinks.length - 1; i >= 0; i--) await this.sinks[i].close();
  }

  private push(s: Sink, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.errors++;
      if (this.errors <= 10 || this.errors % 10_000 === 0) {
        this.log.error({ sink: s.name, err: (err as Error).message, count: this.errors }, 'a sink refused a point');
      }
    }
  }
}
