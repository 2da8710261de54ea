// The state directory and its SQLite database (DESIGN.md `state/`): what must survive a
// restart or a crash of the collector. The device inventory, so a device is new once ever
// and keeps its name; every open anomaly, so it goes on under its id after a restart; closed
// anomalies for a while, for the API; and room (the migrations) for the alert outbox.
//
// Durability: WAL with synchronous=NORMAL. A commit is in the WAL file before COMMIT
// returns, so a kill -9 of segwatch at any moment loses no committed transaction and tears
// none (SQLite's journal makes each all or nothing); only a power cut can lose the last
// commits, and even that never corrupts the file. FULL would fsync at every commit, which an
// SD card pays for in milliseconds, on the thread that reads packets.
//
// Writes from the pipeline are batched: the first write of a synchronous stretch opens a
// transaction and a microtask commits it, so a burst of anomalies costs one commit, and the
// commit happens before any sink's asynchronous write (a file line, an InfluxDB point) can
// be acknowledged outside: what a receiver saw is always in the state when it restarts.

import { accessSync, chmodSync, constants, existsSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Anomaly, AnomalyEvent, Device } from '../types.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export const STATE_FILE = 'state.db';

/** ms: batches closer together than this commit together (see write()). */
const GROUP_MS = 20;

/** A state directory or database segwatch cannot use; the message says what to do. */
export class StateError extends Error {}

/** An anomaly kept open across a restart: the lifecycle resumes it. */
export interface StoredAnomaly {
  a: Anomaly;
  cause: string;
  /** first and last occurrence, ms */
  first: number;
  last: number;
}

type Stmt = Database.Statement;

export class StateDb {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly st: Record<'begin' | 'commit' | 'rollback' | 'upsertDevice' | 'deviceSeen' | 'devices' | 'upsertAnomaly' | 'openAnomalies' | 'anomalies' | 'prune' | 'getMeta' | 'setMeta', Stmt>;
  private batching = false;
  private closed = false;
  /** when the last batch committed (ms, monotonic), and the timer of a grouped commit */
  private lastCommit = -Infinity;
  private commitTimer: NodeJS.Timeout | null = null;
  /**
   * Run inside each batch's transaction just before it commits: a module that updates one
   * row many times in a batch (a count) writes it once here.
   */
  readonly beforeCommit: Array<() => void> = [];
  /** commits that failed (a full disk): logged by the caller, counted here */
  failures = 0;
  lastError = '';

  private constructor(readonly dir: string, db: Database.Database) {
    this.db = db;
    this.path = join(dir, STATE_FILE);
    const p = (sql: string) => db.prepare(sql);
    this.st = {
      begin: p('BEGIN'),
      commit: p('COMMIT'),
      rollback: p('ROLLBACK'),
      upsertDevice: p(`INSERT INTO devices (id, name, mac, ips, vendor, hostname, profile, segment, known, first_seen, last_seen, mud_url)
        VALUES (@id, @name, @mac, @ips, @vendor, @hostname, @profile, @segment, @known, @first_seen, @last_seen, @mud_url)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, mac = excluded.mac, ips = excluded.ips, vendor = excluded.vendor,
          hostname = excluded.hostname, profile = excluded.profile, segment = excluded.segment, known = excluded.known,
          mud_url = excluded.mud_url,
          first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`),
      deviceSeen: p('UPDATE devices SET last_seen = max(last_seen, ?) WHERE id = ?'),
      devices: p('SELECT * FROM devices ORDER BY first_seen, id'),
      upsertAnomaly: p(`INSERT INTO anomalies (id, cause, state, device, kind, severity, first_ms, last_ms, count, written_ms, body)
        VALUES (@id, @cause, @state, @device, @kind, @severity, @first_ms, @last_ms, @count, @written_ms, @body)
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, last_ms = max(last_ms, excluded.last_ms), count = excluded.count,
          written_ms = excluded.written_ms, body = excluded.body, device = excluded.device, severity = excluded.severity`),
      openAnomalies: p(`SELECT cause, first_ms, last_ms, body FROM anomalies WHERE state = 'open' ORDER BY first_ms, id`),
      anomalies: p(`SELECT body FROM anomalies ORDER BY first_ms DESC, id DESC LIMIT ?`),
      prune: p(`DELETE FROM anomalies WHERE state = 'closed' AND last_ms < ?`),
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /**
   * Opens (creating when needed) the state directory and its database, brought to the current
   * schema. Throws StateError saying what is wrong and how to choose another directory.
   */
  static open(dir: string): StateDb {
    const how = 'choose another with --state-dir DIR, SEGWATCH_STATE_DIR or state_dir: in the config file';
    try {
      makeDir(dir);
      accessSync(dir, constants.W_OK | constants.X_OK);
      // access() says yes to root on a read-only file system: only a write proves it
      const probe = join(dir, `.write-test-${process.pid}`);
      writeFileSync(probe, '');
      unlinkSync(probe);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StateError(`the state directory ${dir} cannot be created or written (${e.code ?? e.message}): ${how}`);
    }
    let db: Database.Database;
    try {
      db = new Database(join(dir, STATE_FILE));
      chmodSync(join(dir, STATE_FILE), 0o640);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // a backup or `sqlite3` reading the file beside the collector holds a lock only briefly
      db.pragma('busy_timeout = 5000');
      migrate(db);
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(`the state database ${join(dir, STATE_FILE)} cannot be used (${(err as Error).message}): ${how}, or restore it from a backup`);
    }
    return new StateDb(dir, db);
  }

  /**
   * The connection, for the other modules of state/ (outbox, anomaly queries) to prepare
   * their own statements; their writes go through write() so they join the batch.
   */
  get connection(): Database.Database {
    return this.db;
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** fn in one transaction, committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T {
    this.commitBatch();
    return this.db.transaction(fn)();
  }

  // ---- devices -------------------------------------------------------------------

  saveDevice(d: Device): void {
    this.write(() => this.st.upsertDevice.run({
      id: d.id, name: d.name, mac: d.mac, ips: JSON.stringify(d.ips), vendor: d.vendor, hostname: d.hostname,
      profile: d.profile, segment: d.segment, known: d.known ? 1 : 0, first_seen: Math.trunc(d.firstSeen), last_seen: Math.trunc(d.lastSeen),
      mud_url: d.mudUrl ?? '',
    }));
  }

  /** lastSeen moved on (no other field changed). */
  deviceSeen(id: string, lastSeen: number): void {
    this.write(() => this.st.deviceSeen.run(Math.trunc(lastSeen), id));
  }

  devices(): Device[] {
    this.commitBatch();
    return (this.st.devices.all() as DeviceRow[]).map((r) => ({
      id: r.id, name: r.name, mac: r.mac, ips: parseIps(r.ips), vendor: r.vendor, hostname: r.hostname,
      profile: r.profile, segment: r.segment, known: r.known === 1, firstSeen: r.first_seen, lastSeen: r.last_seen,
      ...(r.mud_url ? { mudUrl: r.mud_url } : {}),
    }));
  }

  // ---- anomalies -----------------------------------------------------------------

  /** A lifecycle event: the row follows the anomaly (open, its counts, closed). */
  saveAnomaly(a: Anomaly, _event: AnomalyEvent, cause: string): void {
    const first = Date.parse(a.firstSeen || a.time);
    const last = Date.parse(a.lastSeen || a.firstSeen || a.time);
    this.write(() => this.st.upsertAnomaly.run({
      id: a.id, cause, state: a.state, device: a.device, kind: a.kind, severity: a.severity,
      first_ms: Number.isFinite(first) ? first : 0, last_ms: Number.isFinite(last) ? last : 0, count: a.count,
      written_ms: Date.now(), body: JSON.stringify(a),
    }));
  }

  openAnomalies(): StoredAnomaly[] {
    this.commitBatch();
    const out: StoredAnomaly[] = [];
    for (const r of this.st.openAnomalies.all() as Array<{ cause: string; first_ms: number; last_ms: number; body: string }>) {
      try {
        out.push({ a: JSON.parse(r.body) as Anomaly, cause: r.cause, first: r.first_ms, last: r.last_ms });
      } catch { /* a row this version cannot read is skipped, not fatal: it stays for the next */ }
    }
    return out;
  }

  /** The newest anomalies by first packet, open and closed. */
  anomalies(limit: number): Anomaly[] {
    this.commitBatch();
    return (this.st.anomalies.all(limit) as Array<{ body: string }>).map((r) => JSON.parse(r.body) as Anomaly);
  }

  /** Forget closed anomalies whose last occurrence is older than beforeMs; returns how many. */
  pruneClosed(beforeMs: number): number {
    let n = 0;
    this.write(() => { n = this.st.prune.run(beforeMs).changes; });
    return n;
  }

  meta(key: string): string | undefined {
    return (this.st.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.write(() => this.st.setMeta.run(key, value));
  }

  // ---- batching ------------------------------------------------------------------

  /** Commit what the current batch holds now (a read, a stop). */
  commitBatch(): void {
    if (this.commitTimer) { clearTimeout(this.commitTimer); this.commitTimer = null; }
    if (!this.batching) return;
    // last writes of the batch (figures kept in memory meanwhile), inside its transaction
    for (const fn of this.beforeCommit) {
      try { fn(); } catch { /* a hook that fails must not cost the batch */ }
    }
    this.batching = false;
    this.lastCommit = performance.now();
    try {
      this.st.commit.run();
    } catch (err) {
      this.failures++;
      this.lastError = (err as Error).message;
      try { this.st.rollback.run(); } catch { /* already rolled back by SQLite */ }
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.commitBatch();
    } finally {
      this.closed = true;
      this.db.close();
    }
  }

  /** A write joins the current batch (one transaction, committed by a microtask). */
  write(write: () => void): void {
    if (this.closed) throw new StateError('the state database is closed');
    // inside transaction(): its writes are that transaction's
    if (!this.batching && !this.db.inTransaction) {
      this.st.begin.run();
      this.batching = true;
      const commit = () => {
        this.commitTimer = null;
        try { this.commitBatch(); } catch { /* counted in failures; the next write opens a new batch */ }
      };
      // Alone, a batch commits at the end of the current synchronous stretch. In a burst (a
      // scan, a capture read at full speed) batches that follow each other closely are
      // grouped, one commit per GROUP_MS: every commit rewrites the pages it touched, and
      // thousands a second cost more than the work they record.
      const since = performance.now() - this.lastCommit;
      if (since >= GROUP_MS) queueMicrotask(commit);
      else this.commitTimer = setTimeout(commit, GROUP_MS - since);
    }
    write();
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir never returns under /proc (it retries
 * ENOENT forever), and a wrong --state-dir must end in a message, not a spin.
 */
function makeDir(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d, { mode: 0o750 });
}

interface DeviceRow {
  id: string; name: string; mac: string; ips: string; vendor: string; hostname: string;
  profile: string; segment: string; known: number; first_seen: number; last_seen: number; mud_url: string;
}

function parseIps(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Brings the database to SCHEMA_VERSION; refuses one written by a newer segwatch. */
function migrate(db: Database.Database): void {
  const at = db.pragma('user_version', { simple: true }) as number;
  if (at > SCHEMA_VERSION) {
    throw new StateError(`the state database is at schema version ${at}, newer than this segwatch knows (${SCHEMA_VERSION}): run the newer version, or move the state directory aside`);
  }
  for (let v = at; v < SCHEMA_VERSION; v++) {
    const m = MIGRATIONS[v];
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`user_version = ${v + 1}`);
      })();
    } catch (err) {
      throw new StateError(`migrating the state database to version ${v + 1} (${m.what}) failed: ${(err as Error).message}`);
    }
  }
}
