// The alert outbox (DESIGN.md "Alert channels"): every (alert, channel) pair waits here, in
// the state database, until the channel's receiver acknowledged it. It survives restarts and
// crashes (the rows are committed with the batch that opened the anomaly), so delivery is at
// least once; the idempotency key lets a receiver drop the repeat a crash between sending
// and deleting the row can cause. Bounded by rows and by age: when full, the oldest of the
// lowest severity go first, and the caller is told how many (it logs and counts them).

import type { StateDb } from './db.js';
import type { Severity } from '../types.js';

const RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export interface OutboxRow {
  seq: number;
  channel: string;
  key: string;
  event: string;
  kind: string;
  device: string;
  severity: Severity;
  createdMs: number;
  nextMs: number;
  attempts: number;
  /** the Alert as JSON */
  body: string;
}

export interface OutboxLimits {
  /** rows in all (default 100 000) */
  maxRows: number;
  /** ms a row may wait (default 7 days) */
  maxAgeMs: number;
}

export interface Shed {
  /** rows dropped because the outbox was full */
  full: number;
  /** rows dropped because they waited longer than maxAgeMs */
  aged: number;
}

function statements(c: StateDb['connection']) {
  return {
      insert: c.prepare(`INSERT INTO outbox (channel, key, event, kind, device, severity, sev_rank, created_ms, next_ms, body)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, key) DO NOTHING`),
      due: c.prepare(`SELECT seq, channel, key, event, kind, device, severity, created_ms AS createdMs, next_ms AS nextMs, attempts, body
        FROM outbox WHERE channel = ? AND next_ms <= ? ORDER BY seq LIMIT ?`),
      nextDue: c.prepare('SELECT min(next_ms) AS t FROM outbox WHERE channel = ?'),
      remove: c.prepare('DELETE FROM outbox WHERE seq = ?'),
      retry: c.prepare('UPDATE outbox SET attempts = attempts + 1, next_ms = ?, last_error = ? WHERE seq = ?'),
      count: c.prepare('SELECT channel, count(*) AS n FROM outbox GROUP BY channel'),
      total: c.prepare('SELECT count(*) AS n FROM outbox'),
      shedFull: c.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY sev_rank, seq LIMIT ?)'),
      shedAged: c.prepare('DELETE FROM outbox WHERE created_ms < ?'),
      channels: c.prepare('SELECT DISTINCT channel FROM outbox'),
  };
}

export class Outbox {
  private readonly st: ReturnType<typeof statements>;
  readonly limits: OutboxLimits;

  constructor(private readonly db: StateDb, limits: Partial<OutboxLimits> = {}) {
    this.limits = { maxRows: limits.maxRows ?? 100_000, maxAgeMs: limits.maxAgeMs ?? 7 * 86_400_000 };
    this.st = statements(db.connection);
  }

  /** Queue an alert for a channel; false when that key was queued for it already. */
  add(channel: string, key: string, event: string, kind: string, device: string, severity: Severity, body: string, now: number): boolean {
    let added = false;
    this.db.write(() => {
      added = this.st.insert.run(channel, key, event, kind, device, severity, RANK[severity] ?? 0, now, now, body).changes > 0;
    });
    return added;
  }

  /** The channel's rows due at `now`, oldest first. */
  due(channel: string, now: number, limit: number): OutboxRow[] {
    return this.st.due.all(channel, now, limit) as OutboxRow[];
  }

  /** When the channel's earliest row is due (ms), or null when it has none. */
  nextDue(channel: string): number | null {
    return (this.st.nextDue.get(channel) as { t: number | null }).t;
  }

  /** Delivered (or given up): the row goes. */
  remove(seqs: readonly number[]): void {
    this.db.write(() => { for (const s of seqs) this.st.remove.run(s); });
  }

  retryAt(seq: number, nextMs: number, error: string): void {
    this.db.write(() => { this.st.retry.run(nextMs, error.slice(0, 500), seq); });
  }

  /** Rows waiting, by channel. */
  sizes(): Map<string, number> {
    return new Map((this.st.count.all() as Array<{ channel: string; n: number }>).map((r) => [r.channel, r.n]));
  }

  /** Channels that have rows (a restart finds them before any new alert). */
  channels(): string[] {
    return (this.st.channels.all() as Array<{ channel: string }>).map((r) => r.channel);
  }

  /** Applies the bounds: drops what waited too long, then the lowest severity, oldest first, past maxRows. */
  enforce(now: number): Shed {
    const shed: Shed = { full: 0, aged: 0 };
    this.db.write(() => {
      shed.aged = this.st.shedAged.run(now - this.limits.maxAgeMs).changes;
      const over = (this.st.total.get() as { n: number }).n - this.limits.maxRows;
      if (over > 0) shed.full = this.st.shedFull.run(over).changes;
    });
    return shed;
  }
}
