// The read-only view of a running collector that the API sees (never its stages),
// and the bounded ring of recent anomalies the composition root feeds for it.

import type { Anomaly, AnomalyEvent, Device, FlowRecord, Sink } from '../types.js';
import type { ActiveFlowMatch } from '../flows/flow-table.js';
import type { CompiledPolicy, PolicyError } from '../policy/types.js';
import { AnomalyQuery, type AnomalyCount, type AnomalyFilter, type AnomalyPosition, type AnomalyRow } from '../state/anomaly-query.js';
import type { StateDb } from '../state/db.js';
import { appendException } from '../state/exceptions-file.js';
import type { ExceptionDoc } from '../policy/exceptions.js';
import { Oldest } from '../oldest.js';

export type { ActiveFlowMatch, AnomalyCount, AnomalyFilter, AnomalyPosition, AnomalyRow };

/** Collector-wide figures, read on each request or scrape; plain numbers, monotonic where named so. */
/** Per capped structure: entries pushed out to stay under its cap, since start. */
export interface CapEvictions {
  flows: number;
  devices: number;
  dnsNames: number;
  scanSources: number;
  scanPairs: number;
  anomalies: number;
  /** flows awaiting a server name, judged early at parkMax */
  parked: number;
}

export interface CollectorCounters {
  /** frames read since start. */
  packets: number;
  /** bytes of those frames, IP length. */
  bytes: number;
  decodeErrors: number;
  /** flows opened since start. */
  flows: number;
  /** flows in the table now. */
  flowsActive: number;
  /** anomalies opened since start. */
  anomalies: number;
  /** anomalies open now. */
  anomaliesOpen?: number;
  /** frames, records or ticks a stage failed on (bugs), since start. */
  stageErrors?: number;
  anomaliesByKind: Record<string, number>;
  /** frames or records lost (capture drops, full queues). */
  drops: number;
  /** bytes waiting in the sinks' on-disk spool. */
  spoolBytes: number;
  /** ms since epoch. */
  startedAt: number;
  /** flows whose first packet (not a SYN) could not tell who opened them; nobody was judged as their opener. */
  directionUnknown?: number;
  /** entries the capped structures pushed out (README "Limits"); see capEvictions() in metrics.ts. */
  evictions?: CapEvictions;
  /** MUD: announced URLs refused (not https, too long), MUD files loaded, loads that failed (fetch, signature, compile). */
  mud?: { urlsRejected: number; profilesLoaded: number; loadFailures: number };
  /** findings held back for devices in their learning period (run --learn-for). */
  heldBack?: number;
  /** NetFlow/IPFIX sources' figures, when any runs. */
  netflow?: import('../types.js').NetflowFigures;
  /** a live capture's drops by where (their sum is in drops). */
  capture?: import('../types.js').CaptureDrops;
  /** e.g. "pcap-live:eth0", "netflow:2055". */
  source: string;
  /** path or name of the policy in force. */
  policy: string;
}

/** The policy in force: where and when it was loaded, and what it defines. */
export interface PolicyInfo {
  /** absolute path of the policy file */
  file: string;
  /** ms since epoch of the load that put it in force */
  loadedAt: number;
  /** SHA-256 of the file's bytes as loaded, hex */
  sha256: string;
  /** the file's size in bytes */
  bytes: number;
  /** the 802.1Q VLAN watched, when the policy names one */
  vlan?: number;
  /** every profile the policy defines, with its byte limits */
  profiles: Array<{ name: string; bytesPerHour?: number; bytesPerDay?: number }>;
}

/** What a reload did: the new policy in force, or the errors that kept the last good one. */
export interface ReloadOutcome {
  reloaded: boolean;
  /** empty when reloaded */
  errors: PolicyError[];
  /** the policy in force after the attempt */
  policy: PolicyInfo | null;
}

/** One alert channel's delivery figures (the dispatcher's), since start except `outbox`. */
export interface AlertChannelStats {
  /** the channel's name in the config */
  channel: string;
  /** webhook, syslog, email, mqtt */
  type: string;
  /** messages the receiver acknowledged (a digest counts once) */
  delivered: number;
  /** alerts given up: the receiver refused them for good */
  failed: number;
  /** tries that failed and will be retried */
  retries: number;
  /** alerts waiting in the outbox now */
  outbox: number;
  /** alerts dropped from a full outbox */
  dropped: number;
}

/**
 * Every method beyond the first three is optional: a collector without a state database, a
 * policy watcher or alert channels leaves them out, and the API answers what it can without.
 */
export interface CollectorFacade {
  devices(): readonly Device[];
  /** at most `limit` anomalies, newest first. */
  recentAnomalies(limit: number): readonly Anomaly[];
  counters(): CollectorCounters;
  /** the state database's anomalies (open, and closed ones kept for a while): newest first by first packet. */
  findAnomalies?(filter: AnomalyFilter, limit: number, after?: AnomalyPosition): AnomalyRow[];
  /** one anomaly by id, from the state database. */
  anomaly?(id: string): Anomaly | undefined;
  /** anomalies open now, by kind and severity. */
  openAnomalyCounts?(): AnomalyCount[];
  /** anomalies opened since start, by kind and severity. */
  openedAnomalyCounts?(): AnomalyCount[];
  /** at most `limit` live flows of the flow table, as interim records. */
  activeFlows?(limit: number, match: ActiveFlowMatch): FlowRecord[];
  /** the policy in force; null before the first good load. */
  policy?(): PolicyInfo | null;
  /** reload the policy file now (as SIGHUP does). */
  reloadPolicy?(): Promise<ReloadOutcome>;
  /** the alert dispatcher's figures, one entry per channel. */
  alertStats?(): AlertChannelStats[];
  /**
   * Accept anomaly `id`'s behaviour: an exception for its device, kind, peer and port (until
   * `until`, default 30 days) in exceptions.yaml, then a policy reload. null: no such anomaly.
   */
  acknowledge?(id: string, comment: string, until?: string): Promise<{ exception: ExceptionDoc; reloaded: boolean } | null>;
  /** devices learned by `run --learn-for` and their proposals. */
  proposals?(): import('../learn/period.js').Proposal[];
  /** end a device's learning now: its learned profile is in force; undefined when no such device. */
  acceptProposal?(device: string): import('../learn/period.js').Proposal | undefined;
}

/** acknowledge() over the state database, exceptions.yaml beside it and the policy watcher. */
export function acknowledgeFacade(db: StateDb, exceptionsPath: string, reload: () => Promise<boolean>, now: () => number = Date.now): Required<Pick<CollectorFacade, 'acknowledge'>> {
  const q = new AnomalyQuery(db);
  return {
    async acknowledge(id, comment, until) {
      const a = q.get(id);
      if (!a) return null;
      const exception: ExceptionDoc = {
        device: a.device, kind: a.kind, ...(a.peer ? { peer: a.peer } : {}), ...(a.peerPort ? { port: a.peerPort } : {}),
        comment, until: until ?? new Date(now() + 30 * 86_400_000).toISOString().slice(0, 10),
      };
      appendException(exceptionsPath, exception);
      return { exception, reloaded: await reload() };
    },
  };
}

const SEVERITY_ORDER = ['info', 'low', 'medium', 'high', 'critical'];

/** An anomaly's first packet in ms (0 when its times are unreadable): its place in the order. */
export function firstMsOf(a: Anomaly): number {
  const t = Date.parse(a.firstSeen || a.time);
  return Number.isFinite(t) ? t : 0;
}

/**
 * AnomalyQuery.list() over anomalies held in memory (the ring), for a collector without a
 * state database: the same filter, order and paging, so the API behaves the same either way.
 */
export function filterAnomalies(all: readonly Anomaly[], f: AnomalyFilter, limit: number, after?: AnomalyPosition): AnomalyRow[] {
  const rows: AnomalyRow[] = [];
  for (const a of all) {
    const first = firstMsOf(a);
    const lastT = Date.parse(a.lastSeen || a.firstSeen || a.time);
    const last = Number.isFinite(lastT) ? lastT : 0;
    if (f.from !== undefined && last < f.from) continue;
    if (f.to !== undefined && first > f.to) continue;
    if (f.kinds?.length && !f.kinds.includes(a.kind)) continue;
    if (f.severities?.length && !f.severities.includes(a.severity)) continue;
    if (f.device !== undefined && a.device !== f.device && a.mac !== f.device.toLowerCase()) continue;
    if (f.state !== undefined && a.state !== f.state) continue;
    if (after !== undefined && !(first < after.firstMs || (first === after.firstMs && a.id < after.id))) continue;
    rows.push({ anomaly: a, firstMs: first });
  }
  rows.sort((x, y) => y.firstMs - x.firstMs || (x.anomaly.id < y.anomaly.id ? 1 : x.anomaly.id > y.anomaly.id ? -1 : 0));
  return rows.slice(0, Math.max(0, Math.floor(limit)));
}

/** The severities at or above `min` ("medium" gives medium, high, critical). */
export function severitiesFrom(min: string): string[] {
  const i = SEVERITY_ORDER.indexOf(min);
  return i < 0 ? [] : SEVERITY_ORDER.slice(i);
}

export const DEFAULT_RING_CAPACITY = 1000;

/**
 * The latest state of the most recent anomalies, one entry per id: an update or the closing
 * replaces the entry and makes it the newest. Bounded, so a burst of anomalies cannot grow
 * the collector's memory (the oldest entry goes first). It is a sink: it takes lifecycle
 * events like the others.
 */
export class AnomalyRing implements Sink {
  readonly name = 'api';
  readonly capacity: number;
  private readonly byId = new Map<string, Anomaly>();
  private readonly byIdOldest = new Oldest(this.byId);
  /** anomalies opened since start, by "kind\u0000severity" */
  private readonly opened = new Map<string, number>();

  constructor(capacity: number = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`AnomalyRing capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.byId.size;
  }

  anomaly(a: Anomaly, event?: AnomalyEvent): void {
    this.push(a);
    if (event === 'opened') {
      const k = `${a.kind}\u0000${a.severity}`;
      this.opened.set(k, (this.opened.get(k) ?? 0) + 1);
    }
  }

  /** anomalies opened since start (lifecycle 'opened' events), by kind and severity. */
  openedCounts(): AnomalyCount[] {
    const out: AnomalyCount[] = [];
    for (const [k, count] of this.opened) {
      const i = k.indexOf('\u0000');
      out.push({ kind: k.slice(0, i), severity: k.slice(i + 1), count });
    }
    return out;
  }

  push(a: Anomaly): void {
    const key = a.id || `#${this.byId.size}:${a.time}:${a.kind}:${a.device}:${a.peer}:${a.peerPort}`;
    this.byId.delete(key);
    this.byId.set(key, a);
    if (this.byId.size > this.capacity) this.byId.delete(this.byIdOldest.key()!);
  }

  /** the `n` most recently changed anomalies (fewer when fewer are held), newest first. */
  last(n: number): Anomaly[] {
    const k = Math.max(0, Math.min(Math.floor(n), this.byId.size));
    const all = [...this.byId.values()];
    const out: Anomaly[] = new Array<Anomaly>(k);
    for (let i = 0; i < k; i++) out[i] = all[all.length - 1 - i];
    return out;
  }

  clear(): void {
    this.byId.clear();
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** What the API needs of a policy watcher (collector/policy/watch.ts PolicyWatcher). */
export interface PolicySource {
  readonly path: string;
  currentOrNull(): CompiledPolicy | null;
  loaded(): { at: number; sha256: string; bytes: number } | null;
  reload(): Promise<boolean>;
  on(event: 'errors', fn: (errors: PolicyError[]) => void): unknown;
  off(event: 'errors', fn: (errors: PolicyError[]) => void): unknown;
}

/** The facade's policy and reloadPolicy over a policy watcher. */
export function policyFacade(w: PolicySource): Required<Pick<CollectorFacade, 'policy' | 'reloadPolicy'>> {
  const policy = (): PolicyInfo | null => {
    const p = w.currentOrNull();
    const l = w.loaded();
    if (!p || !l) return null;
    return {
      file: w.path, loadedAt: l.at, sha256: l.sha256, bytes: l.bytes, ...(p.vlan !== undefined ? { vlan: p.vlan } : {}),
      profiles: p.profiles().map((name) => ({ name, ...p.limits(name) })),
    };
  };
  return {
    policy,
    async reloadPolicy() {
      let errors: PolicyError[] = [];
      const onErrors = (e: PolicyError[]) => { errors = e; };
      w.on('errors', onErrors);
      try {
        const reloaded = await w.reload();
        return { reloaded, errors: reloaded ? [] : errors, policy: policy() };
      } finally {
        w.off('errors', onErrors);
      }
    },
  };
}

/** The facade's anomaly queries over the state database. */
export function stateFacade(db: StateDb): Required<Pick<CollectorFacade, 'findAnomalies' | 'anomaly' | 'openAnomalyCounts'>> {
  const q = new AnomalyQuery(db);
  return {
    findAnomalies: (f, limit, after) => q.list(f, limit, after),
    anomaly: (id) => q.get(id),
    openAnomalyCounts: () => q.openCounts(),
  };
}
