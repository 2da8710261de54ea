// The flow-churn bench (BENCH_ONLY=churn in bench/run.ts): one-packet TCP flows from many
// devices to distinct hosts (bench/churn-capture.ts), through `segwatch replay` (a demo-like
// site policy), `segwatch flows`, `nfpcapd -r` and `softflowd -r`, in interleaved rounds:
// median wall seconds, packets/s, peak RSS (/usr/bin/time %M, the largest of the rounds) and
// ratios of medians between tools. Each capture also goes through the flow table itself at
// its default caps, to show how many flows were live at once and that none was evicted.
//
// Env: BENCH_CHURN_FLOWS (default 1,000,000), BENCH_CHURN_ROUNDS (default 3),
// BENCH_CHURN_CAPTURES=churn-1k,churn-10k,concurrent-1k (default all three).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateChurnCapture, CHURN_DEVICE_NET } from './churn-capture.js';
import { pokeSoftflowd } from '../test/helpers/softflowd.js';
import { FlowTable, DEFAULT_MAX_FLOWS } from '../collector/flows/flow-table.js';
import { PacketInfo } from '../collector/decode/packet.js';
import { decodeFrame } from '../collector/decode/frame.js';

export interface ChurnTool {
  name: string;
  argv: string[] | null;
  nudge?: (done: () => boolean) => Promise<void>;
}

export interface ChurnToolResult {
  tool: string;
  runs: number[];
  medianSeconds: number | null;
  packetsPerSecond: number | null;
  peakRssMB: number | null;
  note: string;
}

export interface ChurnCaptureFigures {
  name: string;
  packets: number;
  flows: number;
  devices: number;
  bytes: number;
  /** the flow table at its default caps on this capture */
  flowTable: { maxFlows: number; peakLive: number; created: number; evicted: number };
  results: ChurnToolResult[];
  /** a / b of median seconds: < 1 means a is faster */
  ratios: Array<{ a: string; b: string; medianRatio: number }>;
}

export interface ChurnOutcome {
  date: string;
  rounds: number;
  captures: ChurnCaptureFigures[];
}

const REPLAY = 'segwatch replay';
/** the same on one thread: what the flow thread (sources/flow-thread.ts) takes off the judging one */
const REPLAY_1 = 'segwatch replay --threads 1';
const FLOWS = 'segwatch flows';
const NFPCAPD = 'nfpcapd -r';
const SOFTFLOWD = 'softflowd -r';

/**
 * The demo site's policy (test/fixtures/demo/policy.yaml) with its IoT segment moved to the
 * churn devices' subnet and one entry placing them in a profile that allows HTTPS anywhere:
 * every flow is judged and allowed, and the devices' sweeps are still found as scans.
 */
export function churnPolicyYaml(root: string): string {
  const demo = readFileSync(join(root, 'test/fixtures/demo/policy.yaml'), 'utf8');
  const out = demo
    .replace(/^( {2}iot:\s*)\[.*\]$/m, `$1["${CHURN_DEVICE_NET}"]`)
    .replace(/^vlan:.*\n/m, '')
    .replace(/^default_profile:/m, '  - { name: churn, mac: "02:50:00:*", profile: cloud-client }\ndefault_profile:')
    .replace(/^profiles:\n/m, 'profiles:\n  cloud-client:\n    allow:\n      - { to: "0.0.0.0/0", ports: ["443/tcp"] }\n      - { service: dhcp }\n      - { service: dns }\n      - { service: ntp }\n');
  if (!out.includes(CHURN_DEVICE_NET) || !out.includes('cloud-client:')) throw new Error('churn policy: the demo policy changed shape; update churnPolicyYaml');
  return out;
}

/** The capture through the flow table at its default caps: live flows at most, created, evicted. */
export function flowTableAtDefaults(file: string): ChurnCaptureFigures['flowTable'] {
  const buf = readFileSync(file);
  const ft = new FlowTable({}, { onRecord() {} });
  const p = new PacketInfo();
  let peak = 0;
  const linkType = buf.readUInt32LE(20);
  for (let o = 24; o + 16 <= buf.length;) {
    const ts = buf.readUInt32LE(o) * 1000 + buf.readUInt32LE(o + 4) / 1000;
    const caplen = buf.readUInt32LE(o + 8), wirelen = buf.readUInt32LE(o + 12);
    decodeFrame(buf, o + 16, caplen, wirelen, ts, linkType, p);
    ft.add(p);
    o += 16 + caplen;
    const live = ft.stats().active;
    if (live > peak) peak = live;
  }
  const s = ft.stats();
  return { maxFlows: ft.capacity, peakLive: peak, created: s.created, evicted: s.evicted };
}

async function measure(tool: ChurnTool, tmp: string, timeoutS: number): Promise<{ seconds: number; rssKB: number | null; ok: boolean; stderr: string }> {
  const timeFile = join(tmp, 'churn-time.txt');
  const argv = ['/usr/bin/time', '-f', '%M', '-o', timeFile, ...tool.argv!];
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { if (stderr.length < 20000) stderr += d.toString(); });
  let timedOut = false, finished = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  }, timeoutS * 1000);
  const code = await new Promise<number | null>((res) => {
    child.on('close', (c) => { finished = true; res(c); });
    if (tool.nudge) void tool.nudge(() => finished || timedOut);
  });
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let rssKB: number | null = null;
  if (existsSync(timeFile)) {
    const m = /(\d+)\s*$/.exec(readFileSync(timeFile, 'utf8').trim());
    if (m) rssKB = Number(m[1]);
    rmSync(timeFile, { force: true });
  }
  return { seconds, rssKB, ok: code === 0 && !timedOut, stderr };
}

export async function runChurnBench(o: {
  segwatch: string[]; root: string; tmp: string; rounds: number; flows: number; timeoutS: number;
  which: (cmd: string) => string | null; nfpcapdDirFlag: (bin: string) => string; only?: Set<string> | null;
}): Promise<ChurnOutcome> {
  const policy = join(o.tmp, 'churn-policy.yaml');
  writeFileSync(policy, churnPolicyYaml(o.root));
  const specs = [
    { name: 'churn-1k', devices: 1000, concurrent: false },
    { name: 'churn-10k', devices: 10_000, concurrent: false },
    { name: 'concurrent-1k', devices: 1000, concurrent: true },
  ].filter((s) => !o.only || o.only.has(s.name));
  const captures: ChurnCaptureFigures[] = [];
  for (const spec of specs) {
    const file = join(o.tmp, `${spec.name}.pcap`);
    const gen = generateChurnCapture(file, { flows: o.flows, devices: spec.devices, concurrent: spec.concurrent });
    console.error(`churn: ${spec.name}: ${gen.packets.toLocaleString('en-US')} packets, ${gen.flows.toLocaleString('en-US')} flows, ${gen.devices.toLocaleString('en-US')} devices, ${(statSync(file).size / 1e6).toFixed(0)} MB`);
    const flowTable = flowTableAtDefaults(file);
    console.error(`churn: ${spec.name}: flow table at default caps (${flowTable.maxFlows.toLocaleString('en-US')} flows): ${flowTable.peakLive.toLocaleString('en-US')} live at most, ${flowTable.evicted} evicted`);
    const nf = o.which('nfpcapd'), sf = o.which('softflowd');
    const nfdir = join(o.tmp, 'churn-nfpcapd'), ctl = join(o.tmp, 'churn-softflowd.ctl');
    mkdirSync(nfdir, { recursive: true });
    const tools: ChurnTool[] = [
      { name: REPLAY, argv: [...o.segwatch, 'replay', file, '--policy', policy, '--format', 'jsonl'] },
      { name: REPLAY_1, argv: [...o.segwatch, 'replay', file, '--policy', policy, '--format', 'jsonl', '--threads', '1'] },
      { name: FLOWS, argv: [...o.segwatch, 'flows', file, '--format', 'jsonl', '--threads', '2'] },
      { name: NFPCAPD, argv: nf ? [nf, '-r', file, o.nfpcapdDirFlag(nf), nfdir] : null },
      {
        name: SOFTFLOWD, argv: sf ? [sf, '-r', file, '-n', '127.0.0.1:9', '-d', '-c', ctl, '-p', join(o.tmp, 'churn-softflowd.pid'), '-m', String(o.flows * 2)] : null,
        nudge: (done) => pokeSoftflowd(ctl, done),
      },
    ];
    const runs = new Map<string, number[]>(tools.map((t) => [t.name, []]));
    const rss = new Map<string, number>();
    const notes = new Map<string, string>();
    for (let round = 1; round <= o.rounds; round++) {
      console.error(`churn: ${spec.name}: round ${round} of ${o.rounds}`);
      for (const t of tools) {
        if (!t.argv || notes.has(t.name)) continue;
        const m = await measure(t, o.tmp, o.timeoutS);
        rmSync(nfdir, { recursive: true, force: true });
        mkdirSync(nfdir, { recursive: true });
        if (!m.ok) { notes.set(t.name, `failed: ${m.stderr.trim().split('\n').slice(-2).join(' | ')}`); continue; }
        runs.get(t.name)!.push(m.seconds);
        if (m.rssKB !== null) rss.set(t.name, Math.max(rss.get(t.name) ?? 0, m.rssKB));
        if (t.name === REPLAY) notes.set(`${t.name}:summary`, m.stderr.trim().split('\n').pop() ?? '');
      }
    }
    const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[(s.length - 1) >> 1] : null; };
    const results: ChurnToolResult[] = tools.map((t) => {
      const med = median(runs.get(t.name)!);
      return {
        tool: t.name, runs: runs.get(t.name)!, medianSeconds: med, packetsPerSecond: med ? gen.packets / med : null,
        peakRssMB: rss.has(t.name) ? rss.get(t.name)! / 1024 : null,
        note: !t.argv ? 'not installed' : notes.get(t.name) ?? notes.get(`${t.name}:summary`) ?? '',
      };
    });
    const ratios: ChurnCaptureFigures['ratios'] = [];
    for (const [a, b] of [[REPLAY, NFPCAPD], [REPLAY_1, NFPCAPD], [REPLAY, SOFTFLOWD], [FLOWS, NFPCAPD], [FLOWS, SOFTFLOWD], [REPLAY, FLOWS]]) {
      const ma = results.find((r) => r.tool === a)?.medianSeconds, mb = results.find((r) => r.tool === b)?.medianSeconds;
      if (ma && mb) ratios.push({ a, b, medianRatio: ma / mb });
    }
    captures.push({ name: spec.name, packets: gen.packets, flows: gen.flows, devices: gen.devices, bytes: gen.bytes, flowTable, results, ratios });
    rmSync(file, { force: true });
  }
  return { date: new Date().toISOString(), rounds: o.rounds, captures };
}

export function printChurn(c: ChurnOutcome): void {
  const f = (n: number | null, d = 1) => n === null ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  for (const cap of c.captures) {
    console.log(`churn ${cap.name}: ${cap.packets.toLocaleString('en-US')} packets, ${cap.flows.toLocaleString('en-US')} flows, ${cap.devices.toLocaleString('en-US')} devices; ` +
      `flow table at default caps: ${cap.flowTable.peakLive.toLocaleString('en-US')} live at most of ${cap.flowTable.maxFlows.toLocaleString('en-US')}, ${cap.flowTable.evicted} evicted`);
    const rows = [['tool', 'median s', 'packets/s', 'peak RSS MB', 'rounds', 'note']];
    for (const r of cap.results) rows.push([r.tool, f(r.medianSeconds, 2), f(r.packetsPerSecond, 0), f(r.peakRssMB, 1), String(r.runs.length), r.note]);
    const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) console.log(`  ${row.map((x, i) => x.padEnd(w[i])).join('  ').trimEnd()}`);
    for (const r of cap.ratios) console.log(`  ${r.a} / ${r.b}: ${r.medianRatio.toFixed(2)}x the time (median)`);
  }
}
