// Live latency benchmark: how long after its first packet an anomaly shows up in each sink of
// a running collector (the --out JSON-lines file, InfluxDB, the API). DESIGN.md's target is
// under one second. A device in a network namespace (192.168.50.10 on a veth pair; segwatch
// captures on the host end, which has no address) makes 50 TCP connects, ~200 ms apart, to 50
// different ports its profile forbids on 192.168.50.99, a neighbour whose MAC nobody has: the
// SYNs leave on the wire and nothing answers. The sinks are polled every 20 ms while the
// collector keeps running. Each anomaly's `time` is its first packet's capture timestamp (same
// clock as Date.now()); the send time, just before connect(), is recorded too.
//
// Needs root (namespaces, capture), iproute2 and influxd; otherwise it says why and is skipped.
// Run alone: node dist/bench/latency.js; `npm run bench` runs it after the throughput tables
// (BENCH_LATENCY=0 leaves it out, BENCH_ONLY=latency runs only it).

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { influxdAvailable, startInfluxd, type Influxd } from '../test/helpers/influxd.js';
import {
  createVethLab, dnsQuery, netnsUnavailable, startLiveCollector,
  type DeviceAgent, type LiveCollector, type SeenAnomaly, type VethLab,
} from '../test/helpers/netns.js';

const DEVICE = '192.168.50.10';
const PEER = '192.168.50.99';
const RESOLVER = '192.168.50.1';
const DB = 'segwatch';
const SINKS = ['out', 'influx', 'api'] as const;
type SinkName = (typeof SINKS)[number];

export interface LatencyOptions {
  /** the built CLI, dist/collector/cli/main.js */
  cli: string;
  /** violations (default 50, BENCH_LATENCY_N) */
  count?: number;
  /** ms between violations (default 200) */
  spacingMs?: number;
  /** ms between polls of each sink (default 20) */
  pollMs?: number;
  /** how long after the last send to keep waiting, ms (default 60000) */
  boundMs?: number;
  /** first forbidden port (default 10001): ports first..first+count-1 */
  firstPort?: number;
}

export interface SinkLatency {
  sink: SinkName;
  /** anomalies that showed up with state open (or without state, before the lifecycle change) in time */
  seen: number;
  expected: number;
  /** ms from the first packet's capture timestamp to the poll that saw it */
  fromPacket: { median: number | null; max: number | null };
  /** ms from just before connect() to the poll that saw it */
  fromSend: { median: number | null; max: number | null };
}

export interface LatencyResult {
  date: string;
  violations: number;
  spacingMs: number;
  pollMs: number;
  boundMs: number;
  /** ms from send to first packet (capture timestamp), median and max */
  sendToPacket: { median: number | null; max: number | null };
  sinks: SinkLatency[];
  note: string;
}

export type LatencyOutcome = { skipped: string } | LatencyResult;

/** Why this machine cannot run the latency bench, or null. */
export function latencyUnavailable(cli: string): string | null {
  return netnsUnavailable() ?? (influxdAvailable() ? null : 'needs influxd (/usr/bin/influxd)')
    ?? (existsSync(cli) ? null : `${cli} is missing: npm run build`);
}

function policyYaml(): string {
  return `version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
resolvers: ["${RESOLVER}"]
devices:
  - { name: cam, ip: "${DEVICE}", profile: dns-only }
default_profile: dns-only
profiles:
  dns-only:
    allow:
      - { service: dns }
# 50 ports of one host would be a port scan: keep that detector out of the measurement.
detectors:
  scan_ports: { threshold: 1000, window: 60s, fast_threshold: 1000, fast_window: 2s }
`;
}

function stats(xs: number[]): { median: number | null; max: number | null } {
  if (xs.length === 0) return { median: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

export async function runLatencyBench(opts: LatencyOptions): Promise<LatencyOutcome> {
  const why = latencyUnavailable(opts.cli);
  if (why) return { skipped: why };
  const count = opts.count ?? Number(process.env.BENCH_LATENCY_N ?? 50);
  const spacingMs = opts.spacingMs ?? 200;
  const pollMs = opts.pollMs ?? 20;
  const boundMs = opts.boundMs ?? 60_000;
  const firstPort = opts.firstPort ?? 10001;
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-latency-'));
  let lab: VethLab | null = null;
  let influxd: Influxd | null = null;
  let collector: LiveCollector | null = null;
  let agent: DeviceAgent | null = null;
  try {
    lab = createVethLab({
      deviceCidr: `${DEVICE}/24`,
      neighbours: [{ ip: PEER, mac: '02:00:00:00:00:99' }, { ip: RESOLVER, mac: '02:00:00:00:00:01' }],
    });
    influxd = await startInfluxd();
    const influx = influxd;
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, policyYaml());
    const token = 'latency-bench-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
    collector = await startLiveCollector({
      cli: opts.cli, policy, iface: lab.hostIf, dir, influxUrl: influx.url, db: DB, token,
      query: (q) => influx.query(q, { db: DB, epoch: 'ms' }),
    });
    const c = collector;
    await c.started(30_000);
    agent = await lab.agent(600_000);
    const dev = agent;
    // Wait until the capture counts the device's frames (DNS to the approved resolver: allowed).
    let packets = 0;
    for (const until = Date.now() + 20_000; Date.now() < until && packets === 0;) {
      await dev.udp(RESOLVER, 53, dnsQuery('probe.segwatch.test'));
      await sleep(200);
      packets = await c.packets().catch(() => 0);
    }
    if (packets === 0) throw new Error(`the capture on ${lab.hostIf} saw nothing in 20 s: ${c.stderr().slice(-1000)}`);

    const sent = new Map<number, number>(); // port -> send ms
    const seen = new Map<SinkName, Map<number, { at: number; time: number }>>(SINKS.map((s) => [s, new Map()]));
    const read: Record<SinkName, () => Promise<SeenAnomaly[]>> = {
      out: async () => c.fromOut(), influx: () => c.fromInflux(), api: () => c.fromApi(),
    };
    const errors: string[] = [];
    const poll = async (): Promise<void> => {
      for (const sink of SINKS) {
        const got = seen.get(sink)!;
        if (got.size === count) continue;
        let list: SeenAnomaly[];
        try { list = await read[sink](); } catch (e) { if (errors.length < 5) errors.push(`${sink}: ${(e as Error).message}`); continue; }
        const now = Date.now();
        for (const a of list) {
          if (a.peer !== PEER || !sent.has(a.peerPort) || got.has(a.peerPort)) continue;
          if (a.kind !== 'policy.violation') continue;
          if (a.state !== undefined && a.state !== 'open') continue;
          got.set(a.peerPort, { at: now, time: a.time });
        }
      }
    };
    // Send on a timer while the poller runs, so polling never delays a send.
    const sending = (async () => {
      for (let i = 0; i < count; i++) {
        const port = firstPort + i;
        const r = await dev.connect(PEER, port, 3000);
        sent.set(port, r.t);
        await sleep(Math.max(0, r.t + spacingMs - Date.now()));
      }
    })();
    let sendingDone = false;
    void sending.then(() => { sendingDone = true; }, () => { sendingDone = true; });
    let lastSend = Date.now();
    while (true) {
      await poll();
      if (!sendingDone) lastSend = Date.now();
      const all = SINKS.every((s) => seen.get(s)!.size === count);
      if (sendingDone && (all || Date.now() - lastSend > boundMs)) break;
      if (c.child.exitCode !== null) break;
      await sleep(pollMs);
    }
    await sending;
    const stillRunning = c.child.exitCode === null;

    // The first packet's timestamp: from whichever sink reported it (the same in all).
    const packetTime = new Map<number, number>();
    for (const s of SINKS) for (const [port, v] of seen.get(s)!) if (Number.isFinite(v.time) && !packetTime.has(port)) packetTime.set(port, v.time);
    const sinks: SinkLatency[] = SINKS.map((s) => {
      const got = [...seen.get(s)!];
      return {
        sink: s, seen: got.length, expected: count,
        fromPacket: stats(got.filter(([p]) => packetTime.has(p)).map(([p, v]) => v.at - packetTime.get(p)!)),
        fromSend: stats(got.map(([p, v]) => v.at - sent.get(p)!)),
      };
    });
    const code = await c.stop(() => { void dev.udp(RESOLVER, 53, dnsQuery('nudge.segwatch.test')).catch(() => {}); }, 15_000);
    const notes: string[] = [];
    if (!stillRunning) notes.push(`the collector exited during the run (${c.child.exitCode}): ${c.stderr().trim().split('\n').slice(-1)[0]}`);
    if (sinks.some((s) => s.seen < count)) notes.push(`not every anomaly showed up within ${boundMs / 1000} s of the last send while the collector ran`);
    if (code !== 0) notes.push(`SIGTERM: exit ${code}`);
    if (errors.length) notes.push(`read errors: ${errors.join('; ')}`);
    return {
      date: new Date().toISOString(), violations: count, spacingMs, pollMs, boundMs,
      sendToPacket: stats([...packetTime].map(([p, t]) => t - sent.get(p)!)),
      sinks, note: notes.join(' | '),
    };
  } finally {
    collector?.kill();
    await agent?.close().catch(() => {});
    lab?.destroy();
    await influxd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number | null): string {
  return n === null ? '-' : n.toFixed(0);
}

/** Prints the outcome as a table on stdout (the skip reason on stderr). */
export function printLatency(r: LatencyOutcome): void {
  if ('skipped' in r) {
    console.error(`latency bench skipped: ${r.skipped}`);
    return;
  }
  const rows = [['sink', 'seen', 'ms from packet (median)', 'max', 'ms from send (median)', 'max']];
  for (const s of r.sinks) rows.push([s.sink, `${s.seen}/${s.expected}`, fmt(s.fromPacket.median), fmt(s.fromPacket.max), fmt(s.fromSend.median), fmt(s.fromSend.max)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log('');
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  console.log(`(live latency: ${r.violations} forbidden TCP connects ${r.spacingMs} ms apart on a veth pair, sinks polled every ${r.pollMs} ms; `
    + `send to capture timestamp median ${fmt(r.sendToPacket.median)} ms, max ${fmt(r.sendToPacket.max)} ms; target under 1000 ms)`);
  if (r.note) console.log(`note: ${r.note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const cli = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'collector', 'cli', 'main.js');
  runLatencyBench({ cli }).then((r) => {
    printLatency(r);
    if (!('skipped' in r)) console.log(JSON.stringify(r, null, 2));
  }, (e) => { console.error(e); process.exitCode = 1; });
}
