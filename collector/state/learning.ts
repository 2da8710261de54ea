// The learning table (run --learn-for): per device, when its period began and ended and what
// was seen, so a restart goes on with the same period and the same counts.

import type { StateDb } from './db.js';

export interface LearningRow {
  id: string;
  startedMs: number;
  /** null while the device is still learned. */
  endedMs: number | null;
  accepted: boolean;
  /** the observer's counts as JSON (learn/period.ts writes and reads it). */
  seen: string;
}

export class LearningStore {
  private readonly upsert;
  private readonly all;

  constructor(private readonly db: StateDb) {
    const c = db.connection;
    this.upsert = c.prepare(`INSERT INTO learning (id, started_ms, ended_ms, accepted, seen) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET started_ms = excluded.started_ms, ended_ms = excluded.ended_ms, accepted = excluded.accepted, seen = excluded.seen`);
    this.all = c.prepare('SELECT id, started_ms, ended_ms, accepted, seen FROM learning ORDER BY started_ms, id');
  }

  save(r: LearningRow): void {
    this.db.write(() => this.upsert.run(r.id, r.startedMs, r.endedMs, r.accepted ? 1 : 0, r.seen));
  }

  rows(): LearningRow[] {
    return (this.all.all() as { id: string; started_ms: number; ended_ms: number | null; accepted: number; seen: string }[])
      .map((r) => ({ id: r.id, startedMs: r.started_ms, endedMs: r.ended_ms, accepted: r.accepted === 1, seen: r.seen }));
  }
}
