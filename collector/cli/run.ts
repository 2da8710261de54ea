// `segwatch run`: the long-running collector. Settings are validated as a whole before
// anything starts; SIGHUP reloads the policy; SIGTERM/SIGINT stop the source, flush
// flows, anomalies and the spool, and exit 0.

import { hostname } from 'node:os';
import pino from 'pino';
import { assemble, type Collector } from '../assemble.js';
import { PolicyWatcher } from '../policy/watch.js';
import { formatPolicyError, loadPolicyFile } from '../policy/load.js';
import { defaultPolicyCacheDir } from '../policy/cache.js';
import { autoBpf } from '../sources/bpf-auto.js';
import { parseCommand, helpText, type CommandSpec, type FlagSpec } from './args.js';
import { resolveConfig, SETTINGS, DEFAULTS } from './config.js';
import { startApi, apiTokenFromEnv, apiAdminTokenFromEnv } from '../api/server.js';
import { acknowledgeFacade, policyFacade, stateFacade, type CollectorFacade } from '../api/facade.js';
import { capEvictions } from '../api/metrics.js';
import { EXCEPTIONS_FILE } from '../state/exceptions-file.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { LearnPeriod } from '../learn/period.js';
import { LearningStore } from '../state/learning.js';
import { parseFlowListen } from '../sources/flow-export-udp.js';
import { captureDrops, PcapLiveSource } from '../sources/pcap-live.js';
import { lowerJudgePriority } from '../sources/thread-priority.js';

const flags: Record<string, FlagSpec> = {
  config: { type: 'string', arg: 'FILE', env: 'SEGWATCH_CONFIG', help: 'config file (YAML; keys as below with _ for -)' },
  'print-bpf': { type: 'boolean', help: 'print the BPF filter `--bpf auto` derives from the policy, and exit' },
};
// Defaults are shown in the help text, not set as flag values: a flag given wins over the
// environment and the config file, so an unset flag must stay unset.
const ARG: Record<string, string> = { 'state-dir': 'DIR', policy: 'FILE', capture: 'FILE', out: 'FILE', interface: 'IF', filter: 'BPF', bpf: 'auto|EXPR', influx: 'URL', 'spool-dir': 'DIR', listen: 'ADDR:PORT', 'log-level': 'LEVEL', host: 'NAME', 'influx-username': 'USER', 'api-tls-cert': 'FILE', 'api-tls-key': 'FILE',
  netflow: '[ADDR:]PORT', ipfix: '[ADDR:]PORT', 'netflow-exporters': 'ADDR,...', 'netflow-interfaces': 'EXPORTER=IF,...', 'learn-for': 'DURATION' };
for (const d of SETTINGS) {
  const def = DEFAULTS[d.key];
  flags[d.flag] = {
    type: d.kind === 'bool' ? 'boolean' : 'string', env: d.env, arg: ARG[d.flag] ?? 'N', multiple: d.kind === 'listen-list' || undefined,
    help: def === undefined ? d.help : `${d.help}; default ${def}`,
  };
}

export const runSpec: CommandSpec = {
  name: 'run',
  usage: 'segwatch run --policy FILE (--interface IF [--bpf auto|EXPR] [--buffer-size-mb N] | --netflow [ADDR:]PORT | --ipfix [ADDR:]PORT | --capture FILE) [--influx URL] [--out FILE] [--state-dir DIR] [--config FILE]',
  summary: 'The long-running collector: watch the IoT VLAN, judge every flow against the policy, write anomalies and traffic to the sinks.',
  flags,
};

/** `run --print-bpf`: the policy's filter on stdout; needs only the policy. */
async function printBpf(values: Record<string, unknown>, configFile: string | undefined): Promise<number> {
  const { config, errors } = resolveConfig(values, process.env, configFile, hostname());
  const policy = config?.policy ?? (values.policy as string | undefined) ?? process.env.SEGWATCH_POLICY;
  if (!policy) {
    for (const e of errors) process.stderr.write(`segwatch run: ${e}\n`);
    return 2;
  }
  const r = await loadPolicyFile(policy, { cacheDir: defaultPolicyCacheDir(process.env, config?.stateDir) });
  if (!r.policy) {
    for (const e of r.errors) process.stderr.write(formatPolicyError(e) + '\n');
    return 2;
  }
  process.stdout.write(autoBpf(r.policy) + '\n');
  return 0;
}

/** how long a stop waits for the source to end by itself, ms. */
const STOP_WAIT_MS = 1000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export async function runCommand(argv: string[]): Promise<number> {
  const a = parseCommand(runSpec, argv, {});
  if (a.help) { process.stdout.write(helpText(runSpec) + '\n'); return 0; }
  const configFile = (a.values.config as string | undefined) ?? process.env.SEGWATCH_CONFIG;
  if (a.values['print-bpf'] === true) return printBpf(a.values, configFile);
  const { config, errors } = resolveConfig(a.values, process.env, configFile, hostname());
  if (!config) {
    process.stderr.write(`segwatch run: ${errors.length} problem${errors.length === 1 ? '' : 's'} in the settings:\n`);
    for (const e of errors) process.stderr.write(`  ${e}\n`);
    return 2;
  }
  const log = pino({ level: config.logLevel, base: { host: config.host } }, pino.destination(2));

  // acknowledgements through the API accept behaviours here, beside the policy (never in it)
  const exceptionsPath = join(config.stateDir, EXCEPTIONS_FILE);
  const watcher = new PolicyWatcher(config.policy, { exceptionsPath, cacheDir: defaultPolicyCacheDir(process.env, config.stateDir) });
  const firstErrors = await watcher.start();
  if (!watcher.currentOrNull()) {
    for (const e of firstErrors) process.stderr.write(formatPolicyError(e) + '\n');
    watcher.close();
    return 2;
  }
  watcher.on('policy', () => log.info({ policy: config.policy }, 'policy reloaded'));
  watcher.on('errors', (errs: { file: string; line: number; col: number; message: string; path: string }[]) => {
    log.error({ errors: errs.map(formatPolicyError) }, 'policy refused; the last good policy stays in force');
  });

  // --learn-for: devices the policy does not list are learned first (learn/period.ts); the
  // policy in force is then the file's with their learned profiles
  const period = config.learnForMs ? new LearnPeriod({
    periodMs: config.learnForMs, policy: () => watcher.current(), policyText: () => readFileSync(config.policy, 'utf8'),
    proposalsDir: join(config.stateDir, 'proposals'), log,
  }) : null;
  // `auto`: derived once from the policy at start; a reload that changes the watched segments
  // or the VLAN takes a restart to change the filter (the kernel's filter is set at open)
  const bpf = config.bpf === 'auto' ? autoBpf(watcher.current()) : config.bpf;
  if (config.interface && bpf) log.info({ bpf, auto: config.bpf === 'auto' }, 'live capture BPF filter');

  let collector: Collector;
  try {
    collector = await assemble({
      mode: 'run',
      policy: period ? () => period.policy() : () => watcher.current(),
      learner: period ?? undefined,
      out: config.out,
      influx: config.influx ? { url: config.influx, spoolDir: config.spoolDir, spoolMaxBytes: config.spoolMaxBytes, username: config.influxUsername } : undefined,
      api: Boolean(config.listen),
      flowExport: {
        listen: [...config.netflow, ...config.ipfix].map(parseFlowListen), recvBufferSize: config.netflowRcvbufMb * 1024 * 1024,
        exporters: config.netflowExporters, interfaces: config.netflowInterfaces,
      },
      source: { interface: config.interface, capture: config.capture, filter: bpf, snaplen: config.snaplen, promisc: config.promisc, bufferBytes: config.bufferSizeMb * 1024 * 1024 },
      host: config.host,
      log,
      stateDir: config.stateDir,
      mud: { trustedHosts: config.mudTrustedHosts, dir: config.mudDir, trustAnchors: config.mudTrustAnchors },
      alerts: { channels: config.alerts, outboxMax: config.alertOutboxMax, outboxMaxDays: config.alertOutboxMaxDays },
      detect: { degradedSilenceMs: config.degradedSilenceS * 1000, degradedSpoolMs: config.degradedSpoolS * 1000, degradedAlertMs: config.degradedAlertsS * 1000 },
    });
  } catch (err) {
    process.stderr.write(`segwatch run: ${(err as Error).message}\n`);
    watcher.close();
    return 1;
  }
  const { pipeline, influx, ring } = collector;
  if (period) {
    period.attach(pipeline.inventory);
    if (collector.state) period.open(new LearningStore(collector.state));
  }
  const source = collector.source;
  const recordSources = collector.recordSources;
  const sourceName = [source?.name, ...recordSources.map((r) => r.name)].filter(Boolean).join(',');
  const drops = () => (source?.stats().drops ?? 0) + recordSources.reduce((n, r) => n + r.stats().drops, 0);

  const startedAt = Date.now();
  const netflowCounters = () => {
    const f = { datagrams: 0, records: 0, refused: 0, filtered: 0, malformed: 0, lost: 0 };
    for (const r of recordSources) {
      const st = r.stats();
      f.datagrams += st.datagrams; f.records += st.records; f.refused += st.refused; f.filtered += st.filtered; f.malformed += st.malformed; f.lost += st.lost;
    }
    return f;
  };
  const facade: CollectorFacade = {
    // the state database holds every device ever seen here, this run's changes included
    devices: () => collector.state?.devices() ?? pipeline.inventory.devices(),
    recentAnomalies: (n) => ring?.last(n) ?? [],
    ...(collector.state ? stateFacade(collector.state) : {}),
    ...(collector.state ? acknowledgeFacade(collector.state, exceptionsPath, () => watcher.reload()) : {}),
    openedAnomalyCounts: () => ring?.openedCounts() ?? [],
    ...(period ? { proposals: () => period.proposals(), acceptProposal: (d: string) => period.accept(d, pipeline.counters.lastTs || Date.now()) } : {}),
    activeFlows: (limit, match) => pipeline.flows.active(limit, match),
    ...policyFacade(watcher),
    // the alert dispatcher's figures, one entry per configured channel
    alertStats: () => collector.alerts?.stats() ?? [],
    counters: () => {
      const c = pipeline.counters;
      return {
        packets: c.packets, bytes: c.bytes, decodeErrors: c.decodeErrors, flows: pipeline.flows.stats().created,
        flowsActive: pipeline.flows.stats().active, anomalies: c.anomalies, anomaliesOpen: pipeline.detect?.lifecycle.size ?? 0, stageErrors: c.stageErrors, anomaliesByKind: { ...c.anomaliesByKind } as Record<string, number>,
        drops: drops(), spoolBytes: influx?.stats().spoolBytes ?? 0, startedAt, source: sourceName, policy: config.policy,
        ...(recordSources.length ? { netflow: netflowCounters() } : {}),
        ...(source instanceof PcapLiveSource ? { capture: captureDrops(source) } : {}),
        directionUnknown: pipeline.detect?.directionUnknown ?? 0,
        evictions: capEvictions(pipeline),
        mud: { urlsRejected: c.mudUrlsRejected, profilesLoaded: c.mudProfilesLoaded, loadFailures: c.mudLoadFailures },
        heldBack: pipeline.detect?.heldBack ?? 0,
      };
    },
  };
  let api: Awaited<ReturnType<typeof startApi>> | null = null;
  if (config.listen) {
    try {
      api = await startApi({
        listen: config.listen, token: apiTokenFromEnv(), adminToken: apiAdminTokenFromEnv(), facade, log,
        tlsCert: config.apiTlsCert, tlsKey: config.apiTlsKey, rateLimit: config.apiRateLimit, maxBodyBytes: config.apiMaxBodyBytes,
      });
      log.info({ address: api.address }, 'API listening');
    } catch (err) {
      process.stderr.write(`segwatch run: ${(err as Error).message}\n`);
      await pipeline.close();
      watcher.close();
      return 1;
    }
  }

  // Live: time moves on between packets too, so idle flows expire, open anomalies are
  // rewritten and close when quiet, and intervals close. tick() never throws (a stage that
  // does is counted and logged), so this timer cannot stop the collector.
  const live = Boolean(config.interface) || recordSources.length > 0;
  const timer = live
    ? setInterval(() => pipeline.tick(Math.max(Date.now(), pipeline.counters.lastTs)), 1000)
    : null;
  let stopping = false;
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => { requestStop = resolve; });
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    requestStop();
    log.info({ signal: sig }, 'stopping: flushing flows, anomalies and the spool');
    source?.stop();
    for (const r of recordSources) r.stop();
  };
  const onHup = () => { log.info('SIGHUP: reloading the policy'); void watcher.reload(); };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', onHup);

  const started = () => log.info({ source: sourceName, policy: config.policy, influx: config.influx ?? null }, 'segwatch collector started');
  let code = 0;
  let sourceEnded = false;
  try {
    // A pipe or FIFO with no writer data blocks its read until the writer sends or closes:
    // a stop waits for the source at most STOP_WAIT_MS, then shuts down without it.
    // every source at once: a live interface beside the NetFlow/IPFIX receivers; the run ends
    // when all have ended (a capture file) or at a stop
    const runs: Promise<void>[] = [];
    if (source) runs.push(source.run(pipeline.handleFrame));
    for (const r of recordSources) runs.push(r.run(pipeline.handleRecord));
    const ended = Promise.all(runs).then(() => undefined).finally(() => { sourceEnded = true; });
    ended.catch(() => {}); // handled below; this only keeps an early failure from being unhandled meanwhile
    // "started" once a live capture is capturing: its thread opens the interface first, and
    // what is sent after this line is seen (a failure to open is reported below instead)
    if (source instanceof PcapLiveSource) await Promise.race([source.started().catch(() => {}), ended.catch(() => {}), stopRequested]);
    if (live) {
      const n = lowerJudgePriority(config.judgeNice);
      if (n) log.info({ niceFrom: n.from, niceTo: n.to }, 'the judging thread yields to the capture and receiver threads');
    }
    started();
    await Promise.race([ended, stopRequested.then(() => Promise.race([ended, sleep(STOP_WAIT_MS)]))]);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'source ended with an error');
    code = 1;
  }
  if (timer) clearInterval(timer);
  // Stopped by a signal: open anomalies are written as they are and stay open (the next run
  // goes on with them). A capture file that ended by itself is an end of input: they close.
  await pipeline.finish({ close: !stopping });
  await api?.close();
  await pipeline.close();
  watcher.close();
  process.off('SIGHUP', onHup);
  const c = pipeline.counters;
  log.info({ packets: c.packets, flows: c.flows, anomalies: c.anomalies, decodeErrors: c.decodeErrors,
    ...(recordSources.length ? { records: c.records, drops: drops(), netflow: netflowCounters() } : {}) }, 'segwatch collector stopped');
  // libpcap's poller holds the event loop until one more packet arrives after stop(), and a
  // read (or read-ahead) of a quiet pipe until its writer sends: everything is flushed by
  // now, and the alert channels' HTTP connection pool keeps idle sockets for a few seconds.
  if (live || stopping || !sourceEnded) setTimeout(() => process.exit(code), 200).unref();
  else if (collector.alerts) setImmediate(() => process.exit(code)).unref();
  return code;
}
