// The state database as a sink: every anomaly lifecycle event and every device change is
// kept, so the next run resumes them (assemble.ts reads them back). It is the first sink:
// its batch commits before any other sink's write leaves the process.

import type { Anomaly, AnomalyEvent, CollectorStats, Device, Log, Sink } from '../types.js';
import type { InventoryView } from '../inventory/types.js';
import { causeKey } from '../detect/lifecycle.js';
import type { StateDb } from './db.js';

export interface StateSinkOptions {
  /** closed anomalies are kept this long after their last occurrence, ms (default 30 days) */
  retentionMs?: number;
  /** how often devices' lastSeen is brought up to date, ms of the collector's clock (default 60 s) */
  seenEveryMs?: number;
  log?: Log;
}

const DAY = 86_400_000;

export class StateSink implements Sink {
  readonly name = 'state';
  private inventory: InventoryView | null = null;
  /** lastSeen as last written, by device id */
  private readonly written = new Map<string, number>();
  private nextSeen = 0;
  private nextPrune = 0;
  private readonly retentionMs: number;
  private readonly seenEveryMs: number;
  private failuresLogged = 0;

  constructor(readonly db: StateDb, private readonly opts: StateSinkOptions = {}) {
    this.retentionMs = opts.retentionMs ?? 30 * DAY;
    this.seenEveryMs = opts.seenEveryMs ?? 60_000;
  }

  /** The inventory whose devices' lastSeen this sink keeps up to date. */
  attach(inventory: InventoryView): void {
    this.inventory = inventory;
    // what it holds now came from the state: its lastSeen is what is written
    for (const d of inventory.devices()) if (!this.written.has(d.id)) this.written.set(d.id, d.lastSeen);
  }

  anomaly(a: Anomaly, event: AnomalyEvent): void {
    this.db.saveAnomaly(a, event, causeKey(a.device, a.kind, a.peer, a.peerPort, a.rule));
  }

  device(d: Device): void {
    this.db.saveDevice(d);
    this.written.set(d.id, d.lastSeen);
  }

  /** The collector's clock (every 10 s): lastSeen now and then, old closed anomalies hourly. */
  collector(s: CollectorStats): void {
    if (s.time >= this.nextSeen) {
      this.nextSeen = s.time + this.seenEveryMs;
      this.writeSeen();
    }
    if (s.time >= this.nextPrune) {
      this.nextPrune = s.time + 3_600_000;
      const n = this.db.pruneClosed(s.time - this.retentionMs);
      if (n > 0) this.opts.log?.info({ anomalies: n }, 'state: forgot closed anomalies past their retention');
    }
    this.reportFailures();
  }

  async flush(): Promise<void> {
    this.writeSeen();
    this.commit();
  }

  async close(): Promise<void> {
    this.writeSeen();
    this.commit();
    this.db.close();
  }

  private writeSeen(): void {
    if (!this.inventory) return;
    for (const d of this.inventory.devices()) {
      const w = this.written.get(d.id);
      if (w === undefined || d.lastSeen <= w) continue;
      this.db.deviceSeen(d.id, d.lastSeen);
      this.written.set(d.id, d.lastSeen);
    }
  }

  private commit(): void {
    try {
      this.db.commitBatch();
    } catch { /* counted by the database, reported below */ }
    this.reportFailures();
  }

  private reportFailures(): void {
    if (this.db.failures > this.failuresLogged) {
      this.failuresLogged = this.db.failures;
      this.opts.log?.error({ failures: this.db.failures, err: this.db.lastError }, 'state: a write to the state database failed (is the disk full?)');
    }
  }
}
