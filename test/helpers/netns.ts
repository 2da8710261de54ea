// A network namespace with one veth pair, for live-capture tests and benches. The device end
// sits in the namespace with an address and plays an IoT device; the host end stays in the
// root namespace, UP, with no address at all (IPv6 off too), and is what segwatch captures on.
// Static neighbours in the namespace (MACs nobody has) let the device's frames leave on the
// wire without ARP: the host stack drops them as PACKET_OTHERHOST, nothing answers, nothing
// is routed, nothing goes beyond the two ends of the pair.
//
// Everything is removed by destroy(), which also runs on process exit and on SIGINT/SIGTERM,
// so a failed or killed test leaves no namespace or veth behind. A namespace left by a
// process that died harder (SIGKILL) is removed by the next createVethLab().
//
// The device itself is a small node process inside the namespace (an "agent") that takes
// commands on stdin (connect, udp) and answers with the wall-clock time it sent each one.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const PREFIX = 'swt-';

function sh(cmd: string, args: string[], timeoutMs = 10_000): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function must(cmd: string, args: string[]): string {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.err.trim()}`);
  return r.out;
}

function which(cmd: string): string | null {
  const r = sh('sh', ['-c', `command -v ${cmd}`]);
  return r.code === 0 ? r.out.trim() : null;
}

/** Why a veth lab cannot be built here, or null when it can (root, iproute2 with netns). */
export function netnsUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces and veth pairs)';
  if (!which('ip')) return 'needs iproute2 (`ip`)';
  if (!existsSync('/proc/self/ns/net')) return 'needs network namespaces';
  const r = sh('ip', ['netns', 'list']);
  if (r.code !== 0) return `ip netns does not work here: ${r.err.trim()}`;
  return null;
}

export interface Neighbour { ip: string; mac: string }

export interface VethLabOptions {
  /** the device's address with its prefix, e.g. 192.168.50.10/24 */
  deviceCidr: string;
  /** static neighbours (nud permanent) in the namespace */
  neighbours?: Neighbour[];
  /** the device's MAC (default: a random locally administered one) */
  deviceMac?: string;
}

export interface AgentReply { id: number; op: string; t: number; error?: string }

export interface DeviceAgent {
  /** Starts a TCP connect from the device; resolves with the wall-clock ms just before connect(). */
  connect(host: string, port: number, holdMs?: number): Promise<AgentReply>;
  /** Sends one UDP datagram from the device; resolves with the wall-clock ms just before send(). */
  udp(host: string, port: number, payload: Buffer): Promise<AgentReply>;
  /** Ends the agent (and with it every socket it holds). */
  close(): Promise<void>;
}

export interface VethLab {
  ns: string;
  /** the host end, in the root namespace, UP, no address: capture here */
  hostIf: string;
  /** the device end, inside the namespace */
  nsIf: string;
  deviceIp: string;
  deviceMac: string;
  /** runs a command inside the namespace (bounded) */
  exec(args: string[], timeoutMs?: number): { code: number; out: string; err: string };
  /** starts the device agent (a node process in the namespace; ends by itself after lifeMs) */
  agent(lifeMs?: number): Promise<DeviceAgent>;
  /** removes namespace, veth pair and every process the lab started; safe to call twice */
  destroy(): void;
}

/** The agent: one JSON command a line on stdin, one JSON reply a line on stdout. */
const AGENT = String.raw`
const net = require('node:net');
const dgram = require('node:dgram');
const rl = require('node:readline').createInterface({ input: process.stdin });
const life = Number(process.argv[1]) || 600000;
const socks = new Set();
const bye = () => { for (const s of socks) { try { s.destroy ? s.destroy() : s.close(); } catch {} } process.exit(0); };
setTimeout(bye, life).unref();
const reply = (o) => process.stdout.write(JSON.stringify(o) + '\n');
rl.on('line', (line) => {
  let c; try { c = JSON.parse(line); } catch { return; }
  try {
    if (c.op === 'connect') {
      const t = Date.now();
      const s = net.connect({ host: c.host, port: c.port });
      socks.add(s);
      s.on('error', () => {});
      const end = setTimeout(() => { s.destroy(); socks.delete(s); }, c.holdMs || 5000);
      end.unref();
      reply({ id: c.id, op: c.op, t });
    } else if (c.op === 'udp') {
      const u = dgram.createSocket('udp4');
      socks.add(u);
      u.on('error', () => {});
      const t = Date.now();
      u.send(Buffer.from(c.payload, 'hex'), c.port, c.host, () => { try { u.close(); } catch {} socks.delete(u); });
      reply({ id: c.id, op: c.op, t });
    } else reply({ id: c.id, op: c.op, t: Date.now(), error: 'unknown op' });
  } catch (e) { reply({ id: c.id, op: c.op, t: Date.now(), error: String(e) }); }
});
rl.on('close', bye);
`;

const live = new Set<VethLab>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const all = () => { for (const l of [...live]) l.destroy(); };
  process.on('exit', all);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { all(); process.kill(process.pid, sig); });
  }
}

/** Removes namespaces of this helper whose creating process is gone (killed with SIGKILL). */
function sweepStale(): void {
  const list = sh('ip', ['netns', 'list']).out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(PREFIX));
  for (const ns of list) {
    const pid = Number(ns.slice(PREFIX.length).split('-')[0]);
    if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`)) removeNs(ns);
  }
}

function removeNs(ns: string): void {
  // Processes still inside (an agent) first: they were started by this helper, in this namespace.
  for (const p of sh('ip', ['netns', 'pids', ns]).out.split('\n').map(Number).filter((n) => n > 0)) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  sh('ip', ['netns', 'del', ns]);
}

function randomMac(): string {
  const b = [0x02, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 256))];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Builds the namespace and veth pair; throws (after removing what it made) when a step fails. */
export function createVethLab(opts: VethLabOptions): VethLab {
  const why = netnsUnavailable();
  if (why) throw new Error(why);
  sweepStale();
  hookExit();
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  const ns = `${PREFIX}${tag}`;
  const short = Math.random().toString(36).slice(2, 8);
  const hostIf = `swh${short}`; // interface names: 15 characters at most
  const nsIf = `swd${short}`;
  const deviceIp = opts.deviceCidr.split('/')[0];
  const deviceMac = opts.deviceMac ?? randomMac();
  const agents = new Set<ChildProcess>();
  let gone = false;

  const destroy = (): void => {
    if (gone) return;
    gone = true;
    live.delete(lab);
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
    removeNs(ns);
    // Deleting the namespace deletes the device end and with it the pair; make sure.
    if (existsSync(`/sys/class/net/${hostIf}`)) sh('ip', ['link', 'del', hostIf]);
  };

  const exec = (args: string[], timeoutMs = 10_000) => sh('ip', ['netns', 'exec', ns, ...args], timeoutMs);

  const lab: VethLab = {
    ns, hostIf, nsIf, deviceIp, deviceMac, exec, destroy,
    async agent(lifeMs = 600_000) {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', AGENT, String(lifeMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
      agents.add(child);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString(); });
      const waiting = new Map<number, (r: AgentReply) => void>();
      createInterface({ input: child.stdout! }).on('line', (l) => {
        try {
          const r = JSON.parse(l) as AgentReply;
          waiting.get(r.id)?.(r);
          waiting.delete(r.id);
        } catch { /* not ours */ }
      });
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      void exited.then(() => {
        for (const [id, w] of waiting) w({ id, op: 'exit', t: Date.now(), error: `agent exited: ${err.trim()}` });
        waiting.clear();
      });
      let next = 1;
      const send = (o: Record<string, unknown>): Promise<AgentReply> => new Promise((res, rej) => {
        if (child.exitCode !== null || child.signalCode !== null) { rej(new Error(`agent exited: ${err.trim()}`)); return; }
        const id = next++;
        const timer = setTimeout(() => { waiting.delete(id); rej(new Error(`agent did not answer ${String(o.op)} in 10 s`)); }, 10_000);
        waiting.set(id, (r) => { clearTimeout(timer); if (r.error) rej(new Error(r.error)); else res(r); });
        child.stdin!.write(JSON.stringify({ ...o, id }) + '\n');
      });
      return {
        connect: (host, port, holdMs = 5000) => send({ op: 'connect', host, port, holdMs }),
        udp: (host, port, payload) => send({ op: 'udp', host, port, payload: payload.toString('hex') }),
        async close() {
          child.stdin!.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
          agents.delete(child);
        },
      };
    },
  };
  live.add(lab);

  try {
    must('ip', ['netns', 'add', ns]);
    must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    // The host end: no address of any kind (IPv6 off before it goes UP, so no link-local).
    writeFileSync(`/proc/sys/net/ipv6/conf/${hostIf}/disable_ipv6`, '1');
    must('ip', ['link', 'set', nsIf, 'netns', ns]);
    must('ip', ['link', 'set', hostIf, 'up']);
    // The device end: IPv4 only, the given address and neighbours.
    must('ip', ['netns', 'exec', ns, 'sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/${nsIf}/disable_ipv6`]);
    must('ip', ['-n', ns, 'link', 'set', nsIf, 'address', deviceMac]);
    must('ip', ['-n', ns, 'addr', 'add', opts.deviceCidr, 'dev', nsIf]);
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    must('ip', ['-n', ns, 'link', 'set', nsIf, 'up']);
    for (const n of opts.neighbours ?? []) {
      must('ip', ['-n', ns, 'neigh', 'replace', n.ip, 'lladdr', n.mac, 'nud', 'permanent', 'dev', nsIf]);
    }
    const addrs = must('ip', ['-o', 'addr', 'show', 'dev', hostIf]).trim();
    if (addrs) throw new Error(`the host end ${hostIf} has an address: ${addrs}`);
  } catch (e) {
    destroy();
    throw e;
  }
  return lab;
}

/** A DNS query (A record) for `name`, as a UDP payload. */
export function dnsQuery(name: string, id = 0x5357): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

// ---------------------------------------------------------------------------------------
// `segwatch run` on the host end of a lab, and its three anomaly sinks read as it runs:
// the --out JSON-lines file, InfluxDB's anomaly measurement and GET /api/v1/anomalies.

/** One anomaly as a sink shows it (the fields the live tests compare). */
export interface SeenAnomaly {
  id: string | undefined;
  state: string | undefined;
  kind: string;
  peer: string;
  peerPort: number;
  /** first packet, ms since epoch (`time` in JSON, the point's timestamp in InfluxDB) */
  time: number;
  raw: Record<string, unknown>;
}

export interface LiveCollector {
  child: ChildProcess;
  out: string;
  apiUrl: string;
  stderr(): string;
  /** resolves once the collector logged that it started; rejects after timeoutMs or on exit */
  started(timeoutMs: number): Promise<void>;
  packets(): Promise<number>;
  fromOut(): SeenAnomaly[];
  fromApi(): Promise<SeenAnomaly[]>;
  fromInflux(): Promise<SeenAnomaly[]>;
  /** SIGTERM, calling nudge() every 200 ms meanwhile (libpcap wakes on a packet); exit code or null after timeoutMs */
  stop(nudge: () => void, timeoutMs: number): Promise<number | null>;
  kill(): void;
}

export interface LiveCollectorOptions {
  cli: string;
  policy: string;
  iface: string;
  /** a temp dir of the caller: out file, spool and state go here */
  dir: string;
  /** http://127.0.0.1:PORT (no database) and the database name */
  influxUrl: string;
  db: string;
  token: string;
  query: (q: string) => Promise<{ results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }> }> }>;
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ms(v: unknown): number {
  if (typeof v === 'number') return v;
  const p = Date.parse(String(v));
  return Number.isFinite(p) ? p : NaN;
}

function seen(o: Record<string, unknown>, time: unknown, peerPort: unknown): SeenAnomaly {
  return {
    id: typeof o.id === 'string' ? o.id : undefined,
    state: typeof o.state === 'string' ? o.state : undefined,
    kind: String(o.kind ?? ''), peer: String(o.peer ?? ''), peerPort: Number(peerPort), time: ms(time), raw: o,
  };
}

/** Starts `segwatch run` capturing on opts.iface, with --out, --influx and --listen. */
export async function startLiveCollector(opts: LiveCollectorOptions): Promise<LiveCollector> {
  const { readFileSync, mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const out = join(opts.dir, 'anomalies.jsonl');
  const state = join(opts.dir, 'state');
  mkdirSync(state, { recursive: true });
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const args = [opts.cli, 'run', '--policy', opts.policy, '--interface', opts.iface, '--out', out,
    '--influx', `${opts.influxUrl}/${opts.db}`, '--listen', `127.0.0.1:${apiPort}`,
    '--spool-dir', join(opts.dir, 'spool'), '--log-level', 'info'];
  // The state directory (open anomalies kept across restarts) must not be the system's.
  const help = spawnSync(process.execPath, [opts.cli, 'run', '--help'], { encoding: 'utf8', timeout: 20_000 }).stdout ?? '';
  if (/--state-dir\b/.test(help)) args.push('--state-dir', state);
  const child = spawn(process.execPath, args, {
    env: { ...process.env, SEGWATCH_API_TOKEN: opts.token, SEGWATCH_STATE_DIR: state },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.length > 1e6) stderr = stderr.slice(-5e5); });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const auth = { authorization: `Bearer ${opts.token}` };
  const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

  return {
    child, out, apiUrl,
    stderr: () => stderr,
    async started(timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (!/segwatch collector started/.test(stderr)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`collector exited (${child.exitCode ?? child.signalCode}): ${stderr.slice(-2000)}`);
        if (Date.now() > until) throw new Error(`collector did not log "segwatch collector started" in ${timeoutMs} ms: ${stderr.slice(-2000)}`);
        await sleep(50);
      }
    },
    async packets() {
      const res = await fetch(`${apiUrl}/api/v1/stats`, { headers: auth, signal: AbortSignal.timeout(2000) });
      const s = (await res.json()) as { packets?: number };
      return s.packets ?? 0;
    },
    fromOut() {
      let text = '';
      try { text = readFileSync(out, 'utf8'); } catch { return []; }
      const list: SeenAnomaly[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          list.push(seen(o, o.time ?? o.firstSeen, o.peerPort));
        } catch { /* a line being written */ }
      }
      return list;
    },
    async fromApi() {
      const res = await fetch(`${apiUrl}/api/v1/anomalies`, { headers: auth, signal: AbortSignal.timeout(2000) });
      if (res.status !== 200) throw new Error(`GET /api/v1/anomalies: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { anomalies?: Array<Record<string, unknown>> };
      return (body.anomalies ?? []).map((o) => seen(o, o.time ?? o.firstSeen, o.peerPort));
    },
    async fromInflux() {
      const r = await opts.query('SELECT * FROM "anomaly"');
      const s = r.results?.[0]?.series?.[0];
      if (!s) return [];
      return s.values.map((v) => {
        const o = Object.fromEntries(s.columns.map((c, i) => [c, v[i]]));
        return seen(o, o.time, o.peer_port);
      });
    },
    async stop(nudge, timeoutMs) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setInterval(nudge, 200);
      const code = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
      clearInterval(timer);
      return code;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
