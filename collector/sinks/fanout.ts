// Hands every point and lifecycle event to every sink. A sink that throws (it should not)
// is counted and logged; the other sinks still get the point and the collector goes on.

import type { Anomaly, AnomalyEvent, CollectorStats, Device, DeviceTraffic, Log, Sink } from '../types.js';
import { silentLog } from '../types.js';

export class Fanout {
  errors = 0;
  readonly wantsTraffic: boolean;
  /** per lifecycle event, the sinks that act on it */
  private readonly takers: Readonly<Record<AnomalyEvent, readonly Sink[]>>;

  constructor(readonly sinks: readonly Sink[], private readonly log: Log = silentLog) {
    this.wantsTraffic = sinks.some((s) => s.deviceTraffic !== undefined);
    const takers = (ev: AnomalyEvent) => sinks.filter((s) => s.anomaly !== undefined && (s.anomalyEvents ?? [ev]).includes(ev));
    this.takers = { opened: takers('opened'), updated: takers('updated'), closed: takers('closed') };
  }

  /** Does some sink act on this lifecycle event? (No: the lifecycle stage need not copy the anomaly for it.) */
  wants(event: AnomalyEvent): boolean {
    return this.takers[event].length > 0;
  }

  /** `a` is the caller's to give away (the lifecycle stage hands on a fresh copy each time a sink wants the event). */
  anomaly(a: Anomaly, event: AnomalyEvent): void {
    // each sink its own copy, as a sink may keep it; the last one can have `a` itself
    const ss = this.takers[event], last = ss.length - 1;
    for (let i = 0; i <= last; i++) {
      const s = ss[i];
      this.push(s, () => s.anomaly!(i === last ? a : { ...a }, event));
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
