// The alert dispatcher: the sink between the anomaly lifecycle and the alert channels.
// Each lifecycle event a channel wants (filter.ts) becomes a row of the durable outbox
// (state/outbox.ts), committed with the batch that opened the anomaly; one lane per channel
// then delivers its rows in order, one at a time:
// - a delivery the receiver acknowledged deletes its row (at least once: a crash between the
//   two sends it again, with the same idempotency key, which the receiver drops);
// - a retryable failure (down, 5xx, 429) pauses the lane with exponential backoff and full
//   jitter, or the receiver's Retry-After, up to the channel's retry_max; the row stays;
// - a failure that resending cannot fix (a 4xx, a refused login) is logged and counted, and
//   the row is given up, since the same bytes would fail forever;
// - a rate limit (token bucket, `rate_limit` a minute): when more rows are due than tokens
//   allow, the oldest go out one by one and the rest are rolled into one digest ("and 57
//   more: 40 policy.violation from plugs-a1b2c3, ...") with the last token; so a storm
//   reaches a channel as at most the rate limit in messages, and the digests count every
//   alert they stand for.
// Reminders (`remind_every`) are made here for anomalies still open.

import type { Anomaly, AnomalyEvent, Log, Severity, Sink } from '../../types.js';
import { silentLog } from '../../types.js';
import type { Outbox, OutboxRow } from '../../state/outbox.js';
import { compareSeverity, digestAlert, DeliveryError, type Alert, type AlertEvent, type Channel } from './channel.js';
import type { ChannelConfig } from './config.js';
import { matches } from './filter.js';

export interface ChannelStats {
  channel: string;
  type: string;
  /** messages the receiver acknowledged (a digest counts once) */
  delivered: number;
  /** alerts rolled into digests that were delivered */
  digested: number;
  /** deliveries given up (the receiver refused them for good) */
  failed: number;
  /** tries that failed and will be retried */
  retries: number;
  /** rows waiting now */
  outbox: number;
  /** rows the outbox bounds dropped (full or too old) */
  dropped: number;
  /** ms since epoch since when every try failed, 0 when the last one worked */
  failingSince: number;
}

export interface DispatcherOptions {
  channels: ReadonlyArray<{ cfg: ChannelConfig; channel: Channel }>;
  outbox: Outbox;
  log?: Log;
  /** wall clock, ms (tests may move it) */
  clock?: () => number;
  /** the first retry's wait, ms (default 1 s); it doubles up to the channel's retry_max */
  retryMinMs?: number;
  /** how often reminders and the outbox bounds are looked at, ms (default 10 s) */
  housekeepingMs?: number;
}

/** Rows a lane reads at once: a digest may cover more, they are counted in the next one. */
const BATCH = 5000;

interface Lane {
  cfg: ChannelConfig;
  channel: Channel;
  tokens: number;
  refilled: number;
  /** no try before this (backoff), ms */
  pausedUntil: number;
  /** consecutive failed tries */
  failures: number;
  timer: NodeJS.Timeout | null;
  timerAt: number;
  busy: Promise<void> | null;
  again: boolean;
  stats: ChannelStats;
}

interface OpenAnomaly { a: Anomaly; since: number; reminded: number }

export class AlertDispatcher implements Sink {
  readonly name = 'alerts';
  private readonly lanes = new Map<string, Lane>();
  private readonly outbox: Outbox;
  private readonly log: Log;
  private readonly clock: () => number;
  private readonly retryMinMs: number;
  private readonly reminding: boolean;
  private readonly open = new Map<string, OpenAnomaly>();
  private readonly housekeeping: NodeJS.Timeout;
  private closed = false;
  private digests = 0;

  constructor(opts: DispatcherOptions) {
    this.outbox = opts.outbox;
    this.log = opts.log ?? silentLog;
    this.clock = opts.clock ?? Date.now;
    this.retryMinMs = opts.retryMinMs ?? 1000;
    const now = this.clock();
    for (const { cfg, channel } of opts.channels) {
      this.lanes.set(cfg.name, {
        cfg, channel, tokens: cfg.rateLimitPerMin, refilled: now, pausedUntil: 0, failures: 0, timer: null, timerAt: 0, busy: null, again: false,
        stats: { channel: cfg.name, type: cfg.type, delivered: 0, digested: 0, failed: 0, retries: 0, outbox: 0, dropped: 0, failingSince: 0 },
      });
    }
    this.reminding = opts.channels.some((c) => c.cfg.remindEveryMs !== undefined);
    const orphans = this.outbox.channels().filter((c) => !this.lanes.has(c));
    if (orphans.length) this.log.warn({ channels: orphans }, 'alerts: the outbox holds alerts for channels no longer configured; they wait until the channel is back or they age out');
    this.housekeeping = setInterval(() => this.housekeep(), opts.housekeepingMs ?? 10_000);
    this.housekeeping.unref();
    // alerts left from the last run go out now
    for (const lane of this.lanes.values()) this.wake(lane);
  }

  anomaly(a: Anomaly, event: AnomalyEvent): void {
    if (this.closed) return;
    if (this.reminding) this.track(a, event);
    if (event === 'updated') return;
    this.enqueue(a, event, `${a.id}:${event}`);
  }

  /** Per channel: deliveries, failures, retries, what waits, what was dropped. */
  stats(): ChannelStats[] {
    const sizes = this.outbox.sizes();
    return [...this.lanes.values()].map((l) => ({ ...l.stats, outbox: sizes.get(l.cfg.name) ?? 0 }));
  }

  /** Channels failing for at least `forMs` (every try since then failed). */
  failing(forMs: number): ChannelStats[] {
    const now = this.clock();
    return [...this.lanes.values()].filter((l) => l.stats.failingSince > 0 && now - l.stats.failingSince >= forMs).map((l) => l.stats);
  }

  /** Deliveries go on in the background and wait on disk: nothing to flush. */
  async flush(): Promise<void> {}

  /** Stop: the send in flight finishes (bounded by its timeout); what waits stays in the outbox. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.housekeeping);
    for (const lane of this.lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    await Promise.all([...this.lanes.values()].map((l) => l.busy?.catch(() => {})));
    await Promise.all([...this.lanes.values()].map((l) => l.channel.close().catch(() => {})));
  }

  // ---- queueing --------------------------------------------------------------------

  private enqueue(a: Anomaly, event: AlertEvent, key: string): void {
    const now = this.clock();
    for (const lane of this.lanes.values()) {
      if (!matches(lane.cfg, a, event)) continue;
      const alert: Alert = { key, event, anomaly: a };
      if (this.outbox.add(lane.cfg.name, key, event, a.kind, a.device, a.severity, JSON.stringify(alert), now)) this.wake(lane);
    }
  }

  private track(a: Anomaly, event: AnomalyEvent): void {
    if (event === 'closed') { this.open.delete(a.id); return; }
    const o = this.open.get(a.id);
    if (o) o.a = a;
    else this.open.set(a.id, { a, since: this.clock(), reminded: 0 });
  }

  private housekeep(): void {
    if (this.closed) return;
    const now = this.clock();
    try {
      if (this.reminding) {
        // one reminder clock per anomaly, the shortest remind_every; every channel that asks
        // for reminders gets each one (keyed <id>:reminder:<n>)
        let every = Infinity;
        for (const lane of this.lanes.values()) if (lane.cfg.remindEveryMs !== undefined) every = Math.min(every, lane.cfg.remindEveryMs);
        for (const o of this.open.values()) {
          const n = Math.floor((now - o.since) / every);
          if (n <= o.reminded) continue;
          o.reminded = n;
          this.enqueue(o.a, 'reminder', `${o.a.id}:reminder:${n}`);
        }
      }
      const shed = this.outbox.enforce(now);
      if (shed.full || shed.aged) {
        this.log.warn({ full: shed.full, aged: shed.aged, maxRows: this.outbox.limits.maxRows, maxAgeMs: this.outbox.limits.maxAgeMs },
          'alerts: the outbox is over its bounds: the oldest low-severity alerts were dropped');
        // which channels lost them is not kept per row once deleted: count them on every lane
        for (const lane of this.lanes.values()) lane.stats.dropped += shed.full + shed.aged;
      }
      for (const lane of this.lanes.values()) this.wake(lane);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'alerts: housekeeping failed');
    }
  }

  // ---- delivery --------------------------------------------------------------------

  /** Run the lane soon (after the current batch commits), or again when it is running. */
  private wake(lane: Lane): void {
    if (this.closed) return;
    if (lane.busy) { lane.again = true; return; }
    this.schedule(lane, this.clock());
  }

  private schedule(lane: Lane, at: number): void {
    if (this.closed) return;
    if (lane.timer && lane.timerAt <= at) return;
    if (lane.timer) clearTimeout(lane.timer);
    lane.timerAt = at;
    // setTimeout(0) runs after the microtask that commits the outbox rows
    lane.timer = setTimeout(() => {
      lane.timer = null;
      lane.busy = this.pump(lane).finally(() => {
        lane.busy = null;
        if (lane.again) { lane.again = false; this.wake(lane); }
      });
    }, Math.max(0, at - this.clock()));
    lane.timer.unref();
  }

  private refill(lane: Lane, now: number): void {
    const rate = lane.cfg.rateLimitPerMin / 60_000;
    lane.tokens = Math.min(lane.cfg.rateLimitPerMin, lane.tokens + (now - lane.refilled) * rate);
    lane.refilled = now;
  }

  private async pump(lane: Lane): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const now = this.clock();
      if (now < lane.pausedUntil) { this.schedule(lane, lane.pausedUntil); return; }
      const rows = this.outbox.due(lane.cfg.name, now, BATCH);
      if (rows.length === 0) {
        const next = this.outbox.nextDue(lane.cfg.name);
        if (next !== null) this.schedule(lane, next);
        return;
      }
      this.refill(lane, now);
      if (lane.tokens < 1) {
        this.schedule(lane, now + Math.ceil((1 - lane.tokens) * 60_000 / lane.cfg.rateLimitPerMin));
        return;
      }
      const ok = lane.tokens >= rows.length ? await this.send(lane, rows[0]) : lane.tokens >= 2 ? await this.send(lane, rows[0]) : await this.sendDigest(lane, rows);
      if (!ok) return;
    }
  }

  private async send(lane: Lane, row: OutboxRow): Promise<boolean> {
    let alert: Alert;
    try {
      alert = JSON.parse(row.body) as Alert;
    } catch {
      this.giveUp(lane, [row.seq], row.key, new Error('unreadable outbox row'));
      return true;
    }
    return this.attempt(lane, [row], alert, 1);
  }

  private async sendDigest(lane: Lane, rows: OutboxRow[]): Promise<boolean> {
    const groups = new Map<string, number>();
    let severity: Severity = 'info';
    for (const r of rows) {
      const g = `${r.event === 'opened' ? '' : r.event + ' '}${r.kind} from ${r.device || 'segwatch'}`;
      groups.set(g, (groups.get(g) ?? 0) + 1);
      if (compareSeverity(r.severity, severity) > 0) severity = r.severity;
    }
    const sorted = [...groups].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    const lines = sorted.slice(0, 20).map(([g, n]) => `${n} ${g}`);
    if (sorted.length > 20) lines.push(`${sorted.slice(20).reduce((s, [, n]) => s + n, 0)} more in ${sorted.length - 20} other groups`);
    // named by the rows it covers: a retry of the same digest carries the same key
    const id = `digest-${lane.cfg.name}-${rows[0].seq}-${rows[rows.length - 1].seq}`;
    const alert = digestAlert(id, { total: rows.length, lines }, severity, this.clock());
    return this.attempt(lane, rows, alert, rows.length);
  }

  /** One try; true when the lane may go on at once. */
  private async attempt(lane: Lane, rows: OutboxRow[], alert: Alert, alerts: number): Promise<boolean> {
    lane.tokens -= 1;
    try {
      await lane.channel.send(alert);
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error)?.message ?? String(err), { retryable: true, code: 'error' });
      if (!e.retryable) {
        this.giveUp(lane, rows.map((r) => r.seq), alert.key, e);
        return true;
      }
      // a try that did not reach the receiver costs no token
      lane.tokens += 1;
      const now = this.clock();
      lane.failures++;
      lane.stats.retries++;
      if (lane.stats.failingSince === 0) lane.stats.failingSince = now;
      const cap = Math.min(lane.cfg.retryMaxMs, this.retryMinMs * 2 ** Math.min(lane.failures - 1, 30));
      const wait = Math.max(e.retryAfterMs ?? 0, Math.round(cap / 2 + Math.random() * cap / 2));
      lane.pausedUntil = now + wait;
      for (const r of rows) this.outbox.retryAt(r.seq, lane.pausedUntil, `${e.code}: ${e.message}`);
      if (lane.failures === 1 || lane.failures % 20 === 0) {
        this.log.warn({ channel: String(lane.channel), key: alert.key, err: e.message, retryInMs: wait, failures: lane.failures }, 'alerts: delivery failed, will retry');
      }
      this.schedule(lane, lane.pausedUntil);
      return false;
    }
    if (lane.failures > 0) this.log.info({ channel: String(lane.channel), after: lane.failures }, 'alerts: the channel delivers again');
    lane.failures = 0;
    lane.stats.failingSince = 0;
    lane.stats.delivered++;
    if (alert.event === 'digest') { lane.stats.digested += alerts; this.digests++; }
    this.outbox.remove(rows.map((r) => r.seq));
    return true;
  }

  private giveUp(lane: Lane, seqs: number[], key: string, e: Error): void {
    lane.stats.failed += seqs.length;
    this.log.error({ channel: String(lane.channel), key, err: e.message }, 'alerts: the receiver refused the alert for good; it is dropped (check the channel\'s settings)');
    this.outbox.remove(seqs);
  }
}
