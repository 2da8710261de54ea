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
import type { Held, Outbox, OutboxRow } from '../../state/outbox.js';
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
  /** rows of this channel in the outbox */
  backlog: number;
  /** alerts beyond the rate limit, counted for the next digest, not queued one by one */
  held: Held | null;
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
  /** anomalies an exception silenced when they opened: sent as opened once it stops matching */
  private readonly silenced = new Set<string>();
  private readonly housekeeping: NodeJS.Timeout;
  private closed = false;
  private digests = 0;

  constructor(opts: DispatcherOptions) {
    this.outbox = opts.outbox;
    this.log = opts.log ?? silentLog;
    this.clock = opts.clock ?? Date.now;
    this.retryMinMs = opts.retryMinMs ?? 1000;
    const now = this.clock();
    const sizes = this.outbox.sizes();
    const held = this.outbox.loadHeld();
    for (const { cfg, channel } of opts.channels) {
      this.lanes.set(cfg.name, {
        cfg, channel, tokens: cfg.rateLimitPerMin, refilled: now, pausedUntil: 0, failures: 0, timer: null, timerAt: 0, busy: null, again: false,
        backlog: sizes.get(cfg.name) ?? 0, held: held.get(cfg.name) ?? null,
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
    if (a.suppressed) {
      if (event === 'opened') this.silenced.add(a.id);
      if (event === 'closed') this.silenced.delete(a.id);
      return;
    }
    if (event === 'updated') {
      // its exception ended or was removed: the channels hear of it now, as an opening
      if (this.silenced.delete(a.id)) this.enqueue(a, 'opened', `${a.id}:opened`);
      return;
    }
    if (event === 'closed') this.silenced.delete(a.id);
    this.enqueue(a, event, `${a.id}:${event}`);
  }

  /** Per channel: deliveries, failures, retries, what waits, what was dropped. */
  stats(): ChannelStats[] {
    const sizes = this.outbox.sizes();
    return [...this.lanes.values()].map((l) => ({ ...l.stats, outbox: (sizes.get(l.cfg.name) ?? 0) + (l.held?.total ?? 0) }));
  }

  /** Channels failing for at least `forMs` (every try since then failed). */
  failing(forMs: number): ChannelStats[] {
    const now = this.clock();
    return [...this.lanes.values()].filter((l) => l.stats.failingSince > 0 && now - l.stats.failingSince >= forMs).map((l) => l.stats);
  }

  /**
   * The end of input or a stop: give the channels that are delivering a moment (at most
   * `waitMs`) to take what is due; what is left waits on disk for the next start.
   */
  async flush(waitMs = 5000): Promise<void> {
    const until = this.clock() + waitMs;
    for (const lane of this.lanes.values()) this.wake(lane);
    for (;;) {
      const sizes = this.outbox.sizes();
      const now = this.clock();
      // wait only for what can go out now: not for a failing channel, a backoff, or tokens
      // the rate limit gives back later (the pump refills the bucket; this loop does not)
      const pending = [...this.lanes.values()].some((l) => {
        if ((sizes.get(l.cfg.name) ?? 0) === 0 && !l.held || l.stats.failingSince !== 0 || l.pausedUntil > now) return false;
        return l.tokens >= 1 || l.busy !== null;
      });
      if (!pending || now >= until || this.closed) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

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
    const names: string[] = [];
    let group = '';
    for (const lane of this.lanes.values()) {
      if (!matches(lane.cfg, a, event)) continue;
      // more waiting than the bucket will let out one by one: it goes into the next digest as
      // a count (a storm costs one small write per channel, not a row per alert)
      this.refill(lane, now);
      // (one token stays for that digest)
      if (lane.backlog + 1 < lane.tokens) names.push(lane.cfg.name);
      else this.hold(lane, a, group || (group = groupOf(event, a.kind, a.device)), now);
    }
    if (names.length === 0) return;
    const body = JSON.stringify({ key, event, anomaly: a } satisfies Alert);
    for (const name of this.outbox.add(names, key, event, a.kind, a.device, a.severity, body, now)) {
      const lane = this.lanes.get(name)!;
      lane.backlog++;
      this.wake(lane);
    }
  }

  private hold(lane: Lane, a: Anomaly, group: string, now: number): void {
    const h = lane.held ?? (lane.held = { since: now, total: 0, severity: 'info', groups: new Map() });
    h.total++;
    if (compareSeverity(a.severity, h.severity) > 0) h.severity = a.severity;
    h.groups.set(group, (h.groups.get(group) ?? 0) + 1);
    this.outbox.heldChanged(lane.cfg.name, h);
    // the lane's timer is set for its next token already; a first hold needs one
    if (h.total === 1) this.wake(lane);
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
    // a lane in backoff or with an empty bucket has its timer set already: a new row waits too
    const now = this.clock();
    if (lane.timer && lane.timerAt > now && (now < lane.pausedUntil || lane.tokens < 1)) return;
    this.schedule(lane, now);
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
      let now = this.clock();
      if (now < lane.pausedUntil) { this.schedule(lane, lane.pausedUntil); return; }
      // an empty bucket: nothing to read until a token is back
      this.refill(lane, now);
      if (lane.tokens < 1) {
        this.schedule(lane, now + Math.ceil((1 - lane.tokens) * 60_000 / lane.cfg.rateLimitPerMin));
        return;
      }
      const rows = this.outbox.due(lane.cfg.name, now, BATCH);
      if (rows.length === 0) {
        if (lane.held) {
          if (!(await this.sendHeld(lane))) return;
          continue;
        }
        const next = this.outbox.nextDue(lane.cfg.name);
        if (next !== null) this.schedule(lane, next);
        return;
      }
      // through the rows read: one by one while the bucket holds a token for each of the
      // rest, or two or more; with the last token, the rest as one digest
      for (let i = 0; i < rows.length; i++) {
        if (this.closed) return;
        now = this.clock();
        this.refill(lane, now);
        if (lane.tokens < 1) {
          this.schedule(lane, now + Math.ceil((1 - lane.tokens) * 60_000 / lane.cfg.rateLimitPerMin));
          return;
        }
        const left = rows.length - i + (lane.held ? 1 : 0);
        if (lane.tokens >= left || lane.tokens >= 2) {
          if (!(await this.send(lane, rows[i]))) return;
        } else {
          if (!(await this.sendDigest(lane, rows.slice(i)))) return;
          break;
        }
      }
    }
  }

  private async send(lane: Lane, row: OutboxRow): Promise<boolean> {
    let alert: Alert;
    try {
      const body = this.outbox.body(row.seq);
      if (body === null) return true;
      alert = JSON.parse(body) as Alert;
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
      const g = groupOf(r.event, r.kind, r.device);
      groups.set(g, (groups.get(g) ?? 0) + 1);
      if (compareSeverity(r.severity, severity) > 0) severity = r.severity;
    }
    // what the lane holds goes into the same digest
    const held = lane.held;
    if (held) {
      for (const [g, n] of held.groups) groups.set(g, (groups.get(g) ?? 0) + n);
      if (compareSeverity(held.severity, severity) > 0) severity = held.severity;
    }
    const total = rows.length + (held?.total ?? 0);
    // named by the rows it covers: a retry of the same digest carries the same key
    const id = `digest-${lane.cfg.name}-${rows[0].seq}-${rows[rows.length - 1].seq}${held ? `-${held.since}` : ''}`;
    const alert = digestAlert(id, { total, lines: digestLines(groups) }, severity, this.clock());
    lane.held = null;
    const ok = await this.attempt(lane, rows, alert, total);
    this.settleHeld(lane, held, ok);
    return ok;
  }

  /** The held alerts alone, as one digest. */
  private async sendHeld(lane: Lane): Promise<boolean> {
    const held = lane.held!;
    lane.held = null;
    const alert = digestAlert(`digest-${lane.cfg.name}-held-${held.since}`, { total: held.total, lines: digestLines(held.groups) }, held.severity, this.clock());
    const ok = await this.attempt(lane, [], alert, held.total);
    this.settleHeld(lane, held, ok);
    return ok;
  }

  /** After a digest that carried `held`: gone when delivered; else back, with what came meanwhile. */
  private settleHeld(lane: Lane, held: Held | null, delivered: boolean): void {
    if (!held) return;
    if (delivered) { this.outbox.dropHeld(lane.cfg.name, held.since); return; }
    const now = lane.held;
    if (now) {
      held.total += now.total;
      if (compareSeverity(now.severity, held.severity) > 0) held.severity = now.severity;
      for (const [g, n] of now.groups) held.groups.set(g, (held.groups.get(g) ?? 0) + n);
      this.outbox.dropHeld(lane.cfg.name, now.since);
    }
    lane.held = held;
    this.outbox.saveHeld(lane.cfg.name, held);
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
    lane.backlog = Math.max(0, lane.backlog - rows.length);
    return true;
  }

  private giveUp(lane: Lane, seqs: number[], key: string, e: Error): void {
    lane.stats.failed += seqs.length;
    lane.backlog = Math.max(0, lane.backlog - seqs.length);
    this.log.error({ channel: String(lane.channel), key, err: e.message }, 'alerts: the receiver refused the alert for good; it is dropped (check the channel\'s settings)');
    this.outbox.remove(seqs);
  }
}

/** "policy.violation from plugs-a1b2c3" ("closed ..." for other events): one line of a digest. */
function groupOf(event: string, kind: string, device: string): string {
  return `${event === 'opened' ? '' : event + ' '}${kind} from ${device || 'segwatch'}`;
}

/** The largest groups first, at most 20 lines and one for the rest. */
function digestLines(groups: Map<string, number>): string[] {
  const sorted = [...groups].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const lines = sorted.slice(0, 20).map(([g, n]) => `${n} ${g}`);
  if (sorted.length > 20) lines.push(`${sorted.slice(20).reduce((s, [, n]) => s + n, 0)} more in ${sorted.length - 20} other groups`);
  return lines;
}
