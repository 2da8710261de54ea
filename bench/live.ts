// Live capture at fixed packet rates (issue 14): two network namespaces of the bench's own,
// joined by a veth pair (one end in each, no address, no route, IPv6 off: nothing reaches the
// host's stack or any network), tcpreplay sending an IMIX capture into one end at 100k, 200k,
// 300k, 500k and 1M packets/s and at top speed, and on the other end one capture tool at a time:
// `segwatch run --interface` (node dist/..., drops from its /metrics), `tcpdump -w /dev/null`
// ("packets dropped by kernel" at exit), `softflowd -i` (softflowctl statistics) and
// `nfpcapd -i` (its closing log). Every tool asks for the same 32 MiB kernel buffer. Interleaved
// rounds (every tool once per rate in each), medians. Every wait is bounded; the namespaces go
// at the end, on failure and on exit.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateBenchCapture } from './gen-capture.js';

export interface LiveBenchOptions {
  /** node and the built CLI. */
  segwatch: string[];
  /** temp dir of the caller (removed by it). */
  tmp: string;
  rounds?: number;
  /** packets/s asked; 0 = tcpreplay --topspeed. */
  rates?: number[];
  /** seconds of traffic a trial sends (top speed: as many packets as the highest fixed rate would). */
  seconds?: number;
  /** tools to run (names as in the table); default all. */
  only?: Set<string> | null;
  /** kernel buffer every tool asks for, MiB. */
  bufferMb?: number;
}

export interface LiveTrial {
  round: number;
  rate: number;
  tool: string;
  sent: number;
  achievedRate: number | null;
  seen: number | null;
  /** kernel drops (and for segwatch interface + ring drops, apart below) */
  dropped: number | null;
  kernelDrops: number | null;
  ifDrops: number | null;
  ringDrops: number | null;
  note: string;
}

export interface LiveSummary {
  rate: number;
  tool: string;
  rounds: number;
  achievedRateMedian: number | null;
  sentMedian: number | null;
  seenMedian: number | null;
  droppedMedian: number | null;
  /** (sent - seen) / sent, median */
  lossMedian: number | null;
  note: string;
}

export interface LiveOutcome {
  skipped?: string;
  date: string;
  where: string;
  capture: { packets: number; bytes: number; meanFrameBytes: number };
  rounds: number;
  seconds: number;
  bufferMb: number;
  summary: LiveSummary[];
  /**
   * per tool, the highest rate tcpreplay achieved (median) in a scenario where the tool lost under
   * 0.1 %: the achieved rate, not the asked one, since a busy sender falls short of what it is asked
   */
  highestLossless: Array<{ tool: string; rate: number | null }>;
  trials: LiveTrial[];
  tookSeconds: number;
}

export const LIVE_RATES = [100_000, 200_000, 300_000, 500_000, 1_000_000, 0];
const TOOLS = ['segwatch run', 'tcpdump', 'softflowd', 'nfpcapd'];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
const median = (xs: number[]): number | null => (xs.length ? [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] : null);

function sh(cmd: string, args: string[], timeoutMs = 10_000): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function which(cmd: string): string | null {
  const r = sh('sh', ['-c', `command -v ${cmd}`]);
  return r.code === 0 ? r.out.trim() : null;
}

export function liveUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces, a veth pair, packet sockets)';
  if (!which('ip')) return 'needs iproute2 (`ip`)';
  if (!which('tcpreplay')) return 'needs tcpreplay (Debian package tcpreplay)';
  return null;
}

// ---------------------------------------------------------------------------------------------
// The two namespaces

interface Lab {
  rx: string;
  tx: string;
  rxIf: string;
  txIf: string;
  spawn(ns: string, argv: string[]): ChildProcess;
  exec(ns: string, argv: string[], timeoutMs?: number): { code: number; out: string; err: string };
  destroy(): void;
}

const PREFIX = 'swlv-';

function createLab(): Lab {
  // namespaces a bench that died hard left behind: their creator's pid is in the name
  for (const n of sh('ip', ['netns', 'list']).out.split('\n').map((l) => l.split(' ')[0]).filter((x) => x.startsWith(PREFIX))) {
    const pid = Number(n.split('-')[1]);
    if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`)) removeNs(n);
  }
  const rx = `${PREFIX}${process.pid}-rx`, tx = `${PREFIX}${process.pid}-tx`;
  const rxIf = `lvr${process.pid % 100000}`, txIf = `lvt${process.pid % 100000}`;
  const children = new Set<ChildProcess>();
  let gone = false;
  const destroy = () => {
    if (gone) return;
    gone = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } }
    removeNs(rx);
    removeNs(tx);
    if (existsSync(`/sys/class/net/${rxIf}`)) sh('ip', ['link', 'del', rxIf]);
  };
  process.on('exit', destroy);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { destroy(); process.exit(130); });
  const must = (args: string[]) => {
    const r = sh('ip', args);
    if (r.code !== 0) { destroy(); throw new Error(`ip ${args.join(' ')}: ${r.err.trim()}`); }
  };
  must(['netns', 'add', rx]);
  must(['netns', 'add', tx]);
  // made in the receiving namespace, one end moved out: neither end ever sits in the host's
  must(['-n', rx, 'link', 'add', rxIf, 'type', 'veth', 'peer', 'name', txIf]);
  must(['-n', rx, 'link', 'set', txIf, 'netns', tx]);
  for (const [ns, ifn] of [[rx, rxIf], [tx, txIf]]) {
    must(['netns', 'exec', ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6']);
    must(['-n', ns, 'link', 'set', 'lo', 'up']);
    must(['-n', ns, 'link', 'set', ifn, 'up']);
  }
  return {
    rx, tx, rxIf, txIf, destroy,
    spawn(ns, argv) {
      const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      children.add(c);
      c.once('exit', () => children.delete(c));
      return c;
    },
    exec: (ns, argv, timeoutMs) => sh('ip', ['netns', 'exec', ns, ...argv], timeoutMs),
  };
}

function removeNs(ns: string): void {
  for (const p of sh('ip', ['netns', 'pids', ns]).out.split('\n').map(Number).filter((n) => n > 0)) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  sh('ip', ['netns', 'del', ns]);
}

function collect(c: ChildProcess): { text: () => string; exited: Promise<void> } {
  let text = '';
  const add = (d: Buffer) => { text += d.toString(); if (text.length > 2e6) text = text.slice(-1e6); };
  c.stdout?.on('data', add);
  c.stderr?.on('data', add);
  const exited = new Promise<void>((res) => c.once('exit', () => res()));
  return { text: () => text, exited };
}

/** Waits for the process to end, at most ms; then kills it. true when it ended by itself. */
async function waitExit(c: ChildProcess, exited: Promise<void>, ms: number): Promise<boolean> {
  const done = await Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
  if (!done) { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } await exited; }
  return done;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (cond()) return true;
  return cond();
}

// ---------------------------------------------------------------------------------------------
// The capture tools: start on the receiving end, stop, and say what they saw and dropped

interface Counts { seen: number | null; dropped: number | null; kernel?: number | null; iface?: number | null; ring?: number | null; note: string }
interface Running { stop(): Promise<Counts> }
interface Tool { name: string; missing: string | null; start(lab: Lab, dir: string, bufferMb: number): Promise<Running> }

const num = (re: RegExp, s: string): number | null => { const m = re.exec(s); return m ? Number(m[1]) : null; };
const lastNum = (re: RegExp, s: string): number | null => { let v: number | null = null; for (const m of s.matchAll(re)) v = Number(m[1]); return v; };

function tcpdumpTool(): Tool {
  return {
    name: 'tcpdump', missing: which('tcpdump') ? null : 'tcpdump not installed',
    async start(lab, _dir, bufferMb) {
      const c = lab.spawn(lab.rx, ['tcpdump', '-i', lab.rxIf, '-n', '-p', '-B', String(bufferMb * 1024), '-w', '/dev/null']);
      const io = collect(c);
      if (!await until(() => /listening on/.test(io.text()), 10_000)) throw new Error(`tcpdump did not start: ${io.text().slice(-400)}`);
      return {
        async stop() {
          c.kill('SIGINT');
          const ok = await waitExit(c, io.exited, 20_000);
          const t = io.text();
          const dropped = num(/(\d+) packets? dropped by kernel/, t);
          return { seen: num(/(\d+) packets? captured/, t), dropped, kernel: dropped, note: ok ? '' : 'killed after 20 s' };
        },
      };
    },
  };
}

function softflowdTool(): Tool {
  return {
    name: 'softflowd', missing: which('softflowd') && which('softflowctl') ? null : 'softflowd not installed',
    async start(lab, dir, bufferMb) {
      const ctl = join(dir, 'softflowd.ctl');
      // exports to the discard port of the namespace's own loopback: nothing leaves
      const c = lab.spawn(lab.rx, ['softflowd', '-d', '-i', lab.rxIf, '-n', '127.0.0.1:9', '-c', ctl, '-p', join(dir, 'softflowd.pid'), '-B', String(bufferMb << 20), '-m', '65536']);
      const io = collect(c);
      if (!await until(() => existsSync(ctl) || c.exitCode !== null, 10_000) || c.exitCode !== null) throw new Error(`softflowd did not start: ${io.text().slice(-400)}`);
      return {
        async stop() {
          const st = lab.exec(lab.rx, ['softflowctl', '-c', ctl, 'statistics'], 10_000).out;
          c.kill('SIGTERM');
          const ok = await waitExit(c, io.exited, 20_000);
          const received = num(/packets received by libpcap:\s*(\d+)/i, st);
          const dropped = num(/packets dropped by libpcap:\s*(\d+)/i, st);
          const seen = num(/Number of packets processed:\s*(\d+)/i, st) ?? received;
          return { seen, dropped, kernel: dropped, note: [ok ? '' : 'killed after 20 s', seen === null ? `no statistics: ${st.slice(0, 200)}` : ''].filter(Boolean).join(', ') };
        },
      };
    },
  };
}

function nfpcapdTool(): Tool {
  return {
    name: 'nfpcapd', missing: which('nfpcapd') ? null : 'nfpcapd not installed (Debian package nfdump)',
    async start(lab, dir, bufferMb) {
      const flows = join(dir, 'nfpcapd');
      mkdirSync(flows, { recursive: true });
      const c = lab.spawn(lab.rx, ['nfpcapd', '-i', lab.rxIf, '-w', flows, '-b', String(bufferMb), '-v']);
      const io = collect(c);
      // no line says it is ready on every version: give it a second, then check it lives
      await sleep(1000);
      if (c.exitCode !== null) throw new Error(`nfpcapd did not start: ${io.text().slice(-400)}`);
      return {
        async stop() {
          c.kill('SIGTERM');
          const ok = await waitExit(c, io.exited, 20_000);
          const t = io.text();
          // its closing log: "Stat: received: N, dropped by OS/Buffer: N, ..." (libpcap's counters,
          // the last such line) and "Total: Processed: N, ..."
          const seen = lastNum(/Total: Processed: (\d+)/g, t);
          const dropped = lastNum(/dropped by OS\/Buffer: (\d+)/g, t);
          return { seen, dropped, kernel: dropped, note: [ok ? '' : 'killed after 20 s', seen === null ? `no statistics in its log: ${t.slice(-300).replace(/\s+/g, ' ')}` : ''].filter(Boolean).join(', ') };
        },
      };
    },
  };
}

/** The site policy both live benches give segwatch: one watched segment, everything allowed. */
export const POLICY = `version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
devices: []
default_profile: any
profiles:
  any:
    allow:
      - { to: "0.0.0.0/0" }
`;

function segwatchTool(cli: string[]): Tool {
  const token = 'bench-live-token-0123456789abcdef';
  return {
    name: 'segwatch run', missing: existsSync(cli[1]) ? null : 'segwatch not built (npm run build)',
    async start(lab, dir, bufferMb) {
      const policy = join(dir, 'policy.yaml');
      writeFileSync(policy, POLICY);
      const apiPort = 9470;
      const c = lab.spawn(lab.rx, ['env', `SEGWATCH_API_TOKEN=${token}`, ...cli, 'run', '--policy', policy, '--interface', lab.rxIf,
        '--buffer-size-mb', String(bufferMb), '--state-dir', join(dir, 'state'), '--listen', `127.0.0.1:${apiPort}`, '--log-level', 'info']);
      const io = collect(c);
      if (!await until(() => /collector started/.test(io.text()) || c.exitCode !== null, 30_000) || c.exitCode !== null) {
        throw new Error(`segwatch run did not start: ${io.text().slice(-600)}`);
      }
      // the capture thread opens the interface after the log line: wait for its first stats
      const metrics = (): Record<string, number> | null => {
        const r = lab.exec(lab.rx, [process.execPath, '-e',
          `fetch('http://127.0.0.1:${apiPort}/metrics',{headers:{authorization:'Bearer ${token}'},signal:AbortSignal.timeout(10000)}).then(r=>r.text()).then(t=>process.stdout.write(t),e=>{process.stderr.write(String(e));process.exit(1)})`], 20_000);
        if (r.code !== 0) return null;
        const m: Record<string, number> = {};
        for (const line of r.out.split('\n')) {
          const x = /^(segwatch_(?:packets_total|drops_total|capture_\w+))(?:\{[^}]*\})? ([\d.e+]+)$/.exec(line);
          if (x) m[x[1]] = Number(x[2]);
        }
        return 'segwatch_packets_total' in m ? m : null;
      };
      await until(() => metrics() !== null, 10_000);
      return {
        async stop() {
          // settled: packets_total the same on two polls (the ring and the pipeline behind the kernel)
          let last = metrics(), prev = -1;
          for (const end = Date.now() + 20_000; last && last.segwatch_packets_total !== prev && Date.now() < end; await sleep(300)) {
            prev = last.segwatch_packets_total;
            last = metrics() ?? last;
          }
          c.kill('SIGTERM');
          const ok = await waitExit(c, io.exited, 30_000);
          if (!last) return { seen: null, dropped: null, note: `no /metrics: ${io.text().slice(-300)}` };
          return {
            seen: last.segwatch_packets_total, dropped: last.segwatch_drops_total ?? null,
            kernel: last.segwatch_capture_kernel_drops_total ?? null, iface: last.segwatch_capture_interface_drops_total ?? null,
            ring: last.segwatch_capture_ring_drops_total ?? null, note: ok ? '' : 'killed after 30 s',
          };
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------

interface Sent { sent: number; achievedRate: number | null; note: string }

async function replay(lab: Lab, file: string, rate: number, packets: number): Promise<Sent> {
  const speed = rate > 0 ? [`--pps=${rate}`] : ['--topspeed'];
  // -K: the file in memory first, so the disk does not set the pace; --loop: as often as needed
  const c = lab.spawn(lab.tx, ['tcpreplay', '-i', lab.txIf, '-K', ...speed, '--loop=0', `--limit=${packets}`, file]);
  const io = collect(c);
  if (!await waitExit(c, io.exited, 180_000)) throw new Error('tcpreplay did not end in 180 s');
  const t = io.text();
  const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(t);
  if (!m) throw new Error(`tcpreplay: ${t.slice(-600)}`);
  const failed = Number(/Failed packets:\s+(\d+)/.exec(t)?.[1] ?? 0);
  const sent = Number(m[1]) - failed;
  const secs = Number(m[3]);
  return { sent, achievedRate: secs > 0 ? sent / secs : null, note: failed ? `${failed} packets tcpreplay failed to send` : '' };
}

export async function runLiveBench(o: LiveBenchOptions): Promise<LiveOutcome> {
  const t0 = Date.now();
  const rounds = Math.max(1, o.rounds ?? 3);
  const rates = o.rates ?? LIVE_RATES;
  const seconds = o.seconds ?? 2;
  const bufferMb = o.bufferMb ?? 32;
  const outcome: LiveOutcome = {
    date: new Date().toISOString(), where: '', capture: { packets: 0, bytes: 0, meanFrameBytes: 0 }, rounds, seconds, bufferMb,
    summary: [], highestLossless: [], trials: [], tookSeconds: 0,
  };
  const why = liveUnavailable();
  if (why) return { ...outcome, skipped: why };
  const tools = [segwatchTool(o.segwatch), tcpdumpTool(), softflowdTool(), nfpcapdTool()].filter((t) => !o.only || o.only.has(t.name) || o.only.has(t.name.split(' ')[0]));
  const file = join(o.tmp, 'imix.pcap');
  // 200,000 IMIX frames (64/576/1500 bytes, 7:4:1), looped by tcpreplay as long as a trial needs
  const g = generateBenchCapture(file, { packets: 200_000 });
  outcome.capture = { packets: g.packets, bytes: g.bytes, meanFrameBytes: Math.round(g.bytes / g.packets) };
  const lab = createLab();
  outcome.where = `veth pair ${lab.txIf} (namespace ${lab.tx}, tcpreplay) -> ${lab.rxIf} (namespace ${lab.rx}, the capture tool), no addresses, no routes`;
  const maxRate = Math.max(...rates.filter((r) => r > 0), 100_000);
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const rate of rates) {
        const packets = Math.round((rate > 0 ? rate : maxRate) * seconds);
        for (const tool of tools) {
          const tr: LiveTrial = { round, rate, tool: tool.name, sent: 0, achievedRate: null, seen: null, dropped: null, kernelDrops: null, ifDrops: null, ringDrops: null, note: '' };
          outcome.trials.push(tr);
          if (tool.missing) { tr.note = tool.missing; continue; }
          const dir = join(o.tmp, `r${round}-${rate}-${tool.name.split(' ')[0]}`);
          mkdirSync(dir, { recursive: true });
          let running: Running | null = null;
          try {
            running = await tool.start(lab, dir, bufferMb);
            // every tool settles before the traffic: its start-up work is not what is measured
            await sleep(1500);
            const s = await replay(lab, file, rate, packets);
            tr.sent = s.sent; tr.achievedRate = s.achievedRate;
            await sleep(500);
            const c = await running.stop();
            running = null;
            tr.seen = c.seen; tr.dropped = c.dropped; tr.kernelDrops = c.kernel ?? null; tr.ifDrops = c.iface ?? null; tr.ringDrops = c.ring ?? null;
            tr.note = [s.note, c.note].filter(Boolean).join(', ');
          } catch (e) {
            tr.note = (e as Error).message.slice(0, 300);
            if (running) await running.stop().catch(() => null);
          }
          console.error(`  live: round ${round} ${rate ? `${rate} pps` : 'top speed'} ${tool.name}: sent ${tr.sent} seen ${tr.seen ?? '-'} dropped ${tr.dropped ?? '-'}${tr.note ? ` (${tr.note})` : ''}`);
        }
      }
    }
  } finally {
    lab.destroy();
  }
  for (const rate of rates) {
    for (const tool of tools) {
      const ts = outcome.trials.filter((x) => x.rate === rate && x.tool === tool.name && x.seen !== null);
      const loss = ts.filter((x) => x.sent > 0).map((x) => Math.max(0, x.sent - (x.seen ?? 0)) / x.sent);
      outcome.summary.push({
        rate, tool: tool.name, rounds: ts.length,
        achievedRateMedian: median(ts.map((x) => x.achievedRate).filter((x): x is number => x !== null)),
        sentMedian: median(ts.map((x) => x.sent)), seenMedian: median(ts.map((x) => x.seen!)),
        droppedMedian: median(ts.map((x) => x.dropped).filter((x): x is number => x !== null)),
        lossMedian: median(loss),
        note: [...new Set([
          ...(rate > 0 && ts.some((x) => x.achievedRate !== null && x.achievedRate < rate * 0.9) ? ['tcpreplay fell short of the rate asked'] : []),
          ...outcome.trials.filter((x) => x.rate === rate && x.tool === tool.name).map((x) => x.note).filter(Boolean)])].join('; ').slice(0, 200),
      });
    }
  }
  for (const tool of tools) {
    let best: number | null = null;
    for (const s of outcome.summary.filter((x) => x.tool === tool.name)) {
      if (s.lossMedian === null || s.lossMedian >= 0.001) continue;
      const r = s.achievedRateMedian;
      if (r !== null && (best === null || r > best)) best = r;
    }
    outcome.highestLossless.push({ tool: tool.name, rate: best === null ? null : Math.round(best) });
  }
  outcome.tookSeconds = Math.round((Date.now() - t0) / 1000);
  return outcome;
}

const fmtN = (n: number | null, d = 0) => (n === null ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

export function printLive(o: LiveOutcome): void {
  if (o.skipped) { console.log(`live capture: skipped: ${o.skipped}`); return; }
  console.log(`live capture (${o.where}; IMIX, mean frame ${o.capture.meanFrameBytes} bytes; ${o.seconds} s a rate, ${o.rounds} round${o.rounds === 1 ? '' : 's'}, medians; kernel buffer ${o.bufferMb} MiB each)`);
  const rows = [['rate asked', 'achieved', 'tool', 'sent', 'seen', 'dropped', 'loss %', 'note']];
  for (const s of o.summary) {
    rows.push([s.rate ? fmtN(s.rate) : 'top speed', fmtN(s.achievedRateMedian), s.tool, fmtN(s.sentMedian), fmtN(s.seenMedian), fmtN(s.droppedMedian),
      s.lossMedian === null ? '-' : (s.lossMedian * 100).toFixed(2), s.note]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 2 || i === 7 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd());
  console.log(`highest achieved rate lost under 0.1 %: ${o.highestLossless.map((h) => `${h.tool} ${h.rate === null ? 'none' : `${fmtN(h.rate)} pps`}`).join(', ')}`);
}
