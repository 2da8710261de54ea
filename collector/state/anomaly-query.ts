// Read-only queries over the anomalies of the state database, for the API: filtered,
// newest first by first packet, paged by (first_ms, id). Nothing here writes.

import type Database from 'better-sqlite3';
import type { Anomaly } from '../types.js';
import type { StateDb } from './db.js';

/** Which anomalies; every given field must hold. */
export interface AnomalyFilter {
  /** ms since epoch: anomalies whose last occurrence is at or after this */
  from?: number;
  /** ms since epoch: anomalies whose first packet is at or before this */
  to?: number;
  /** any of these kinds */
  kinds?: readonly string[];
  /** any of these severities */
  severities?: readonly string[];
  /** the device's name (as anomalies carry it) or its MAC */
  device?: string;
  state?: 'open' | 'closed';
}

/** A place in the newest-first order: the page goes on with anomalies older than this. */
export interface AnomalyPosition {
  firstMs: number;
  id: string;
}

export interface AnomalyRow {
  anomaly: Anomaly;
  /** its first packet, ms: with id, the row's place in the order */
  firstMs: number;
}

/** kind, severity and how many, for the open-anomalies gauge. */
export interface AnomalyCount {
  kind: string;
  severity: string;
  count: number;
}

/** Statements are prepared once per shape of filter (at most 2^7 shapes) and kept. */
export class AnomalyQuery {
  private readonly stmts = new Map<string, Database.Statement<unknown[]>>();

  constructor(private readonly db: StateDb) {}

  /**
   * At most `limit` anomalies matching `filter`, newest first by first packet (then id,
   * descending), strictly after `after` in that order when given.
   */
  list(filter: AnomalyFilter, limit: number, after?: AnomalyPosition): AnomalyRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.from !== undefined) { where.push('last_ms >= ?'); args.push(Math.trunc(filter.from)); }
    if (filter.to !== undefined) { where.push('first_ms <= ?'); args.push(Math.trunc(filter.to)); }
    if (filter.kinds?.length) { where.push(`kind IN (${filter.kinds.map(() => '?').join(', ')})`); args.push(...filter.kinds); }
    if (filter.severities?.length) {
      where.push(`severity IN (${filter.severities.map(() => '?').join(', ')})`);
      args.push(...filter.severities);
    }
    if (filter.device !== undefined) {
      where.push("(device = ? OR json_extract(body, '$.mac') = ?)");
      args.push(filter.device, filter.device.toLowerCase());
    }
    if (filter.state !== undefined) { where.push('state = ?'); args.push(filter.state); }
    if (after !== undefined) {
      // a row value: an index on (first_ms, id) serves it and the ORDER BY as one range walk
      where.push('(first_ms, id) < (?, ?)');
      args.push(Math.trunc(after.firstMs), after.id);
    }
    const sql = `SELECT first_ms, body FROM anomalies${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
      ORDER BY first_ms DESC, id DESC LIMIT ?`;
    args.push(Math.max(0, Math.floor(limit)));
    this.db.commitBatch();
    const rows = this.prepare(sql).all(...args) as Array<{ first_ms: number; body: string }>;
    const out: AnomalyRow[] = [];
    for (const r of rows) {
      const a = parse(r.body);
      if (a) out.push({ anomaly: a, firstMs: r.first_ms });
    }
    return out;
  }

  /** The anomaly with this id, open or closed (until its retention ends). */
  get(id: string): Anomaly | undefined {
    this.db.commitBatch();
    const r = this.prepare('SELECT body FROM anomalies WHERE id = ?').get(id) as { body: string } | undefined;
    return r ? parse(r.body) : undefined;
  }

  /** How many anomalies are open now, by kind and severity. */
  openCounts(): AnomalyCount[] {
    this.db.commitBatch();
    return this.prepare(`SELECT kind, severity, count(*) AS count FROM anomalies WHERE state = 'open'
      GROUP BY kind, severity ORDER BY kind, severity`).all() as AnomalyCount[];
  }

  private prepare(sql: string): Database.Statement<unknown[]> {
    let st = this.stmts.get(sql);
    if (st === undefined) {
      st = this.db.connection.prepare<unknown[]>(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }
}

/** A row this version cannot read is skipped, as StateDb.openAnomalies does. */
function parse(body: string): Anomaly | undefined {
  try {
    return JSON.parse(body) as Anomaly;
  } catch {
    return undefined;
  }
}
