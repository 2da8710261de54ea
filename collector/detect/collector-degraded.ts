// collector.degraded: segwatch tells its channels when it goes blind or deaf. Four
// conditions, each its own anomaly (rule names it), open while it lasts and closed
// ('cleared') when it ends:
// - silence: no packet or flow record from the source for `degradedSilenceMs` (a cable
//   pulled, a mirror port reconfigured, an exporter that stopped);
// - drops: more than `degradedDropRatio` of what the source saw was lost over a minute;
// - spool: the InfluxDB spool kept growing for `degradedSpoolMs` (the store is gone);
// - alerts:<channel>: an alert channel has failed every try for `degradedAlertMs`; the other
//   channels carry the news (the failing one gets it when it is back).
// Judged on the collector's health figures (every 10 s, wall clock when live). A replay's
// clock is its packets, so it is never silent.

import type { Detector, DetectorDef, CollectorHealth } from './detector.js';
import type { DetectContext } from './detector.js';
import type { Subject } from './anomaly.js';

const MINUTE = 60_000;

interface Sample { time: number; seen: number; drops: number; spool: number }

export class CollectorDegraded implements Detector {
  /** the last 15 minutes of samples, oldest first */
  private readonly samples: Sample[] = [];
  /** cause key of each condition now open, by rule */
  private readonly open = new Map<string, string>();
  private lastSeenAt = -1;
  private lastSeen = -1;
  private spoolSince = -1;

  constructor(private readonly ctx: DetectContext) {}

  health(h: CollectorHealth): void {
    const s = this.ctx.settings;
    const seen = h.packets + h.records;
    if (seen !== this.lastSeen || this.lastSeenAt < 0) { this.lastSeen = seen; this.lastSeenAt = h.time; }
    const prev = this.samples.length ? this.samples[this.samples.length - 1] : null;
    this.samples.push({ time: h.time, seen, drops: h.drops, spool: h.spoolBytes });
    while (this.samples.length > 1 && h.time - this.samples[0].time > 15 * MINUTE) this.samples.shift();

    const quiet = h.time - this.lastSeenAt;
    this.condition(h, 'silence', quiet >= s.degradedSilenceMs,
      `no packet or flow record from ${h.source} for ${Math.round(quiet / 1000)} s: segwatch sees nothing (is the capture interface up, the mirror port or the exporter still sending?)`);

    // over the last minute: lost / (seen + lost)
    const base = this.samples.find((x) => h.time - x.time <= MINUTE) ?? this.samples[0];
    const lost = h.drops - base.drops, got = seen - base.seen;
    const ratio = lost + got > 0 ? lost / (lost + got) : 0;
    this.condition(h, 'drops', lost > 0 && ratio > s.degradedDropRatio && h.time - base.time >= MINUTE / 2,
      `${h.source} lost ${lost} of ${lost + got} packets or records in the last minute (${(ratio * 100).toFixed(1)} %): segwatch cannot keep up, and misses what it drops`);

    if (prev && h.spoolBytes > prev.spool) { if (this.spoolSince < 0) this.spoolSince = prev.time; }
    else if (!prev || h.spoolBytes < prev.spool || h.spoolBytes === 0) this.spoolSince = -1;
    this.condition(h, 'spool', this.spoolSince >= 0 && h.time - this.spoolSince >= s.degradedSpoolMs,
      `the InfluxDB spool has grown for ${Math.round((h.time - this.spoolSince) / MINUTE)} min (${h.spoolBytes} bytes): InfluxDB does not take writes; the dashboards fall behind (nothing is lost while the spool has room)`);

    const failing = new Set<string>();
    for (const f of h.alertsFailing) {
      if (h.time - f.since < s.degradedAlertMs) continue;
      failing.add(`alerts:${f.channel}`);
      this.condition(h, `alerts:${f.channel}`, true,
        `alert channel ${f.channel} has failed every delivery for ${Math.round((h.time - f.since) / MINUTE)} min: its alerts wait in the outbox`);
    }
    for (const rule of [...this.open.keys()]) if (rule.startsWith('alerts:') && !failing.has(rule)) this.condition(h, rule, false, '');
  }

  private condition(h: CollectorHealth, rule: string, on: boolean, message: string): void {
    const key = this.open.get(rule);
    if (!on) {
      if (key !== undefined) {
        this.open.delete(rule);
        this.ctx.reporter.clear?.(key);
      }
      return;
    }
    // still on: a repeat raises its count (one a health interval), or it opens
    this.open.set(rule, this.ctx.reporter.report({ kind: 'collector.degraded', time: h.time, subject: subjectOf(h), rule, message }));
  }
}

function subjectOf(h: CollectorHealth): Subject {
  return { device: h.host, mac: '', ip: '', segment: '', profile: '' };
}

export const collectorDegradedDetector: DetectorDef = {
  name: 'collector-degraded',
  kinds: { 'collector.degraded': 'critical' },
  create: (ctx) => new CollectorDegraded(ctx),
};
