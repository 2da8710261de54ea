// Prometheus metrics of one API instance: a Registry of its own (never prom-client's
// global default, so two collectors or two tests never share series), filled from
// the facade at scrape time rather than updated on the hot path.

import { Counter, Gauge, Registry } from 'prom-client';
import { ANOMALY_KINDS } from '../types.js';
import type { CapEvictions, CollectorCounters, CollectorFacade } from './facade.js';

/** What capEvictions() reads: the pipeline's stages, structurally (the API does not import the pipeline). */
export interface CappedStages {
  flows: { stats(): { evicted: number } };
  inventory: { capStats(): { devicesEvicted: number; dnsNamesEvicted: number } };
  detect?: { stats(): Record<string, number> } | null;
}

/** The eviction counters of every capped structure (README "Limits"), for CollectorCounters.evictions. */
export function capEvictions(p: CappedStages): CapEvictions {
  const inv = p.inventory.capStats();
  const d = p.detect?.stats() ?? {};
  return {
    flows: p.flows.stats().evicted, devices: inv.devicesEvicted, dnsNames: inv.dnsNamesEvicted,
    scanSources: d.scanHostsEvicted ?? 0, scanPairs: d.scanPortsEvicted ?? 0, anomalies: d.closedAtCap ?? 0,
    parked: d.parkedEvicted ?? 0,
  };
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** Reads the facade once and renders the exposition text. */
  scrape(): Promise<string>;
}

/** A counter from the facade may be missing or garbage; a scrape must still succeed. */
function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

export function createMetrics(facade: CollectorFacade): Metrics {
  const registry = new Registry();
  // One snapshot per scrape so every series in one exposition agrees with the others.
  let snap: CollectorCounters | null = null;
  const read = (): CollectorCounters => snap ?? facade.counters();

  // prom-client counters have no set(): reset then add the facade's running total.
  const total = (name: string, help: string, pick: (c: CollectorCounters) => number) =>
    new Counter({
      name, help, registers: [registry],
      collect() { this.reset(); this.inc(num(pick(read()))); },
    });
  const gauge = (name: string, help: string, pick: (c: CollectorCounters) => number) =>
    new Gauge({
      name, help, registers: [registry],
      collect() { this.set(num(pick(read()))); },
    });

  total('segwatch_packets_total', 'Frames read by the collector.', (c) => c.packets);
  total('segwatch_bytes_total', 'Bytes of the frames read (IP length).', (c) => c.bytes);
  total('segwatch_decode_errors_total', 'Frames that failed to decode and were skipped.', (c) => c.decodeErrors);
  total('segwatch_flows_total', 'Flows opened.', (c) => c.flows);
  total('segwatch_direction_unknown_total', 'Flows of watched devices whose first packet (not a SYN) could not tell who opened them: nobody was judged as their opener.',
    (c) => c.directionUnknown ?? 0);
  gauge('segwatch_flows_active', 'Flows in the flow table now.', (c) => c.flowsActive);
  total('segwatch_drops_total', 'Frames or records lost by sources or queues (for a live capture: the sum of the three below).', (c) => c.drops);
  total('segwatch_capture_kernel_drops_total', 'Live capture: packets the kernel dropped, its capture buffer full (libpcap ps_drop; --buffer-size-mb).', (c) => c.capture?.kernel ?? 0);
  total('segwatch_capture_interface_drops_total', 'Live capture: packets the interface or its driver dropped (libpcap ps_ifdrop).', (c) => c.capture?.interface ?? 0);
  total('segwatch_capture_ring_drops_total', 'Live capture: decoded packets dropped because the capture thread\'s ring to the pipeline was full (the pipeline fell behind).', (c) => c.capture?.ring ?? 0);
  total('segwatch_netflow_datagrams_total', 'NetFlow/IPFIX export datagrams received.', (c) => c.netflow?.datagrams ?? 0);
  total('segwatch_netflow_records_total', 'NetFlow/IPFIX export records decoded.', (c) => c.netflow?.records ?? 0);
  total('segwatch_netflow_refused_total', 'NetFlow/IPFIX datagrams from exporters outside the allowlist, dropped.', (c) => c.netflow?.refused ?? 0);
  total('segwatch_netflow_filtered_total', 'NetFlow/IPFIX records of interfaces not kept (netflow_interfaces), dropped.', (c) => c.netflow?.filtered ?? 0);
  total('segwatch_netflow_malformed_total', 'NetFlow/IPFIX datagrams that failed to decode.', (c) => c.netflow?.malformed ?? 0);
  total('segwatch_netflow_lost_records_total', 'NetFlow/IPFIX export missing by the exporters\' sequence numbers: records for v5 and IPFIX, export packets for v9 (its sequence numbers count packets).', (c) => c.netflow?.lost ?? 0);
  total('segwatch_mud_urls_rejected_total', 'MUD URLs announced by devices (DHCP, LLDP) and refused: not https, too long or unprintable.', (c) => c.mud?.urlsRejected ?? 0);
  gauge('segwatch_mud_profiles_loaded', 'MUD files loaded and judging the devices that announce them.', (c) => c.mud?.profilesLoaded ?? 0);
  total('segwatch_mud_load_failures_total', 'MUD files that could not be loaded (fetch refused or failed, signature not verified, not compilable); retried after an hour.', (c) => c.mud?.loadFailures ?? 0);
  total('segwatch_learning_held_back_total', 'Findings (policy.violation, volume.limit, device.new) held back for devices in their learning period (run --learn-for).', (c) => c.heldBack ?? 0);
  // What each cap (README "Limits") pushed out: 0 unless the cap was reached.
  total('segwatch_flows_evicted_total', 'Flows ended early at the flow table\'s cap (max_flows), least recently seen first.', (c) => c.evictions?.flows ?? 0);
  total('segwatch_devices_evicted_total', 'Devices forgotten at the inventory\'s cap, first seen first (passing over ones seen in the last minute).', (c) => c.evictions?.devices ?? 0);
  total('segwatch_dns_names_evicted_total', 'DNS names dropped at the DNS name cache\'s cap (dnsMaxEntries, or 16 per client and address).', (c) => c.evictions?.dnsNames ?? 0);
  total('segwatch_scan_sources_evicted_total', 'Sources the scan.hosts detector stopped tracking at its cap (scanMaxSources).', (c) => c.evictions?.scanSources ?? 0);
  total('segwatch_scan_pairs_evicted_total', 'Source and target pairs the scan.ports detector stopped tracking at its cap (16 x scanMaxSources).', (c) => c.evictions?.scanPairs ?? 0);
  total('segwatch_anomalies_closed_at_cap_total', 'Anomalies closed early (close reason capacity) at the anomaly store\'s cap (anomalyMaxOpen).', (c) => c.evictions?.anomalies ?? 0);
  total('segwatch_parked_flows_evicted_total', 'Flows awaiting a TLS SNI or HTTP Host name judged early, without it, at the cap (parkMax).', (c) => c.evictions?.parked ?? 0);
  gauge('segwatch_spool_bytes', 'Bytes waiting in the on-disk spool.', (c) => c.spoolBytes);
  gauge('segwatch_anomalies_open', 'Anomalies open now (their cause has not been quiet for the idle time yet).', (c) => c.anomaliesOpen ?? 0);
  total('segwatch_stage_errors_total', 'Frames, records or ticks a stage failed on (a bug): counted and skipped, never fatal.', (c) => c.stageErrors ?? 0);
  gauge('segwatch_start_time_seconds', 'When the collector started, seconds since epoch.', (c) => num(c.startedAt) / 1000);

  new Counter({
    name: 'segwatch_anomalies_total',
    help: 'Anomalies opened, by kind (repeats while one is open raise its count, not this).',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const byKind = read().anomaliesByKind ?? {};
      // Every known kind appears, at 0 when none was seen, so rate() has a series from the start.
      for (const kind of ANOMALY_KINDS) this.inc({ kind }, num(byKind[kind]));
      for (const kind of Object.keys(byKind)) {
        if (!(ANOMALY_KINDS as readonly string[]).includes(kind)) this.inc({ kind }, num(byKind[kind]));
      }
    },
  });

  // Opened and open now by kind and severity: opened from the lifecycle's 'opened' events since
  // start, open from the state database (every open anomaly, restored ones included).
  const byKindAndSeverity = (kind: 'counter' | 'gauge', name: string, help: string, pick: () => Array<{ kind: string; severity: string; count: number }>) => {
    const collect = function (this: Counter<'kind' | 'severity'> | Gauge<'kind' | 'severity'>) {
      this.reset();
      for (const c of pick()) {
        const labels = { kind: c.kind, severity: c.severity };
        if (this instanceof Gauge) this.set(labels, num(c.count));
        else this.inc(labels, num(c.count));
      }
    };
    const cfg = { name, help, labelNames: ['kind', 'severity'] as const, registers: [registry], collect };
    return kind === 'counter' ? new Counter(cfg) : new Gauge(cfg);
  };
  byKindAndSeverity('counter', 'segwatch_anomalies_opened_total', 'Anomalies opened since start, by kind and severity.',
    () => facade.openedAnomalyCounts?.() ?? []);
  byKindAndSeverity('gauge', 'segwatch_anomalies_open_by_kind', 'Anomalies open now, by kind and severity (restored after a restart included).',
    () => facade.openAnomalyCounts?.() ?? []);

  // Alert channels, one series per channel (few: the config names them). Read once per scrape.
  let alerts: ReturnType<NonNullable<CollectorFacade['alertStats']>> | null = null;
  const readAlerts = () => (alerts ??= facade.alertStats?.() ?? []);
  const perChannel = (kind: 'counter' | 'gauge', name: string, help: string, pick: (a: ReturnType<typeof readAlerts>[number]) => number) => {
    const collect = function (this: Counter<'channel' | 'type'> | Gauge<'channel' | 'type'>) {
      this.reset();
      for (const a of readAlerts()) {
        const labels = { channel: a.channel, type: a.type };
        if (this instanceof Gauge) this.set(labels, num(pick(a)));
        else this.inc(labels, num(pick(a)));
      }
    };
    const cfg = { name, help, labelNames: ['channel', 'type'] as const, registers: [registry], collect };
    return kind === 'counter' ? new Counter(cfg) : new Gauge(cfg);
  };
  perChannel('counter', 'segwatch_alert_deliveries_total', 'Alerts a channel delivered (acknowledged by the receiver).', (a) => a.delivered);
  perChannel('counter', 'segwatch_alert_failures_total', 'Alerts given up: the receiver refused them for good (a 4xx but 429, a rejected recipient).', (a) => a.failed);
  perChannel('counter', 'segwatch_alert_retries_total', 'Tries that failed and will be retried (the channel down, a 5xx or a 429).', (a) => a.retries);
  perChannel('counter', 'segwatch_alert_dropped_total', 'Alerts dropped from a full or expired outbox, never delivered.', (a) => a.dropped);
  perChannel('gauge', 'segwatch_alert_outbox', 'Alerts waiting in the channel\'s outbox now.', (a) => a.outbox);

  return {
    registry,
    contentType: registry.contentType,
    async scrape() {
      snap = facade.counters();
      alerts = null;
      try {
        return await registry.metrics();
      } finally {
        snap = null;
        alerts = null;
      }
    },
  };
}
