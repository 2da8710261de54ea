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
}

/** Alerts of one channel held beyond its rate limit, for its next digest. */
export interface Held {
  since: number;
  total: number;
  severity: Severity;
  /** "policy.violation from plugs-a1b2c3" -> how many */
  groups: Map<string, number>;
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
      insertBody: c.prepare('INSERT INTO alert_bodies (key, refs, body) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET refs = refs + excluded.refs'),
      insert: c.prepare(`INSERT INTO outbox (channel, key, event, kind, device, severity, sev_rank, created_ms, next_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, key) DO NOTHING`),
      // without the bodies: a digest needs only what it counts, a send reads its one body
      due: c.prepare(`SELECT seq, channel, key, event, kind, device, severity, created_ms AS createdMs, next_ms AS nextMs, attempts
        FROM outbox WHERE channel = ? AND next_ms <= ? ORDER BY seq LIMIT ?`),
      body: c.prepare('SELECT b.body FROM outbox o JOIN alert_bodies b ON b.key = o.key WHERE o.seq = ?'),
      keyOf: c.prepare('SELECT key FROM outbox WHERE seq = ?'),
      unref: c.prepare('UPDATE alert_bodies SET refs = refs - 1 WHERE key = ?'),
      dropBody: c.prepare('DELETE FROM alert_bodies WHERE key = ? AND refs <= 0'),
      recount: c.prepare('UPDATE alert_bodies SET refs = (SELECT count(*) FROM outbox WHERE outbox.key = alert_bodies.key)'),
      dropOrphans: c.prepare('DELETE FROM alert_bodies WHERE refs <= 0'),
      nextDue: c.prepare('SELECT min(next_ms) AS t FROM outbox WHERE channel = ?'),
      remove: c.prepare('DELETE FROM outbox WHERE seq = ?'),
      retry: c.prepare('UPDATE outbox SET attempts = attempts + 1, next_ms = ?, last_error = ? WHERE seq = ?'),
      count: c.prepare('SELECT channel, count(*) AS n FROM outbox GROUP BY channel'),
      total: c.prepare('SELECT count(*) AS n FROM outbox'),
      shedFull: c.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY sev_rank, seq LIMIT ?)'),
      shedAged: c.prepare('DELETE FROM outbox WHERE created_ms < ?'),
      channels: c.prepare('SELECT DISTINCT channel FROM outbox'),
      saveHeld: c.prepare(`INSERT INTO held_digests (channel, since_ms, total, severity, groups) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (channel, since_ms) DO UPDATE SET total = excluded.total, severity = excluded.severity, groups = excluded.groups`),
      dropHeld: c.prepare('DELETE FROM held_digests WHERE channel = ? AND since_ms = ?'),
      held: c.prepare('SELECT channel, since_ms, total, severity, groups FROM held_digests ORDER BY since_ms'),
  };
}

export class Outbox {
  private readonly st: ReturnType<typeof statements>;
  readonly limits: OutboxLimits;

  constructor(private readonly db: StateDb, limits: Partial<OutboxLimits> = {}) {
    this.limits = { maxRows: limits.maxRows ?? 100_000, maxAgeMs: limits.maxAgeMs ?? 7 * 86_400_000 };
    this.st = statements(db.connection);
    db.beforeCommit.push(() => {
      for (const [ch, h] of this.dirtyHeld) this.st.saveHeld.run(ch, h.since, h.total, h.severity, JSON.stringify(Object.fromEntries(h.groups)));
      this.dirtyHeld.clear();
    });
  }

  private readonly dirtyHeld = new Map<string, Held>();

  /**
   * Queue an alert for channels (its text stored once for all of them); returns the channels
   * it was queued for, leaving out those that had that key queued already.
   */
  add(channels: readonly string[], key: string, event: string, kind: string, device: string, severity: Severity, body: string, now: number): string[] {
    const added: string[] = [];
    this.db.write(() => {
      for (const ch of channels) if (this.st.insert.run(ch, key, event, kind, device, severity, RANK[severity] ?? 0, now, now).changes > 0) added.push(ch);
      if (added.length) this.st.insertBody.run(key, added.length, body);
    });
    return added;
  }

  /** The channel's rows due at `now`, oldest first. */
  due(channel: string, now: number, limit: number): OutboxRow[] {
    return this.st.due.all(channel, now, limit) as OutboxRow[];
  }

  /** The Alert (JSON) of a row, or null when it is gone. */
  body(seq: number): string | null {
    return (this.st.body.get(seq) as { body: string } | undefined)?.body ?? null;
  }

  /** When the channel's earliest row is due (ms), or null when it has none. */
  nextDue(channel: string): number | null {
    return (this.st.nextDue.get(channel) as { t: number | null }).t;
  }

  /** Delivered (or given up): the row goes, and the alert's text once no channel waits for it. */
  remove(seqs: readonly number[]): void {
    this.db.write(() => {
      for (const s of seqs) {
        const key = (this.st.keyOf.get(s) as { key: string } | undefined)?.key;
        if (key === undefined) continue;
        this.st.remove.run(s);
        this.st.unref.run(key);
        this.st.dropBody.run(key);
      }
    });
  }

  retryAt(seq: number, nextMs: number, error: string): void {
    this.db.write(() => { this.st.retry.run(nextMs, error.slice(0, 500), seq); });
  }

  /** Rows waiting, by channel. */
  sizes(): Map<string, number> {
    return new Map((this.st.count.all() as Array<{ channel: string; n: number }>).map((r) => [r.channel, r.n]));
  }

  /** Keep (or update) a channel's held alerts now; they join the batch like every write. */
  saveHeld(channel: string, h: Held): void {
    this.db.write(() => { this.st.saveHeld.run(channel, h.since, h.total, h.severity, JSON.stringify(Object.fromEntries(h.groups))); });
  }

  /**
   * Held alerts that change often (a storm): marked here, written once, when the batch
   * that changed them commits.
   */
  heldChanged(channel: string, h: Held): void {
    if (this.dirtyHeld.size === 0) this.db.write(() => {});
    this.dirtyHeld.set(channel, h);
  }

  dropHeld(channel: string, since: number): void {
    const d = this.dirtyHeld.get(channel);
    if (d && d.since === since) this.dirtyHeld.delete(channel);
    this.db.write(() => { this.st.dropHeld.run(channel, since); });
  }

  /** Held alerts by channel, as the last run left them (several generations merge). */
  loadHeld(): Map<string, Held> {
    const out = new Map<string, Held>();
    for (const r of this.st.held.all() as Array<{ channel: string; since_ms: number; total: number; severity: Severity; groups: string }>) {
      let groups: Record<string, number> = {};
      try { groups = JSON.parse(r.groups) as Record<string, number>; } catch { /* counted in total */ }
      const h = out.get(r.channel);
      if (!h) { out.set(r.channel, { since: r.since_ms, total: r.total, severity: r.severity, groups: new Map(Object.entries(groups)) }); continue; }
      // a digest that failed was merged into the next generation: fold them into one
      h.total += r.total;
      if ((RANK[r.severity] ?? 0) > (RANK[h.severity] ?? 0)) h.severity = r.severity;
      for (const [g, n] of Object.entries(groups)) h.groups.set(g, (h.groups.get(g) ?? 0) + n);
      this.dropHeld(r.channel, r.since_ms);
      this.saveHeld(r.channel, h);
    }
    return out;
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
      if (shed.aged || shed.full) { this.st.recount.run(); this.st.dropOrphans.run(); }
    });
    return shed;
  }
}
