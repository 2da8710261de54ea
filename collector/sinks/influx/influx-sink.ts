// The InfluxDB sink: batches points as line protocol, writes them over the v1
// HTTP API (InfluxDB 1.x; 2.x/3.x through their v1-compatible API), and spools
// to disk whatever cannot be delivered, replaying it in order later.
//
// Delivery is one request at a time, in cut order. While the spool holds
// anything, new batches go behind it, so replay keeps time order across an
// outage. Duplicated delivery (a request that succeeded but whose answer was
// lost, a crash between a write and the spool's acknowledgement) is harmless:
// every point carries an explicit timestamp and InfluxDB overwrites a point
// with the same measurement, tags and time (see points.ts on anomaly keys).

import type { IncomingMessage } from 'node:http';
import { InfluxDB } from 'influx';
import { Pool } from 'influx/lib/src/pool.js';
import type { IBackoffStrategy } from 'influx/lib/src/backoff/backoff.js';
import type { Anomaly, AnomalyEvent, CollectorStats, Device, DeviceTraffic, Log, Sink } from '../../types.js';
import { silentLog } from '../../types.js';
import { serializePoint, type Point } from './line-protocol.js';
import {
  anomalyIdentity, anomalyPoint, collectorPoint, devicePoint, deviceTrafficPoint, SeriesTimeGuard,
} from './points.js';
import { resolveInfluxSettings, type InfluxSinkSettings, type ResolvedInfluxSettings } from './settings.js';
import { Spool } from './spool.js';
import { classifyWriteError, offendingLines, type WriteOutcome } from './write-errors.js';

export interface InfluxSinkContext {
  log?: Log;
}

/** Counters for the `collector` measurement and the Prometheus metrics. Points unless named otherwise. */
export interface InfluxSinkStats {
  /** accepted by InfluxDB (a replayed duplicate counts again). */
  written: number;
  /** put in the spool (cumulative). */
  spooled: number;
  /** spool size on disk now. */
  spoolBytes: number;
  /** batches and points waiting in the spool now. */
  spoolBatches: number;
  spoolPoints: number;
  /** refused because the spool was full or its disk write failed. */
  dropped: number;
  /** rejected by InfluxDB (4xx) or not serialisable (no field left). */
  failedPoints: number;
  /** torn or corrupt spool records skipped. */
  spoolCorrupt: number;
  spoolFull: boolean;
  /** false while deliveries fail and the sink waits to retry. */
  up: boolean;
  /** in memory, not yet written nor spooled. */
  pending: number;
}

interface Batch {
  lines: string[];
  body: string;
}

/** Never lets the pool park a host: the sink does its own backoff and must see every failure. */
const noBackoff: IBackoffStrategy = {
  getDelay: () => 0,
  next: () => noBackoff,
  reset: () => noBackoff,
};

/** how long an opening waits for others to share its write, ms. */
const OPEN_WRITE_DELAY_MS = 20;

function batchOf(lines: string[]): Batch {
  return { lines, body: lines.join('\n') };
}

export class InfluxSink implements Sink {
  readonly name = 'influx';
  readonly settings: ResolvedInfluxSettings;
  private readonly log: Log;
  private readonly spool: Spool;
  private readonly pool: Pool;
  private readonly admin: InfluxDB | null;
  private readonly guard = new SeriesTimeGuard();
  /** the write an opening scheduled, if one is pending. */
  private soon: NodeJS.Timeout | null = null;
  private lines: string[] = [];
  private readonly ready: Batch[] = [];
  private inflight: Batch | null = null;
  private inflightSpooled = false;
  private loop: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 0;
  private readonly flushTimer: NodeJS.Timeout;
  private dbReady: boolean;
  private serverV1: boolean | null = null;
  private stopping = false;
  private closed = false;
  private written = 0;
  private spooled = 0;
  private failedPoints = 0;

  private constructor(settings: ResolvedInfluxSettings, ctx: InfluxSinkContext) {
    this.settings = settings;
    this.log = ctx.log ?? silentLog;
    this.spool = Spool.open({ dir: settings.spoolDir, maxBytes: settings.spoolMaxBytes, log: this.log });
    const headers: Record<string, string> = {};
    if (settings.token) headers.Authorization = `Token ${settings.token}`;
    this.pool = new Pool({ maxRetries: 0, requestTimeout: settings.timeoutMs, backoff: noBackoff });
    this.pool.addHost(settings.baseUrl, { headers });
    // The admin client sends Basic auth (root:root when no user is set), which
    // would override a token, so with a token it is not used (2.x/3.x: DBRP, see README).
    this.admin = settings.createDatabase && !settings.token
      ? new InfluxDB({
        host: settings.host, port: settings.port, protocol: settings.protocol,
        database: settings.database, username: settings.username, password: settings.password,
        pool: { maxRetries: 0, requestTimeout: settings.timeoutMs, backoff: noBackoff },
      })
      : null;
    this.dbReady = this.admin === null;
    this.flushTimer = setInterval(() => { this.cut(); this.kick(); }, settings.flushIntervalMs);
    this.flushTimer.unref();
  }

  /**
   * Opens the spool and tries once (bounded by timeoutMs) to create the database
   * and retention policy. InfluxDB being down is not an error: the sink spools
   * and creates the database when it answers. Throws only on invalid settings or
   * an unusable spool directory.
   */
  static async open(settings: InfluxSinkSettings, ctx: InfluxSinkContext = {}): Promise<InfluxSink> {
    const sink = new InfluxSink(resolveInfluxSettings(settings), ctx);
    if (sink.admin) await sink.ensureDatabase();
    sink.kick();
    return sink;
  }

  /**
   * Every lifecycle event rewrites the anomaly's one point (same tags and time, new fields).
   * An opening is what someone is waiting for: it goes out within a few ms, not at the
   * next batch interval (a burst of openings still shares one write).
   */
  anomaly(a: Anomaly, event?: AnomalyEvent): void {
    const p = anomalyPoint(a);
    this.guard.place(p, anomalyIdentity(a));
    this.push(p);
    if (event === 'opened' && this.soon === null && !this.stopping) {
      this.soon = setTimeout(() => { this.soon = null; this.cut(); this.kick(); }, OPEN_WRITE_DELAY_MS);
      this.soon.unref();
    }
  }

  deviceTraffic(t: DeviceTraffic): void {
    this.push(deviceTrafficPoint(t));
  }

  device(d: Device): void {
    this.push(devicePoint(d));
  }

  collector(s: CollectorStats): void {
    this.push(collectorPoint(s));
  }

  /** Any point (for measurements beyond DESIGN.md's four). Never throws. */
  point(p: Point): void {
    this.push(p);
  }

  private push(p: Point): void {
    if (this.closed) return;
    let line: string | null;
    try {
      line = serializePoint(p);
    } catch {
      line = null;
    }
    if (line === null) {
      this.failedPoints++;
      return;
    }
    this.lines.push(line);
    if (this.lines.length >= this.settings.batchSize) {
      this.cut();
      this.kick();
    }
  }

  stats(): InfluxSinkStats {
    const sp = this.spool.stats();
    return {
      written: this.written,
      spooled: this.spooled,
      spoolBytes: sp.bytes,
      spoolBatches: sp.batches,
      spoolPoints: sp.points,
      dropped: sp.refusedPoints,
      failedPoints: this.failedPoints,
      spoolCorrupt: sp.corrupt,
      spoolFull: sp.full,
      up: this.retryTimer === null,
      pending: this.lines.length + this.ready.reduce((n, b) => n + b.lines.length, 0),
    };
  }

  /** Cuts the pending points into a batch and queues it (or spools it, to stay behind a backlog). */
  private cut(): void {
    if (this.lines.length === 0) return;
    const b = batchOf(this.lines);
    this.lines = [];
    if (!this.spool.empty || this.retryTimer !== null) {
      this.toSpool(b);
      return;
    }
    this.ready.push(b);
    if (this.ready.length > this.settings.maxQueuedBatches) {
      // InfluxDB is slow: bound memory. The batch in flight is spooled too, ahead
      // of the rest, so order holds whether it then succeeds (a harmless duplicate
      // on replay) or fails (already in place).
      if (this.inflight && !this.inflightSpooled) {
        this.toSpool(this.inflight);
        this.inflightSpooled = true;
      }
      this.spoolReady();
    }
  }

  private toSpool(b: Batch): void {
    if (this.spool.append(b.body, b.lines.length)) this.spooled += b.lines.length;
  }

  private spoolReady(): void {
    for (const b of this.ready) this.toSpool(b);
    this.ready.length = 0;
  }

  private kick(): void {
    if (this.loop || this.retryTimer !== null) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      if (!this.stopping && this.retryTimer === null && (this.ready.length > 0 || !this.spool.empty)) this.kick();
    });
  }

  /** Delivers queued batches, then the spool, until both are empty or a delivery must wait. */
  private async run(): Promise<void> {
    for (;;) {
      if (this.retryTimer !== null) return;
      if (!this.dbReady) {
        const r = await this.ensureDatabase();
        if (!r) {
          this.spoolReady();
          this.failed('database could not be created');
          return;
        }
      }
      const b = this.ready.shift();
      if (b) {
        this.inflight = b;
        this.inflightSpooled = false;
        const r = await this.write(b.body);
        const spooledCopy = this.inflightSpooled;
        this.inflight = null;
        this.inflightSpooled = false;
        if (r.ok) {
          this.delivered(b.lines.length);
        } else if (r.retry) {
          if (!spooledCopy) this.toSpool(b);
          this.spoolReady();
          this.failed(r.reason, r);
          return;
        } else {
          await this.rejected(b, r);
        }
        continue;
      }
      if (this.stopping) return;
      const rec = this.spool.peek();
      if (!rec) return;
      const r = await this.write(rec.body);
      if (r.ok) {
        this.spool.ack();
        this.delivered(rec.points);
      } else if (r.retry) {
        this.failed(r.reason, r);
        return;
      } else {
        await this.rejected(batchOf(rec.body.split('\n')), r);
        this.spool.ack();
      }
    }
  }

  private delivered(points: number): void {
    this.written += points;
    if (this.retryDelay !== 0) {
      this.log.info({ url: this.settings.baseUrl, spoolBatches: this.spool.batches },
        'InfluxDB answers again: replaying the spool');
      this.retryDelay = 0;
    }
  }

  private failed(reason: string, r?: WriteOutcome): void {
    if (r && !r.ok && r.retry && r.databaseMissing) this.dbReady = this.admin === null;
    const first = this.retryDelay === 0;
    this.retryDelay = first
      ? this.settings.retryMinMs
      : Math.min(this.settings.retryMaxMs, this.retryDelay * 2);
    if (first) {
      this.log.warn({ url: this.settings.baseUrl, reason, status: r && !r.ok ? r.status : undefined },
        'InfluxDB write failed: spooling to disk and retrying');
    }
    if (this.stopping) return;
    const delay = Math.round(this.retryDelay * (0.8 + 0.4 * Math.random()));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * A 4xx for bad points: logs them and moves on. InfluxDB 1.x has already
   * written the good points of the batch; 2.x may have written none, so other
   * servers get the remainder again (a duplicate for those that kept it).
   */
  private async rejected(b: Batch, r: Extract<WriteOutcome, { retry: false }>): Promise<void> {
    const bad = offendingLines(b.lines, r.reason);
    // 1.x: "dropped=N" counts points that parsed but were refused; unparsable lines come on top.
    const unparsable = r.reason.split("unable to parse '").length - 1;
    const n = Math.min(b.lines.length, (unparsable + (r.dropped ?? 0)) || bad.length || b.lines.length);
    this.failedPoints += n;
    this.written += Math.max(0, b.lines.length - n);
    this.log.error({ status: r.status, reason: r.reason, points: bad.slice(0, 10), rejected: n },
      'InfluxDB rejected points: logged and skipped');
    if (this.serverV1 === false && bad.length > 0 && bad.length < b.lines.length) {
      const badSet = new Set(bad);
      const rest = b.lines.filter((l) => !badSet.has(l));
      const r2 = await this.write(rest.join('\n'));
      if (!r2.ok && r2.retry) this.toSpool(batchOf(rest));
    }
  }

  private async write(body: string): Promise<WriteOutcome> {
    const query: Record<string, string> = { db: this.settings.database };
    if (this.settings.retentionPolicy) query.rp = this.settings.retentionPolicy.name;
    const s = this.settings;
    try {
      await new Promise<void>((resolve, reject) => {
        this.pool.stream({
          method: 'POST', path: '/write', query, body,
          auth: s.username !== undefined && !s.token ? `${s.username}:${s.password ?? ''}` : undefined,
          headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        }, (err, res) => {
          this.noteVersion(err ? (err as { res?: IncomingMessage }).res : res);
          if (err) return reject(err);
          res.on('error', reject);
          res.on('end', () => resolve());
          res.resume();
        });
      });
      return { ok: true };
    } catch (err) {
      return classifyWriteError(err);
    }
  }

  /** 1.x writes the good points of a batch it partly rejects; later versions may not. */
  private noteVersion(res: IncomingMessage | undefined | null): void {
    if (this.serverV1 !== null || !res) return;
    const v = res.headers?.['x-influxdb-version'];
    if (typeof v === 'string' && v) this.serverV1 = /^v?1\./.test(v);
  }

  /** CREATE DATABASE (and RETENTION POLICY) when missing. False when InfluxDB did not answer. */
  private async ensureDatabase(): Promise<boolean> {
    const admin = this.admin;
    if (!admin) return true;
    const { database, retentionPolicy: rp } = this.settings;
    try {
      const names = await admin.getDatabaseNames();
      if (!names.includes(database)) {
        await admin.createDatabase(database);
        this.log.info({ database }, 'created InfluxDB database');
      }
      if (rp) {
        const rps = await admin.showRetentionPolicies(database);
        if (!rps.some((x) => x.name === rp.name)) {
          await admin.createRetentionPolicy(rp.name, {
            database, duration: rp.duration, replication: 1, isDefault: rp.default,
          });
          this.log.info({ database, rp: rp.name, duration: rp.duration }, 'created InfluxDB retention policy');
        }
      }
      this.dbReady = true;
      return true;
    } catch (err) {
      const r = classifyWriteError(err);
      if (!r.ok && !r.retry) {
        // e.g. a user without admin rights: the database may well exist; writes will tell.
        this.log.warn({ database, reason: r.reason }, 'could not create InfluxDB database or retention policy');
        this.dbReady = true;
        return true;
      }
      return false;
    }
  }

  /** Delivers the pending points now; what InfluxDB does not take goes to the spool. */
  async flush(): Promise<void> {
    this.cut();
    this.kick();
    while (this.loop) await this.loop;
  }

  /** Flushes without starting a long replay, stops timers, closes the spool (its contents stay for the next run). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    clearInterval(this.flushTimer);
    if (this.soon !== null) clearTimeout(this.soon);
    this.soon = null;
    this.cut();
    if (this.retryTimer === null) this.kick();
    while (this.loop) await this.loop;
    this.spoolReady();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closed = true;
    this.spool.close();
  }
}
