// NetFlow v9 and IPFIX ingest on loopback (issue 12): the same pre-generated export stream sent
// at 250k, 500k, 1M and 2M records/s, and the burst `softflowd -r` sends at full speed, to one
// receiver at a time (nfcapd, nfacctd, node-netflowv9, segwatch run), each asking for the same
// 8 MiB receive buffer; records received and lost per receiver, interleaved rounds, medians.
//
// Where: a network namespace of its own (deleted after). tcpreplay writes frames to `lo` through
// a packet socket, and the kernel takes such a frame as arriving from outside: 127.0.0.1 from
// 127.0.0.1 on lo is a martian unless lo has route_localnet=1 and accept_local=1. Setting those
// on the host's lo would change the host; inside a namespace of our own they change nothing
// else, and every receiver and sender runs there (`ip netns exec`), on that namespace's lo.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pokeSoftflowd } from '../test/helpers/softflowd.js';
import { join } from 'node:path';
import { exportDatagrams, writeExportPcap, writeFlowCapture, type ExportPcap, type ExportVersion, type FlowCapture } from './netflow-gen.js';

/** SO_RCVBUF every receiver asks for, bytes. */
export const RCVBUF = 8 << 20;
const PER_DATAGRAM = 30;

export interface NetflowBenchOptions {
  /** node and the built CLI. */
  segwatch: string[];
  /** the bench's temp dir (removed by the caller); the stream goes into a folder of it. */
  tmp: string;
  /** rounds, every receiver once per scenario in each; default 3. */
  rounds?: number;
  /** records/s asked of the sender. */
  rates?: number[];
  /** seconds of traffic a rate scenario sends; default 0.5 (1M records at 2M/s: 10x what the 8 MiB buffer holds). */
  seconds?: number;
  /** conversations of the softflowd capture (two records each); default 75,000. */
  conversations?: number;
  /** receivers to run (names as in the table); default all. */
  only?: Set<string> | null;
}

export interface Trial {
  round: number;
  scenario: string;
  tool: string;
  sent: number;
  received: number | null;
  lost: number | null;
  /** datagrams the kernel dropped at this socket (the drops column of /proc/net/udp) */
  socketDrops: number | null;
  /** UdpRcvbufErrors of the namespace over the trial */
  rcvbufErrors: number | null;
  /** records/s the sender achieved (tcpreplay's own timing; softflowd: records over its wall time) */
  achievedRate: number | null;
  /** records received over the time from the first send to the receiver's socket queue empty */
  decodedPerSecond: number | null;
  /** the effective SO_RCVBUF (ss's rb), bytes */
  rcvbuf: number | null;
  note: string;
}

export interface ScenarioSummary {
  scenario: string;
  version: 'v9' | 'ipfix';
  /** records/s asked; null for the softflowd burst (full speed) */
  askedRate: number | null;
  tool: string;
  rounds: number;
  sentMedian: number | null;
  achievedRateMedian: number | null;
  receivedMedian: number | null;
  lostMedian: number | null;
  lostPerRound: Array<number | null>;
  socketDropsMedian: number | null;
  decodedPerSecondMedian: number | null;
  rcvbuf: number | null;
  note: string;
}

export interface DecodeRate { decoder: string; version: 'v9' | 'ipfix'; records: number; recordsPerSecond: number; note: string }

export interface NetflowOutcome {
  skipped?: string;
  date: string;
  where: string;
  rcvbufRequested: number;
  rmemMax: number | null;
  rounds: number;
  secondsPerRate: number;
  recordsPerDatagram: number;
  stream: Array<{ version: string; records: number; datagrams: number; bytes: number }>;
  softflowd: { conversations: number; packets: number; records: number | null };
  summary: ScenarioSummary[];
  /** per scenario, segwatch's median records received over each peer's (1: as many) */
  ratios: Array<{ scenario: string; peer: string; segwatchOverPeer: number | null }>;
  trials: Trial[];
  decode: DecodeRate[];
  seconds: number;
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A wait that does not keep the process alive once everything else is done. */
const idle = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
const median = (xs: number[]): number | null => (xs.length ? [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] : null);

// ---------------------------------------------------------------------------------------------
// The namespace

interface Ns {
  name: string;
  exec(args: string[], timeoutMs?: number): { code: number; out: string; err: string };
  spawn(argv: string[], opts?: { stdout?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv }): ChildProcess;
  destroy(): void;
}

function sh(cmd: string, args: string[], timeoutMs = 10_000): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function nsUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (a network namespace, and tcpreplay\'s packet socket)';
  if (!which('ip')) return 'needs iproute2 (`ip`)';
  if (!which('tcpreplay')) return 'needs tcpreplay (Debian package tcpreplay)';
  return null;
}

function createNs(): Ns {
  // Namespaces left by a bench that died hard: their creator's pid is in the name.
  for (const n of sh('ip', ['netns', 'list']).out.split('\n').map((l) => l.split(' ')[0]).filter((x) => x.startsWith('swnf-'))) {
    const pid = Number(n.split('-')[1]);
    if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`)) sh('ip', ['netns', 'del', n]);
  }
  const name = `swnf-${process.pid}`;
  const children = new Set<ChildProcess>();
  let gone = false;
  const destroy = () => {
    if (gone) return;
    gone = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } }
    for (const p of sh('ip', ['netns', 'pids', name]).out.split('\n').map(Number).filter((n) => n > 0)) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
    sh('ip', ['netns', 'del', name]);
  };
  process.on('exit', destroy);
  const must = (args: string[]) => {
    const r = sh('ip', args);
    if (r.code !== 0) { destroy(); throw new Error(`ip ${args.join(' ')}: ${r.err.trim()}`); }
  };
  must(['netns', 'add', name]);
  must(['-n', name, 'link', 'set', 'lo', 'up']);
  // tcpreplay's frames on lo: 127.0.0.1 -> 127.0.0.1 arriving "from outside" (see the top)
  must(['netns', 'exec', name, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/conf/lo/route_localnet && echo 1 > /proc/sys/net/ipv4/conf/lo/accept_local']);
  return {
    name, destroy,
    exec: (args, timeoutMs) => sh('ip', ['netns', 'exec', name, ...args], timeoutMs),
    spawn(argv, opts = {}) {
      const c = spawn('ip', ['netns', 'exec', name, ...argv], { stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'], detached: true, env: { ...process.env, ...opts.env } });
      children.add(c);
      c.once('exit', () => children.delete(c));
      return c;
    },
  };
}

/** The UDP socket bound to port, as /proc/PID/net/udp shows it in the process's namespace. */
function udpRow(pid: number, port: number): { rxQueue: number; drops: number } | null {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/net/udp`, 'utf8'); } catch { return null; }
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0, rxQueue = 0, drops = 0;
  for (const line of text.split('\n').slice(1)) {
    const c = line.trim().split(/\s+/);
    if (c.length < 13 || !c[1].endsWith(hex)) continue;
    // several sockets on one port (SO_REUSEPORT): sum them
    n++;
    rxQueue += parseInt(c[4].split(':')[1], 16);
    drops += Number(c[c.length - 1]);
  }
  return n ? { rxQueue, drops } : null;
}

function rcvbufErrors(pid: number): number | null {
  try {
    const lines = readFileSync(`/proc/${pid}/net/snmp`, 'utf8').split('\n').filter((l) => l.startsWith('Udp: '));
    const head = lines[0].split(/\s+/), vals = lines[1].split(/\s+/);
    return Number(vals[head.indexOf('RcvbufErrors')]);
  } catch { return null; }
}

/** The effective receive buffer of the socket on port (ss's rb), bytes. */
function effectiveRcvbuf(ns: Ns, port: number): number | null {
  const r = ns.exec(['ss', '-uanm', `sport = :${port}`]);
  const m = /rb(\d+)/.exec(r.out);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Receivers

interface Running {
  /** the process that owns the socket (its /proc/PID/net is the namespace's) */
  pid: number;
  /** resolves when the receiver has handled what its socket got (beyond an empty socket queue) */
  settled?: () => Promise<void>;
  /** stops it; the records it received, or an Error saying why there is no count */
  stop(): Promise<number>;
  /** after stop(): what else it counted, for the note */
  note?: () => string;
}

interface Receiver {
  name: string;
  versions: ReadonlySet<ExportVersion>;
  /** null when it can run here, else why not */
  missing: string | null;
  start(ns: Ns, port: number, dir: string): Promise<Running>;
}

function collect(c: ChildProcess): { out: () => string; err: () => string; exited: Promise<number | null> } {
  let out = '', err = '';
  c.stdout?.on('data', (d: Buffer) => { if (out.length < 1e6) out += d.toString(); });
  c.stderr?.on('data', (d: Buffer) => { if (err.length < 1e6) err += d.toString(); else err = err.slice(-5e5) + d.toString(); });
  const exited = new Promise<number | null>((res) => c.once('exit', (code) => res(code)));
  return { out: () => out, err: () => err, exited };
}

async function waitExit(c: ChildProcess, exited: Promise<number | null>, ms: number): Promise<boolean> {
  const done = await Promise.race([exited.then(() => true), idle(ms).then(() => false)]);
  if (!done) { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } await exited; }
  return done;
}

/** Waits until the process has the port bound (or throws after ms, with its stderr). */
async function bound(c: ChildProcess, port: number, ms: number, err: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (!udpRow(c.pid!, port)) {
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`exited before binding: ${err().trim().slice(-600)}`);
    if (Date.now() > until) throw new Error(`did not bind port ${port} in ${ms} ms: ${err().trim().slice(-600)}`);
    await sleep(20);
  }
}

function nfcapd(): Receiver {
  const bin = which('nfcapd');
  return {
    name: 'nfcapd', versions: new Set([9, 10]), missing: bin ? null : 'nfcapd (nfdump) not installed',
    async start(ns, port, dir) {
      // -t 3600: no file rotation within a trial; -B: SO_RCVBUF asked for
      const c = ns.spawn([bin!, '-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', String(RCVBUF), '-t', '3600']);
      const io = collect(c);
      await bound(c, port, 10_000, io.err);
      return {
        pid: c.pid!,
        async stop() {
          c.kill('SIGTERM');
          if (!await waitExit(c, io.exited, 30_000)) throw new Error('nfcapd did not end in 30 s of SIGTERM');
          // "Ident: 'none' Flows: N, Packets: ..." for each file it closed
          const ns = [...`${io.out()}${io.err()}`.matchAll(/Flows: (\d+), Packets/g)].map((m) => Number(m[1]));
          if (!ns.length) throw new Error(`no stats line from nfcapd: ${io.err().slice(-400)}`);
          return ns.reduce((a, b) => a + b, 0);
        },
      };
    },
  };
}

function nfacctd(): Receiver {
  const bin = which('nfacctd');
  return {
    name: 'nfacctd', versions: new Set([9, 10]), missing: bin ? null : 'nfacctd (pmacct) not installed',
    async start(ns, port, dir) {
      const out = join(dir, 'print.csv');
      const conf = join(dir, 'nfacctd.conf');
      // the print plugin sums the FLOWS counter (records) per protocol, written when it stops
      writeFileSync(conf, [
        'daemonize: false', 'nfacctd_ip: 127.0.0.1', `nfacctd_port: ${port}`, `nfacctd_pipe_size: ${RCVBUF}`,
        'plugins: print[p]', 'aggregate[p]: proto, flows', 'print_output[p]: csv', `print_output_file[p]: ${out}`,
        'print_refresh_time[p]: 3600',
        // pmacct's advice for high rates (CONFIG-KEYS, plugin_buffer_size): a large buffer between the
        // core process and the plugin, or the core drops records it cannot hand over
        'plugin_buffer_size[p]: 1048576', 'plugin_pipe_size[p]: 268435456', '',
      ].join('\n'));
      const c = ns.spawn([bin!, '-f', conf]);
      const io = collect(c);
      await bound(c, port, 10_000, io.err);
      return {
        pid: c.pid!,
        async stop() {
          c.kill('SIGINT'); // SIGINT: the plugins purge their cache to the file, then exit
          const ok = await waitExit(c, io.exited, 30_000);
          for (const until = Date.now() + 10_000; !existsSync(out) && Date.now() < until;) await sleep(50);
          await sleep(100);
          try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* the plugins are gone */ }
          if (!existsSync(out)) throw new Error(`nfacctd wrote no ${out}${ok ? '' : ' (killed after 30 s)'}: ${io.err().slice(-400)}`);
          const rows = readFileSync(out, 'utf8').trim().split('\n');
          const i = rows[0].split(',').indexOf('FLOWS');
          if (i < 0) throw new Error(`no FLOWS column in ${rows[0]}`);
          return rows.slice(1).reduce((s, r) => s + Number(r.split(',')[i]), 0);
        },
      };
    },
  };
}

/** node-netflowv9 (v9 only) as a receiver: its own socket and queue, records counted in its callback. */
function nodeNetflowv9(): Receiver {
  let lib: string | null = null;
  try { lib = createRequire(import.meta.url).resolve('node-netflowv9'); } catch { /* not installed */ }
  return {
    name: 'node-netflowv9', versions: new Set([9]), missing: lib ? null : 'node-netflowv9 not installed',
    async start(ns, port, dir) {
      const script = join(dir, 'nnf.cjs');
      writeFileSync(script, `
const Collector = require(${JSON.stringify(lib)});
let records = 0;
const c = Collector({ cb: (o) => { records += o.flows.length; } });
c.listen(${port}, '127.0.0.1', () => { c.server.setRecvBufferSize(${RCVBUF}); });
// its queue (an unbounded deque) drained, the count
process.on('SIGTERM', () => {
  const end = Date.now() + 20000;
  const done = () => { if (c.fifo.length && Date.now() < end) return setTimeout(done, 10); process.stdout.write(JSON.stringify({ records, left: c.fifo.length }) + '\\n'); process.exit(0); };
  done();
});
`);
      const c = ns.spawn([process.execPath, script]);
      const io = collect(c);
      await bound(c, port, 10_000, io.err);
      return {
        pid: c.pid!,
        async stop() {
          c.kill('SIGTERM');
          if (!await waitExit(c, io.exited, 30_000)) throw new Error('node-netflowv9 did not end in 30 s');
          const m = /\{"records":(\d+),"left":(\d+)\}/.exec(io.out());
          if (!m) throw new Error(`no count: ${io.err().slice(-400)}`);
          return Number(m[1]);
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Senders

interface Sent { sent: number; seconds: number; achievedRate: number | null; note: string }

async function tcpreplay(ns: Ns, stream: ExportPcap, rate: number, records: number): Promise<Sent> {
  const datagrams = Math.min(stream.datagrams, Math.ceil(records / PER_DATAGRAM));
  const pps = Math.round(rate / PER_DATAGRAM);
  const c = ns.spawn(['tcpreplay', '-i', 'lo', '-K', `--pps=${pps}`, `--limit=${datagrams}`, stream.path]);
  const io = collect(c);
  const t0 = performance.now();
  if (!await waitExit(c, io.exited, 120_000)) throw new Error('tcpreplay did not end in 120 s');
  const wall = (performance.now() - t0) / 1000;
  const text = io.out() + io.err();
  const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(text);
  if (!m) throw new Error(`tcpreplay: ${text.slice(-600)}`);
  const failed = Number(/Failed packets:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const n = Number(m[1]) - failed;
  const sent = Math.min(n * PER_DATAGRAM, stream.records);
  const secs = Number(m[3]);
  return { sent, seconds: secs || wall, achievedRate: secs > 0 ? sent / secs : null, note: failed ? `${failed} datagrams tcpreplay failed to send` : '' };
}

/** softflowd -r blocks between batches of 8192 packets until its control socket is used (see run.ts). */
async function softflowd(ns: Ns, capture: string, port: number, dir: string): Promise<Sent> {
  const ctl = join(dir, 'softflowd.ctl');
  const c = ns.spawn(['softflowd', '-r', capture, '-n', `127.0.0.1:${port}`, '-v', '9', '-d', '-c', ctl, '-p', join(dir, 'softflowd.pid'), '-m', '262144']);
  const io = collect(c);
  const t0 = performance.now();
  let finished = false;
  void io.exited.then(() => { finished = true; });
  const poke = pokeSoftflowd(ctl, () => finished);
  const ok = await waitExit(c, io.exited, 120_000);
  finished = true;
  await poke;
  const seconds = (performance.now() - t0) / 1000;
  if (!ok) throw new Error('softflowd did not end in 120 s');
  const m = /Flows exported: \d+ \((\d+) records\) in (\d+) packets \((\d+) failures\)/.exec(io.out() + io.err());
  if (!m) throw new Error(`softflowd: no export statistics: ${(io.out() + io.err()).slice(-600)}`);
  return { sent: Number(m[1]), seconds, achievedRate: Number(m[1]) / seconds, note: Number(m[3]) ? `${m[3]} send failures` : '' };
}

// ---------------------------------------------------------------------------------------------

interface Scenario { name: string; version: ExportVersion; rate: number | null }

async function trial(ns: Ns, rx: Receiver, sc: Scenario, round: number, port: number, dir: string,
  send: (dir: string) => Promise<Sent>): Promise<Trial> {
  const base: Trial = { round, scenario: sc.name, tool: rx.name, sent: 0, received: null, lost: null, socketDrops: null, rcvbufErrors: null, achievedRate: null, decodedPerSecond: null, rcvbuf: null, note: '' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let running: Running | null = null;
  try {
    running = await rx.start(ns, port, dir);
    const pid = running.pid;
    base.rcvbuf = effectiveRcvbuf(ns, port);
    const errs0 = rcvbufErrors(pid);
    const s = await send(dir);
    const t1 = performance.now();
    Object.assign(base, { sent: s.sent, achievedRate: s.achievedRate, note: s.note });
    // drained: the socket queue empty three polls in a row (bounded)
    for (let empty = 0, until = Date.now() + 20_000; empty < 3 && Date.now() < until; await sleep(50)) {
      const row = udpRow(pid, port);
      empty = row && row.rxQueue === 0 ? empty + 1 : 0;
    }
    if (running.settled) await running.settled();
    // the sender's own send time, and the time its queue took to empty after it (less the polls that saw it empty)
    const secs = s.seconds + Math.max(0, (performance.now() - t1) / 1000 - 0.1);
    const row = udpRow(pid, port);
    base.socketDrops = row?.drops ?? null;
    const errs1 = rcvbufErrors(pid);
    base.rcvbufErrors = errs0 !== null && errs1 !== null ? errs1 - errs0 : null;
    const r = running;
    running = null;
    const got = await r.stop();
    const extra = r.note?.();
    if (extra) base.note = [base.note, extra].filter(Boolean).join('; ');
    base.received = got;
    base.lost = base.sent - got;
    base.decodedPerSecond = got / secs;
  } catch (e) {
    base.note = [base.note, (e as Error).message.split('\n')[0].slice(0, 300)].filter(Boolean).join('; ');
  } finally {
    if (running) { try { await running.stop(); } catch { /* already reported */ } }
    rmSync(dir, { recursive: true, force: true });
  }
  return base;
}

/** A UDP port nobody in the namespace uses (it is empty): fixed, the pcap carries it. */
const PORT = 39055;

/** The in-process decode rate of the same datagrams: node-netflowv9 (v9) and segwatch's decoder. */
async function decodeRates(records: number): Promise<DecodeRate[]> {
  const out: DecodeRate[] = [];
  for (const version of [9, 10] as const) {
    const grams: Buffer[] = [];
    for (const g of exportDatagrams(version, { records })) grams.push(Buffer.from(g));
    const v = version === 9 ? 'v9' as const : 'ipfix' as const;
    const time = (fn: () => number): { n: number; rate: number } => {
      let best = 0, n = 0;
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now();
        n = fn();
        const rate = n / ((performance.now() - t0) / 1000);
        if (rate > best) best = rate;
      }
      return { n, rate: best };
    };
    for (const d of await decoders(version)) {
      try {
        const r = time(() => d.run(grams));
        out.push({ decoder: d.name, version: v, records: r.n, recordsPerSecond: r.rate, note: r.n === records ? '' : `decoded ${r.n} of ${records} records` });
      } catch (e) {
        out.push({ decoder: d.name, version: v, records: 0, recordsPerSecond: 0, note: (e as Error).message.slice(0, 200) });
      }
    }
  }
  return out;
}

interface InProcessDecoder { name: string; run(grams: Buffer[]): number }

async function decoders(version: ExportVersion): Promise<InProcessDecoder[]> {
  const list: InProcessDecoder[] = [];
  if (version === 9) {
    try {
      const Collector = createRequire(import.meta.url)('node-netflowv9') as (o: unknown) => { nfPktDecode(m: Buffer, r: unknown): { flows: unknown[] } | undefined; server: { close(): void } };
      list.push({
        name: 'node-netflowv9 nfPktDecode', run(grams) {
          const c = Collector({ cb: () => {} });
          c.server.close();
          const rinfo = { address: '127.0.0.1', port: 9995, size: 0 };
          let n = 0;
          for (const g of grams) { rinfo.size = g.length; n += c.nfPktDecode(g, rinfo)?.flows.length ?? 0; }
          return n;
        },
      });
    } catch { /* not installed */ }
  }
  list.push(...await segwatchDecoders());
  return list;
}

/**
 * segwatch's FlowExportDecoder (collector/decode/flow-export.ts) alone, and with the join of each
 * conversation's two records (collector/sources/flow-export-ingest.ts), when this build has them:
 * where the receiver's time goes, beside the end-to-end figure of `segwatch run`.
 */
async function segwatchDecoders(): Promise<InProcessDecoder[]> {
  const list: InProcessDecoder[] = [];
  const dec = new URL('../collector/decode/flow-export.js', import.meta.url);
  const ing = new URL('../collector/sources/flow-export-ingest.js', import.meta.url);
  type OnRecord = (r: unknown) => void;
  if (existsSync(dec)) {
    const mod = await import(dec.href) as { FlowExportDecoder: new () => { decode(buf: Uint8Array, off: number, len: number, exporter: string, nowMs: number, onRecord: OnRecord): number } };
    list.push({
      name: 'segwatch FlowExportDecoder', run(grams) {
        const d = new mod.FlowExportDecoder();
        let n = 0;
        const on = () => { n++; };
        const now = Date.now();
        for (const g of grams) d.decode(g, 0, g.length, '127.0.0.1', now, on);
        return n;
      },
    });
  }
  if (existsSync(ing)) {
    type Ingest = { datagram(buf: Uint8Array, off: number, len: number, exporter: string, now: number): void; flush(): void; stats(): { records: number } };
    const mod = await import(ing.href) as { FlowExportIngest: new (on: OnRecord) => Ingest };
    list.push({
      name: 'segwatch decode + join', run(grams) {
        const ingest = new mod.FlowExportIngest(() => {});
        const now = Date.now();
        for (const g of grams) ingest.datagram(g, 0, g.length, '127.0.0.1', now);
        ingest.flush();
        return ingest.stats().records;
      },
    });
  }
  return list;
}

export async function runNetflowBench(o: NetflowBenchOptions): Promise<NetflowOutcome> {
  const t0 = performance.now();
  const rounds = o.rounds ?? 3;
  const rates = o.rates ?? [250_000, 500_000, 1_000_000, 2_000_000];
  const seconds = o.seconds ?? 0.5;
  const conversations = o.conversations ?? 75_000;
  const rmemMax = (() => { try { return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim()); } catch { return null; } })();
  const outcome: NetflowOutcome = {
    date: new Date().toISOString(), where: '', rcvbufRequested: RCVBUF, rmemMax, rounds, secondsPerRate: seconds,
    recordsPerDatagram: PER_DATAGRAM, stream: [], softflowd: { conversations, packets: 0, records: null }, summary: [], ratios: [], trials: [], decode: [], seconds: 0,
  };
  const why = nsUnavailable();
  if (why) return { ...outcome, skipped: why };
  const dir = join(o.tmp, 'netflow');
  mkdirSync(dir, { recursive: true });
  const ns = createNs();
  outcome.where = `network namespace ${ns.name} (lo, route_localnet=1, accept_local=1), tcpreplay -K --pps on lo`;
  try {
    // The stream: enough records for the top rate; lower rates send a prefix of it.
    const top = Math.max(...rates) * seconds;
    const records = Math.ceil(top / PER_DATAGRAM) * PER_DATAGRAM;
    const g0 = performance.now();
    const streams = new Map<ExportVersion, ExportPcap>();
    for (const v of [9, 10] as const) {
      const s = writeExportPcap(join(dir, v === 9 ? 'v9.pcap' : 'ipfix.pcap'), v, PORT, { records, perDatagram: PER_DATAGRAM });
      streams.set(v, s);
      outcome.stream.push({ version: v === 9 ? 'v9' : 'ipfix', records: s.records, datagrams: s.datagrams, bytes: s.bytes });
    }
    const flows: FlowCapture = writeFlowCapture(join(dir, 'flows.pcap'), conversations);
    outcome.softflowd.packets = flows.packets;
    console.error(`netflow: streams of ${records.toLocaleString('en-US')} records (v9 ${(statSync(streams.get(9)!.path).size / 1e6).toFixed(0)} MB, ipfix ${(statSync(streams.get(10)!.path).size / 1e6).toFixed(0)} MB), softflowd capture of ${conversations.toLocaleString('en-US')} conversations, in ${((performance.now() - g0) / 1000).toFixed(1)} s`);

    outcome.decode = await decodeRates(300_000);

    const receivers = [nfcapd(), nfacctd(), nodeNetflowv9(), segwatchReceiver(o.segwatch)]
      .filter((r) => !o.only || o.only.has(r.name));
    for (const r of receivers) if (r.missing) console.error(`netflow: ${r.name} skipped: ${r.missing}`);
    const usable = receivers.filter((r) => !r.missing);
    const scenarios: Scenario[] = [];
    for (const v of [9, 10] as const) for (const rate of rates) scenarios.push({ name: `${v === 9 ? 'v9' : 'ipfix'} ${rate >= 1e6 ? `${rate / 1e6}M` : `${rate / 1e3}k`}/s`, version: v, rate });
    if (which('softflowd')) scenarios.push({ name: 'softflowd -r burst (v9)', version: 9, rate: null });
    else console.error('netflow: softflowd not installed: no burst scenario');

    for (let round = 1; round <= rounds; round++) {
      console.error(`netflow round ${round} of ${rounds}: ${usable.map((r) => r.name).join(', ')} x ${scenarios.length} scenarios`);
      for (const sc of scenarios) {
        // every receiver once per scenario, the order rotating with the round
        const order = usable.filter((r) => r.versions.has(sc.version));
        for (let k = 0; k < order.length; k++) {
          const rx = order[(k + round - 1) % order.length];
          const tdir = join(dir, 'trial');
          const send = sc.rate === null
            ? (d: string) => softflowd(ns, flows.path, PORT, d)
            : () => tcpreplay(ns, streams.get(sc.version)!, sc.rate!, Math.round(sc.rate! * seconds));
          const tr = await trial(ns, rx, sc, round, PORT, tdir, send);
          outcome.trials.push(tr);
          if (sc.rate === null && tr.sent) outcome.softflowd.records = tr.sent;
        }
      }
    }
    for (const sc of scenarios) {
      for (const rx of usable.filter((r) => r.versions.has(sc.version))) {
        const ts = outcome.trials.filter((t) => t.scenario === sc.name && t.tool === rx.name);
        const ok = ts.filter((t) => t.received !== null);
        const num = (f: (t: Trial) => number | null) => median(ok.map(f).filter((x): x is number => x !== null));
        outcome.summary.push({
          scenario: sc.name, version: sc.version === 9 ? 'v9' : 'ipfix', askedRate: sc.rate, tool: rx.name, rounds: ok.length,
          sentMedian: num((t) => t.sent), achievedRateMedian: num((t) => t.achievedRate), receivedMedian: num((t) => t.received),
          lostMedian: num((t) => t.lost), lostPerRound: ts.map((t) => t.lost), socketDropsMedian: num((t) => t.socketDrops),
          decodedPerSecondMedian: num((t) => t.decodedPerSecond), rcvbuf: num((t) => t.rcvbuf),
          note: ts.filter((t) => t.note).map((t) => `r${t.round}: ${t.note}`).join('; '),
        });
      }
    }
  } finally {
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const sw of outcome.summary.filter((x) => x.tool === 'segwatch run')) {
    for (const peer of outcome.summary.filter((x) => x.scenario === sw.scenario && x.tool !== sw.tool)) {
      outcome.ratios.push({ scenario: sw.scenario, peer: peer.tool,
        segwatchOverPeer: sw.receivedMedian !== null && peer.receivedMedian ? sw.receivedMedian / peer.receivedMedian : null });
    }
  }
  outcome.seconds = (performance.now() - t0) / 1000;
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// segwatch run --netflow

/**
 * The minimal policy: a watched segment the stream never touches, so what is measured is the
 * receiver (socket thread, ring), the decoder, the join of each conversation's two records and
 * the pipeline's record entry, not the judging of 2M flows a second by the policy and detectors.
 */
const MINIMAL_POLICY = `version: 1
segments:
  iot: ["10.255.255.0/24"]
watch: [iot]
resolvers: ["10.255.255.1"]
default_profile: quarantine
profiles:
  quarantine:
    allow:
      - { service: dns }
`;

/**
 * A node process inside the namespace that fetches a URL for each line on its stdin and answers
 * with one JSON line: the API of a collector in the namespace is only reachable from there, and
 * one process for the trial costs less than one per poll on a machine the trial keeps busy.
 */
const FETCHER = String.raw`
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  let q; try { q = JSON.parse(l); } catch { return; }
  fetch(q.url, { headers: q.headers, signal: AbortSignal.timeout(q.timeoutMs) })
    .then((r) => r.text()).then((body) => ({ body }), (e) => ({ error: String(e) }))
    .then((o) => process.stdout.write(JSON.stringify({ id: q.id, ...o }) + '\n'));
});
rl.on('close', () => process.exit(0));
`;

function fetcher(ns: Ns): { get(url: string, headers: Record<string, string>, timeoutMs: number): Promise<string>; close(): void } {
  const c = ns.spawn([process.execPath, '-e', FETCHER]);
  c.stdin?.on('error', () => {});
  const waiting = new Map<number, (o: { body?: string; error?: string }) => void>();
  let buf = '';
  c.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { const o = JSON.parse(line) as { id: number; body?: string; error?: string }; waiting.get(o.id)?.(o); waiting.delete(o.id); } catch { /* not ours */ }
    }
  });
  c.stderr!.resume();
  let next = 1;
  return {
    get(url, headers, timeoutMs) {
      return new Promise((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => { waiting.delete(id); reject(new Error(`no answer from ${url} in ${timeoutMs + 2000} ms`)); }, timeoutMs + 2000);
        waiting.set(id, (o) => { clearTimeout(timer); if (o.error !== undefined) reject(new Error(o.error)); else resolve(o.body ?? ''); });
        c.stdin!.write(JSON.stringify({ id, url, headers, timeoutMs }) + '\n');
      });
    },
    close() { c.stdin!.end(); setTimeout(() => { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } }, 1000).unref(); },
  };
}

/** How long a trial waits for segwatch to decode what its queue holds, at most, ms. */
const SETTLE_MS = 20_000;

/** segwatch run --netflow: counts from its /metrics (fetched inside the namespace). */
function segwatchReceiver(cli: string[]): Receiver {
  const token = 'bench-netflow-token-0123456789';
  return {
    name: 'segwatch run', versions: new Set([9, 10]), missing: existsSync(cli[1]) ? null : 'segwatch not built',
    async start(ns, port, dir) {
      const policy = join(dir, 'policy.yaml');
      writeFileSync(policy, MINIMAL_POLICY);
      const apiPort = port + 1;
      const c = ns.spawn([...cli, 'run', '--policy', policy, '--netflow', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state'),
        '--listen', `127.0.0.1:${apiPort}`, '--log-level', 'info', '--netflow-rcvbuf-mb', String(RCVBUF >> 20)], { env: { SEGWATCH_API_TOKEN: token } });
      const io = collect(c);
      await bound(c, port, 20_000, io.err);
      for (const until = Date.now() + 20_000; !/collector started/.test(io.err());) {
        if (c.exitCode !== null || Date.now() > until) throw new Error(`segwatch run did not start: ${io.err().slice(-600)}`);
        await sleep(50);
      }
      const f = fetcher(ns);
      const metrics = async (): Promise<Record<string, number>> => {
        const text = await f.get(`http://127.0.0.1:${apiPort}/metrics`, { authorization: `Bearer ${token}` }, 10_000);
        const m: Record<string, number> = {};
        for (const line of text.split('\n')) {
          const x = /^(segwatch_(?:netflow_\w+|drops_total))(?:\{[^}]*\})? ([\d.e+]+)$/.exec(line);
          if (x) m[x[1]] = (m[x[1]] ?? 0) + Number(x[2]);
        }
        if (!('segwatch_netflow_records_total' in m)) throw new Error(`no segwatch_netflow_records_total in /metrics: ${text.slice(0, 300)}`);
        return m;
      };
      let last: Record<string, number> = {};
      let note = '';
      let unsettled = false;
      return {
        pid: c.pid!,
        async settled() {
          // the ring and the decoder behind the socket: records_total still for three polls
          let prev = -1, same = 0;
          const until = Date.now() + SETTLE_MS;
          for (; same < 3 && Date.now() < until; await sleep(100)) {
            try { last = await metrics(); } catch { continue; } // busy: the API shares the decoding thread
            const n = last.segwatch_netflow_records_total;
            same = n === prev ? same + 1 : 0;
            prev = n;
          }
          unsettled = same < 3;
        },
        async stop() {
          try { last = await metrics(); } catch { /* the last figures settled() read */ }
          f.close();
          c.kill('SIGTERM');
          const ok = await waitExit(c, io.exited, 30_000);
          const drops = last.segwatch_drops_total ?? 0, lost = last.segwatch_netflow_lost_records_total ?? 0;
          // segwatch_netflow_lost_records_total: sequence gaps as the exporter numbers them (v9: export packets, IPFIX: records)
          note = [drops ? `${drops} datagrams dropped by its queue` : '', lost ? `sequence gaps ${lost}` : '',
            unsettled ? `still decoding after ${SETTLE_MS / 1000} s: received is a lower bound` : '',
            ok ? (c.exitCode === 0 ? '' : `exit ${c.exitCode}`) : 'killed after 30 s of SIGTERM'].filter(Boolean).join(', ');
          if (last.segwatch_netflow_records_total === undefined) throw new Error('no figures from /metrics');
          return last.segwatch_netflow_records_total;
        },
        note: () => note,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------

const fmtN = (n: number | null, d = 0) => (n === null ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

export function printNetflow(o: NetflowOutcome): void {
  if (o.skipped) { console.log(`netflow ingest: skipped: ${o.skipped}`); return; }
  console.log(`netflow ingest (${o.where}; ${o.recordsPerDatagram} records a datagram, ${o.secondsPerRate} s a rate, ${o.rounds} rounds, medians; SO_RCVBUF asked ${o.rcvbufRequested}, net.core.rmem_max ${o.rmemMax ?? '?'})`);
  const rows = [['scenario', 'tool', 'rate asked', 'rate achieved', 'sent', 'received', 'lost', 'lost/round', 'socket drops', 'decoded/s', 'rcvbuf', 'note']];
  for (const s of o.summary) {
    rows.push([s.scenario, s.tool, s.askedRate === null ? 'full speed' : fmtN(s.askedRate), fmtN(s.achievedRateMedian), fmtN(s.sentMedian), fmtN(s.receivedMedian),
      fmtN(s.lostMedian), s.lostPerRound.map((x) => (x === null ? 'x' : String(x))).join('/'), fmtN(s.socketDropsMedian), fmtN(s.decodedPerSecondMedian), fmtN(s.rcvbuf), s.note]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 2 || i === rows[0].length - 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd());
  if (o.ratios.length) {
    console.log('records received, segwatch run over each peer (medians, same rounds; 1.00: as many):');
    for (const sc of [...new Set(o.ratios.map((r) => r.scenario))]) {
      console.log(`  ${sc.padEnd(24)} ${o.ratios.filter((r) => r.scenario === sc).map((r) => `${r.peer} ${r.segwatchOverPeer === null ? '-' : `${r.segwatchOverPeer.toFixed(2)}x`}`).join(', ')}`);
    }
  }
  if (o.decode.length) {
    console.log('in-process decode of the same datagrams (best of 3):');
    for (const d of o.decode) console.log(`  ${d.decoder.padEnd(30)} ${d.version.padEnd(6)} ${fmtN(d.recordsPerSecond).padStart(12)} records/s${d.note ? `  (${d.note})` : ''}`);
  }
}
