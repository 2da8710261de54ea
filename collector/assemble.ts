// Builds a collector from settings, for `run` and `replay` alike: the sinks (JSON lines,
// console, InfluxDB, the API's anomaly table), the pipeline with its stages and detectors,
// and, for `run`, the frame source. The commands parse and report; this is the one place
// that decides what is connected to what.

import type { CompiledPolicy } from './policy/types.js';
import type { DetectorDef } from './detect/detector.js';
import type { DetectSettings } from './detect/settings.js';
import { DETECTORS } from './detect/registry.js';
import type { Log, NetflowFigures, Sink } from './types.js';
import { Pipeline } from './pipeline.js';
import { JsonlSink } from './sinks/jsonl.js';
import { ConsoleSink } from './sinks/console.js';
import type { InfluxSink } from './sinks/influx/influx-sink.js';
import { AnomalyRing } from './api/facade.js';
import { openCapture } from './sources/pcap-file.js';
import { captureDrops, openLive, PcapLiveSource } from './sources/pcap-live.js';
import type { FrameSource, RecordSource } from './sources/source.js';
import type { FlowListen } from './sources/flow-export-udp.js';
import type { StateDb } from './state/db.js';
import type { StateSink } from './state/sink.js';
import type { ChannelConfig } from './sinks/alerts/config.js';
import type { AlertDispatcher } from './sinks/alerts/dispatcher.js';

export interface AssembleSettings {
  /** run: the long-running collector (anomalies stay open at a stop); replay: a file, then final states. */
  mode: 'run' | 'replay';
  policy: () => CompiledPolicy;
  /**
   * Where anomalies go as JSON lines: a file path, "-" for stdout, or absent. In `run` a line
   * when an anomaly opens and one when it closes; in `replay` one line per anomaly, final.
   */
  out?: string;
  /** replay without `out`: a table (default) or JSON lines on stdout. */
  format?: 'table' | 'jsonl';
  influx?: { url: string; spoolDir?: string; spoolMaxBytes?: number; username?: string };
  /** keep the latest anomalies for the API (run --listen). */
  api?: boolean;
  /** the frame source of `run`; replay reads its file itself (threads, progress). */
  source?: { interface?: string; capture?: string; filter?: string; snaplen?: number; promisc?: boolean; bufferBytes?: number };
  sourceName?: string;
  /**
   * NetFlow/IPFIX receivers of `run` (alone or beside the frame source): their sockets are
   * bound here, so a port in use fails before anything starts.
   */
  flowExport?: { listen: readonly FlowListen[]; recvBufferSize?: number; exporters?: readonly string[]; interfaces?: Readonly<Record<string, readonly number[]>> };
  host?: string;
  log?: Log;
  /** more sinks (tests, alert channels). */
  sinks?: Sink[];
  /** the detectors, in order; default the registry. */
  detectors?: readonly DetectorDef[];
  /**
   * The state directory (devices, open anomalies; DESIGN.md `--state-dir`): read back at start,
   * kept up to date while running. Without it, nothing outlives the process.
   */
  stateDir?: string;
  /** where MUD files for `profile: mud` / `mud: auto` devices may come from (run's mud.* settings) */
  mud?: { trustedHosts?: readonly string[]; dir?: string; trustAnchors?: string };
  /** alert channels (they need the state directory: their outbox is in it). */
  alerts?: { channels: readonly ChannelConfig[]; outboxMax?: number; outboxMaxDays?: number; env?: NodeJS.ProcessEnv };
  /** detector settings over the policy's (the run config's degraded_silence). */
  detect?: Partial<DetectSettings>;
  /**
   * A learner (learn/observer.ts, or learn/period.ts for `run --learn-for`) fed with the judged
   * flows after the other detectors, and what it holds back while devices are learned.
   */
  learner?: { detector(): DetectorDef; holdBack?: import('./detect/engine.js').DetectEngineOptions['holdBack'] };
}

export interface Collector {
  pipeline: Pipeline;
  sinks: Sink[];
  influx: InfluxSink | null;
  ring: AnomalyRing | null;
  source: FrameSource | null;
  /** sources of finished flows (NetFlow/IPFIX receivers), for Pipeline.handleRecord. */
  recordSources: RecordSource[];
  state: StateDb | null;
  alerts: AlertDispatcher | null;
}

/** Throws (with a message for a person) when a source cannot be opened. */
export async function assemble(s: AssembleSettings): Promise<Collector> {
  const sinks: Sink[] = [];
  // first: the state must be usable before anything starts, and its commit goes first
  // the state's modules (and SQLite's native addon) load only for a run that keeps state
  let state: StateDb | null = null, stateSink: StateSink | null = null;
  if (s.stateDir) {
    const [db, sink] = await Promise.all([import('./state/db.js'), import('./state/sink.js')]);
    state = db.StateDb.open(s.stateDir);
    stateSink = new sink.StateSink(state, { log: s.log });
    sinks.push(stateSink);
  }
  const restore = state ? { devices: state.devices(), anomalies: state.openAnomalies() } : undefined;
  let alerts: AlertDispatcher | null = null;
  if (s.alerts && s.alerts.channels.length > 0) {
    if (!state) throw new Error('alert channels need a state directory (their outbox is kept there): give --state-dir');
    try {
      const { createChannel } = await import('./sinks/alerts/registry.js');
      const [{ Outbox }, { AlertDispatcher }] = await Promise.all([import('./state/outbox.js'), import('./sinks/alerts/dispatcher.js')]);
      const channels = s.alerts.channels.map((cfg) => ({ cfg, channel: createChannel(cfg, s.alerts!.env ?? process.env, { log: s.log }) }));
      const outbox = new Outbox(state, { maxRows: s.alerts.outboxMax, maxAgeMs: s.alerts.outboxMaxDays !== undefined ? s.alerts.outboxMaxDays * 86_400_000 : undefined });
      alerts = new AlertDispatcher({ channels, outbox, log: s.log });
    } catch (err) {
      state.close();
      throw err;
    }
    // after the state sink: its rows join the same batch as the anomaly they are about
    sinks.push(alerts);
  }
  if (s.mode === 'run') {
    if (s.out) sinks.push(new JsonlSink(s.out, 'lifecycle'));
  } else {
    sinks.push(s.out ? new JsonlSink(s.out, 'final') : s.format === 'jsonl' ? new JsonlSink(undefined, 'final') : new ConsoleSink());
  }
  let influx: InfluxSink | null = null;
  if (s.influx) {
    // loaded only when asked for: the InfluxDB client adds about 0.05 s to start-up
    const { influxSettingsFrom, openInflux } = await import('./cli/influx.js');
    try {
      influx = await openInflux(influxSettingsFrom(s.influx.url, s.influx.spoolDir, s.influx.spoolMaxBytes, s.influx.username), s.log);
    } catch (err) {
      for (const k of sinks) await k.close();
      throw err;
    }
    sinks.push(influx);
  }
  const ring = s.api ? new AnomalyRing(1000) : null;
  if (ring) sinks.push(ring);
  sinks.push(...(s.sinks ?? []));

  let source: FrameSource | null = null;
  if (s.source && (s.source.interface || s.source.capture)) {
    const src = s.source;
    try {
      source = src.interface
        ? openLive({ iface: src.interface, filter: src.filter, snaplen: src.snaplen, promiscuous: src.promisc, bufferBytes: src.bufferBytes })
        : openCapture(src.capture!);
    } catch (err) {
      for (const k of sinks) await k.close();
      throw err;
    }
  }

  const recordSources: RecordSource[] = [];
  if (s.flowExport && s.flowExport.listen.length) {
    const { FlowExportUdpSource } = await import('./sources/flow-export-udp.js');
    const fx = s.flowExport;
    const rs = new FlowExportUdpSource({ listen: fx.listen, recvBufferSize: fx.recvBufferSize, exporters: fx.exporters, interfaces: fx.interfaces, log: s.log });
    try {
      await rs.start();
    } catch (err) {
      await rs.close();
      source?.stop();
      for (const k of sinks) await k.close();
      throw err;
    }
    recordSources.push(rs);
  }
  const netflowFigures = (): NetflowFigures | undefined => {
    if (!recordSources.length) return undefined;
    const f: NetflowFigures = { datagrams: 0, records: 0, refused: 0, filtered: 0, malformed: 0, lost: 0 };
    for (const r of recordSources) {
      const st = r.stats();
      f.datagrams += st.datagrams; f.records += st.records; f.refused += st.refused;
      f.filtered += st.filtered; f.malformed += st.malformed; f.lost += st.lost;
    }
    return f;
  };
  const sourceName = [source?.name, ...recordSources.map((r) => r.name)].filter(Boolean).join(',') || s.sourceName;

  const pipeline = new Pipeline({
    policy: s.policy,
    sinks,
    restore,
    detect: s.detect,
    detectors: s.learner ? [...(s.detectors ?? DETECTORS), s.learner.detector()] : s.detectors,
    holdBack: s.learner?.holdBack,
    log: s.log,
    mud: { ...s.mud, ...(s.stateDir ? { stateDir: s.stateDir } : {}) },
    host: s.host,
    source: sourceName,
    // a capture beside flow records is the router-plus-mirror setup: its packets teach names
    packetFlows: source && recordSources.length ? 'learn' : 'judge',
    // queue: points in memory on their way to InfluxDB, not yet written nor spooled
    extraStats: () => {
      const is = influx?.stats();
      return {
        drops: (source?.stats().drops ?? 0) + recordSources.reduce((n, r) => n + r.stats().drops, 0),
        queue: is?.pending ?? 0, spoolBytes: is?.spoolBytes ?? 0, netflow: netflowFigures(),
        ...(source instanceof PcapLiveSource ? { capture: captureDrops(source) } : {}),
        alertsFailing: alerts?.failing(0).map((c) => ({ channel: c.channel, since: c.failingSince })) ?? [],
      };
    },
  });
  stateSink?.attach(pipeline.inventory);
  if (ring && restore) for (const r of restore.anomalies) ring.push(r.a);
  if (restore && (restore.devices.length || restore.anomalies.length)) {
    s.log?.info({ stateDir: s.stateDir, devices: restore.devices.length, openAnomalies: restore.anomalies.length }, 'state: resumed from the last run');
  }
  return { pipeline, sinks, influx, ring, source, recordSources, state, alerts };
}
