// Capture files with damaged record headers and timestamps through the built CLI (issue 9).
// A real IoT capture and the demo capture, written as pcap (µs and ns) and pcapng (µs and ns
// interfaces), are mutated from a seeded plan: timestamps far ahead, far behind, a little
// back, a real jump of the rest of the file, single timestamp bytes, caplen and len fields,
// pcapng block lengths and if_tsresol, packet bytes, truncation. Every `segwatch flows` and
// `segwatch replay` run must end within a bound with its output and exit 0, or exit 1 and an
// error naming the byte offset. Time-only damage must keep every packet and be counted.
// Last, one byte of one real record's timestamp (that packet 150 years ahead): same flows and
// anomalies as the intact file, and "1 timestamps clamped".

import t, { type Test } from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { capture, cliPath, repoRoot, type CliResult } from '../../helpers/paths.js';

const SEED = Number(process.env.SEGWATCH_FUZZ_SEED ?? 0x7e11a9);
const RANDOM_CASES = Number(process.env.SEGWATCH_CAPTURE_FUZZ_CASES ?? 4);
/** One run's bound: far below the unfixed hang, far above a normal run (well under 1 s here). */
const RUN_MS = 20_000;
/** All runs of the fuzz test together: past it the remaining cases fail unrun, so tap never hangs. */
const BUDGET_MS = 120_000;
const POLICY = join(repoRoot, 'test', 'fixtures', 'demo', 'policy.yaml');

const dir = mkdtempSync(join(tmpdir(), 'segwatch-capture-fuzz-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// ---- captures: read a classic pcap, write it in four encodings, remember where each field is

interface Rec { sec: number; usec: number; wire: number; data: Buffer }
type Format = 'pcap-us' | 'pcap-ns' | 'pcapng-us' | 'pcapng-ns';
const FORMATS: Format[] = ['pcap-us', 'pcap-ns', 'pcapng-us', 'pcapng-ns'];

/** Where a record's fields lie in the written file. */
interface RecAt { ts: number; cap: number; len: number; data: number; dataLen: number; block: number; trailer: number }
interface Built { format: Format; buf: Buffer; recs: RecAt[]; tsresolAt: number }

function readPcap(file: string): Rec[] {
  const b = readFileSync(file);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian µs pcap`);
  const out: Rec[] = [];
  for (let p = 24; p + 16 <= b.length;) {
    const cap = b.readUInt32LE(p + 8);
    out.push({ sec: b.readUInt32LE(p), usec: b.readUInt32LE(p + 4), wire: b.readUInt32LE(p + 12), data: b.subarray(p + 16, p + 16 + cap) });
    p += 16 + cap;
  }
  return out;
}

function build(recs: Rec[], format: Format): Built {
  const parts: Buffer[] = [];
  const at: RecAt[] = [];
  let size = 0;
  const push = (b: Buffer) => { parts.push(b); size += b.length; };
  let tsresolAt = -1;
  if (format.startsWith('pcap-')) {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(format === 'pcap-ns' ? 0xa1b23c4d : 0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(262144, 16); h.writeUInt32LE(1, 20);
    push(h);
    for (const r of recs) {
      const h2 = Buffer.alloc(16);
      h2.writeUInt32LE(r.sec, 0);
      h2.writeUInt32LE(format === 'pcap-ns' ? r.usec * 1000 : r.usec, 4);
      h2.writeUInt32LE(r.data.length, 8); h2.writeUInt32LE(r.wire, 12);
      at.push({ ts: size, cap: size + 8, len: size + 12, data: size + 16, dataLen: r.data.length, block: -1, trailer: -1 });
      push(h2); push(r.data);
    }
  } else {
    const shb = Buffer.alloc(28);
    shb.writeUInt32LE(0x0a0d0d0a, 0); shb.writeUInt32LE(28, 4); shb.writeUInt32LE(0x1a2b3c4d, 8);
    shb.writeUInt16LE(1, 12); shb.writeInt32LE(-1, 16); shb.writeInt32LE(-1, 20); shb.writeUInt32LE(28, 24);
    push(shb);
    // IDB with if_tsresol (option 9): 6 (µs) or 9 (ns)
    const idb = Buffer.alloc(32);
    idb.writeUInt32LE(1, 0); idb.writeUInt32LE(32, 4); idb.writeUInt16LE(1, 8); idb.writeUInt32LE(262144, 12);
    idb.writeUInt16LE(9, 16); idb.writeUInt16LE(1, 18); idb[20] = format === 'pcapng-ns' ? 9 : 6;
    idb.writeUInt32LE(32, 28); // opt_endofopt at 24 is zeros
    tsresolAt = size + 20;
    push(idb);
    const mul = format === 'pcapng-ns' ? 1e9 : 1e6;
    const fracMul = format === 'pcapng-ns' ? 1000 : 1;
    for (const r of recs) {
      const pad = (4 - (r.data.length & 3)) & 3;
      const len = 32 + r.data.length + pad;
      const units = BigInt(r.sec) * BigInt(mul) + BigInt(r.usec * fracMul);
      const h = Buffer.alloc(28);
      h.writeUInt32LE(6, 0); h.writeUInt32LE(len, 4); h.writeUInt32LE(0, 8);
      h.writeUInt32LE(Number(units >> 32n), 12); h.writeUInt32LE(Number(units & 0xffffffffn), 16);
      h.writeUInt32LE(r.data.length, 20); h.writeUInt32LE(r.wire, 24);
      const tail = Buffer.alloc(pad + 4);
      tail.writeUInt32LE(len, pad);
      at.push({ ts: size + 12, cap: size + 20, len: size + 24, data: size + 28, dataLen: r.data.length, block: size + 4, trailer: size + 28 + r.data.length + pad });
      push(h); push(r.data); push(tail);
    }
  }
  return { format, buf: Buffer.concat(parts), recs: at, tsresolAt };
}

/** Sets record r's timestamp to ms (ms since epoch, may be far out of range: it is clamped to what the field holds). */
function setTime(b: Built, r: number, ms: number): void {
  const off = b.recs[r].ts;
  if (b.format.startsWith('pcap-')) {
    const sec = Math.min(Math.max(Math.floor(ms / 1000), 0), 0xffffffff);
    b.buf.writeUInt32LE(sec, off);
    b.buf.writeUInt32LE(Math.round((ms - sec * 1000) * (b.format === 'pcap-ns' ? 1e6 : 1e3)) >>> 0, off + 4);
  } else {
    const perMs = b.format === 'pcapng-ns' ? 1_000_000n : 1000n;
    let units = BigInt(Math.max(0, Math.floor(ms))) * perMs;
    if (units > 0xffffffffffffffffn) units = 0xffffffffffffffffn;
    b.buf.writeUInt32LE(Number(units >> 32n), off);
    b.buf.writeUInt32LE(Number(units & 0xffffffffn), off + 4);
  }
}

function getTime(b: Built, r: number): number {
  const off = b.recs[r].ts;
  const hi = b.buf.readUInt32LE(off), lo = b.buf.readUInt32LE(off + 4);
  switch (b.format) {
    case 'pcap-us': return hi * 1000 + lo / 1000;
    case 'pcap-ns': return hi * 1000 + lo / 1e6;
    case 'pcapng-us': return (hi * 2 ** 32 + lo) / 1000;
    default: return (hi * 2 ** 32 + lo) / 1e6;
  }
}

// ---- mutations: a plan drawn by fast-check from a seed, applied to a fresh copy

const YEAR = 365.25 * 86_400_000;
type TimeMode = 'ahead150y' | 'aheadMax' | 'behind1970' | 'behind3y' | 'backSmall' | 'ahead5d' | 'jumpRest';
type Mutation =
  | { kind: 'time'; at: number; mode: TimeMode }
  | { kind: 'tsByte'; at: number; byte: number; value: number }
  | { kind: 'caplen'; at: number; value: number }
  | { kind: 'wirelen'; at: number; value: number }
  | { kind: 'blockLen'; at: number; trailing: boolean; value: number }
  | { kind: 'tsresol'; value: number }
  | { kind: 'bytes'; at: number; flips: [number, number][] }
  | { kind: 'truncate'; at: number };

const TIME_KINDS = new Set(['time', 'tsByte', 'tsresol']);
/** modes that put a timestamp more than a day from its neighbours: the guard must clamp at least one. */
const FAR: ReadonlySet<string> = new Set(['ahead150y', 'aheadMax', 'behind1970', 'behind3y']);

/** where in the file, as a fraction of its records (an integer arbitrary: fast-check's doubles crowd at the ends) */
const at = fc.integer({ min: 0, max: 999 }).map((x) => x / 1000);
const u32 = fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 2000 }));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('time' as const), at, mode: fc.constantFrom<TimeMode>('ahead150y', 'aheadMax', 'behind1970', 'behind3y', 'backSmall', 'ahead5d', 'jumpRest') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tsByte' as const), at, byte: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('caplen' as const), at, value: u32 }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wirelen' as const), at, value: u32 }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blockLen' as const), at, trailing: fc.boolean(), value: u32 }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tsresol' as const), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), at, flips: fc.array(fc.tuple(fc.nat(2000), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
);

function apply(b: Built, m: Mutation): void {
  const n = b.recs.length;
  const r = 'at' in m ? Math.floor(m.at * n) : 0;
  const rec = b.recs[r];
  switch (m.kind) {
    case 'time': {
      const ref = getTime(b, Math.max(0, r - 1));
      const ms = {
        ahead150y: ref + 150 * YEAR, aheadMax: Number.MAX_VALUE, behind1970: 1234, behind3y: ref - 3 * YEAR,
        backSmall: ref - 5_000, ahead5d: ref + 5 * 86_400_000, jumpRest: 0,
      }[m.mode];
      if (m.mode === 'jumpRest') {
        // the capture paused 30 days: every record from here on moves (a real jump, to follow)
        for (let i = r; i < n; i++) setTime(b, i, getTime(b, i) + 30 * 86_400_000);
      } else setTime(b, r, ms);
      break;
    }
    case 'tsByte': b.buf[rec.ts + m.byte] = m.value; break;
    case 'caplen': b.buf.writeUInt32LE(m.value, rec.cap); break;
    case 'wirelen': b.buf.writeUInt32LE(m.value, rec.len); break;
    case 'blockLen': b.buf.writeUInt32LE(m.value, rec.block >= 0 ? (m.trailing ? rec.trailer : rec.block) : rec.cap); break;
    case 'tsresol': if (b.tsresolAt >= 0) b.buf[b.tsresolAt] = m.value; break;
    case 'bytes': for (const [o, x] of m.flips) if (rec.dataLen > 0) b.buf[rec.data + (o % rec.dataLen)] ^= x; break;
    case 'truncate': b.buf = b.buf.subarray(0, 24 + Math.floor(m.at * (b.buf.length - 24))); break;
  }
}

function describe(m: Mutation): string {
  const { kind, ...rest } = m;
  return `${kind}${JSON.stringify(rest).replace(/"/g, '')}`;
}

// ---- runs

interface Outcome { flows: CliResult; replay: CliResult; flowsMs: number; replayMs: number }

/**
 * The built CLI, bounded: like helpers' segwatch(), but killed with SIGKILL. Under tap the child
 * inherits @tapjs/processinfo through NODE_OPTIONS, whose exit hooks catch SIGTERM: a child stuck
 * in a synchronous loop never runs them, so SIGTERM (spawnSync's default) leaves it spinning.
 */
function timed(args: string[]): [CliResult, number] {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8', timeout: RUN_MS, killSignal: 'SIGKILL', maxBuffer: 256 << 20, cwd: repoRoot,
  });
  return [{ code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }, performance.now() - t0];
}

/** `threads`: replay's, given so both ways run whatever the machine's cores (the default is 2 on two or more) */
function runBoth(file: string, threads: '1' | '2'): Outcome {
  const [flows, flowsMs] = timed(['flows', file, '--format', 'jsonl']);
  const [replay, replayMs] = timed(['replay', file, '--policy', POLICY, '--format', 'jsonl', '--threads', threads]);
  return { flows, replay, flowsMs, replayMs };
}

function jsonLines(s: string): unknown[] | string {
  const out: unknown[] = [];
  for (const l of s.split('\n')) {
    if (!l) continue;
    try { out.push(JSON.parse(l)); } catch { return `not a JSON line: ${l.slice(0, 120)}`; }
  }
  return out;
}

function flowPackets(lines: unknown[]): number {
  let n = 0;
  for (const l of lines as { packets: number; packetsRev: number }[]) n += l.packets + l.packetsRev;
  return n;
}

function clampedCount(stderr: string): number {
  const m = /(\d+) timestamps clamped/.exec(stderr);
  return m ? Number(m[1]) : 0;
}

/** One run's verdict: done in time, and either output + 0, or 1 + the byte offset. Returns its JSON lines when 0. */
function judge(t: Test, label: string, r: CliResult, ms: number): unknown[] | null {
  if (r.code === -1 || ms >= RUN_MS) {
    t.fail(`${label}: did not finish within ${RUN_MS / 1000} s (killed after ${(ms / 1000).toFixed(1)} s)`);
    return null;
  }
  if (r.code === 0) {
    const lines = jsonLines(r.stdout);
    if (typeof lines === 'string') { t.fail(`${label}: ${lines}`); return null; }
    t.pass(`${label}: exit 0, ${lines.length} lines, ${ms.toFixed(0)} ms`);
    if (/frames skipped after internal errors/.test(r.stderr)) t.fail(`${label}: a stage threw: ${r.stderr.trim()}`);
    return lines;
  }
  t.equal(r.code, 1, `${label}: exit 0 or 1 (${r.stderr.trim().split('\n').pop()})`);
  t.match(r.stderr, /: byte \d+: /, `${label}: the error names the byte offset`);
  return null;
}

const bases: [string, Rec[]][] = [
  ['EdimaxPlug1101W', readPcap(capture('iot/iotsentinel/EdimaxPlug1101W-Setup-A-1-STA.pcap'))],
  ['demo', readPcap(join(repoRoot, 'test', 'fixtures', 'demo', 'demo.pcap'))],
];

interface Case { base: number; format: Format; plan: Mutation[] }

function cases(): Case[] {
  const out: Case[] = [];
  // Fixed cases first (the random ones rarely hit these): each format gets a timestamp far ahead (the largest its field holds), far
  // behind, and a little back followed by a real 30-day jump of the rest of the file.
  FORMATS.forEach((format, i) => {
    out.push({ base: i % 2, format, plan: [{ kind: 'time', at: 0.5, mode: 'aheadMax' }] });
    out.push({ base: (i + 1) % 2, format, plan: [{ kind: 'time', at: 0.3, mode: 'behind1970' }, { kind: 'time', at: 0.6, mode: 'ahead150y' }] });
    out.push({ base: i % 2, format, plan: [{ kind: 'time', at: 0.2, mode: 'backSmall' }, { kind: 'time', at: 0.4, mode: 'jumpRest' }, { kind: 'time', at: 0.7, mode: 'behind3y' }] });
  });
  // Then header fields: if_tsresol 2^0 (seconds: every time about a million times later), the top
  // byte of an EPB's high timestamp word, a trailing block length, pcap len/caplen and a fraction
  // past one second.
  out.push({ base: 0, format: 'pcapng-us', plan: [{ kind: 'tsresol', value: 0x80 }] });
  out.push({ base: 1, format: 'pcapng-ns', plan: [{ kind: 'tsByte', at: 0.5, byte: 3, value: 0xff }, { kind: 'tsByte', at: 0.8, byte: 4, value: 0 }] });
  out.push({ base: 0, format: 'pcapng-us', plan: [{ kind: 'blockLen', at: 0.5, trailing: true, value: 64 }] });
  out.push({ base: 1, format: 'pcap-ns', plan: [{ kind: 'wirelen', at: 0.3, value: 0 }, { kind: 'tsByte', at: 0.4, byte: 7, value: 0xff }, { kind: 'caplen', at: 0.6, value: 0 }] });
  const plans = fc.sample(fc.record({
    base: fc.integer({ min: 0, max: bases.length - 1 }),
    format: fc.constantFrom(...FORMATS),
    plan: fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
  }), { seed: SEED, numRuns: RANDOM_CASES });
  return out.concat(plans);
}

t.test('mutated capture headers and timestamps: every flows and replay run ends, bounded', async (t) => {
  t.comment(`seed ${SEED} (SEGWATCH_FUZZ_SEED), ${RANDOM_CASES} random cases (SEGWATCH_CAPTURE_FUZZ_CASES)`);
  const baseline = new Map<string, number>();
  const started = performance.now();
  let slowest = 0, i = 0;
  for (const c of cases()) {
    const label = `#${i++} ${bases[c.base][0]} ${c.format} ${c.plan.map(describe).join(' + ')}`;
    if (performance.now() - started > BUDGET_MS) {
      t.fail(`${label}: not run, the ${BUDGET_MS / 1000} s budget of all runs is spent`);
      continue;
    }
    const b = build(bases[c.base][1], c.format);
    const key = `${c.base} ${c.format}`;
    if (!baseline.has(key)) {
      // the intact file's packets in flows, for the time-only cases
      const f = join(dir, `intact-${c.base}.${c.format.startsWith('pcapng') ? 'pcapng' : 'pcap'}`);
      writeFileSync(f, b.buf);
      const [r, ms] = timed(['flows', f, '--format', 'jsonl']);
      const lines = judge(t, `${key} intact flows`, r, ms);
      baseline.set(key, lines ? flowPackets(lines) : -1);
    }
    for (const m of c.plan) apply(b, m);
    const file = join(dir, `case-${i}.${c.format.startsWith('pcapng') ? 'pcapng' : 'pcap'}`);
    writeFileSync(file, b.buf);
    // every other case replays on the flow thread: a damaged file must end it the same way
    const o = runBoth(file, i % 2 === 0 ? '2' : '1');
    slowest = Math.max(slowest, o.flowsMs, o.replayMs);
    const flows = judge(t, `${label}: flows`, o.flows, o.flowsMs);
    judge(t, `${label}: replay${i % 2 === 0 ? ' (flow thread)' : ''}`, o.replay, o.replayMs);
    const timeOnly = c.plan.every((m) => TIME_KINDS.has(m.kind));
    if (timeOnly && flows) {
      // time damage loses no packet: only when each is counted changes
      t.equal(flowPackets(flows), baseline.get(key), `${label}: every IP packet still in a flow`);
    }
    if (timeOnly && o.replay.code === 0 && c.plan.some((m) => m.kind === 'time' && FAR.has(m.mode))) {
      t.ok(clampedCount(o.replay.stderr) >= 1, `${label}: the jump is counted (${o.replay.stderr.trim().split('\n').pop()})`);
    }
    rmSync(file, { force: true });
  }
  t.comment(`${i} cases, ${((performance.now() - started) / 1000).toFixed(1)} s, slowest run ${slowest.toFixed(0)} ms`);
});

// ---- one real record 150 years ahead

/** Byte offsets of a little-endian pcapng's EPBs. */
function epbOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let p = 0; p + 8 <= b.length; p += b.readUInt32LE(p + 4)) if (b.readUInt32LE(p) === 6) out.push(p);
  return out;
}

const ALEXA_POLICY = `version: 1
segments:
  home: ["172.16.42.0/24"]
watch: [home]
resolvers: ["172.16.42.1"]
devices:
  - { name: tablet, mac: "78:f8:82:d3:fb:c2", profile: tablet }
default_profile: quarantine
profiles:
  tablet:
    allow:
      - { to: "*.amazon.com", ports: ["443/tcp"] }
      - { service: dhcp }
      - { service: dns }
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
`;

t.test('one byte of one real record: a packet 150 years ahead changes nothing but the count', async (t) => {
  const src = readFileSync(capture('iot/ndpi-alexa-app.pcapng'));
  const epbs = epbOffsets(src);
  t.equal(epbs.length, 3103, 'the Echo app capture, 3103 packets');
  const k = 1500;
  const bad = Buffer.from(src);
  // byte 2 of the high timestamp word (µs): +0x11 there is +0x11 << 48 µs, about 151.6 years
  bad[epbs[k] + 14] += 0x11;
  const hiOf = (b: Buffer) => b.readUInt32LE(epbs[k] + 12) * 2 ** 32 + b.readUInt32LE(epbs[k] + 16);
  const years = (hiOf(bad) - hiOf(src)) / 1000 / YEAR;
  t.ok(years > 150 && years < 152, `record ${k} now ${years.toFixed(1)} years ahead`);
  const intact = capture('iot/ndpi-alexa-app.pcapng');
  const damaged = join(dir, 'alexa-150y.pcapng');
  writeFileSync(damaged, bad);
  const policy = join(dir, 'alexa-policy.yaml');
  writeFileSync(policy, ALEXA_POLICY);

  for (const threads of ['1', '2']) {
    const [a, aMs] = timed(['flows', intact, '--format', 'jsonl', '--threads', threads]);
    const [b, bMs] = timed(['flows', damaged, '--format', 'jsonl', '--threads', threads]);
    t.equal(a.code, 0, `flows intact (--threads ${threads}) ${a.stderr}`);
    t.equal(b.code, 0, `flows damaged (--threads ${threads}) ${b.stderr}`);
    t.ok(bMs < RUN_MS, `flows damaged finished in ${bMs.toFixed(0)} ms (intact ${aMs.toFixed(0)} ms)`);
    const la = a.stdout.trim().split('\n'), lb = b.stdout.trim().split('\n');
    t.equal(la.length, 161, '161 flow records');
    // The clamped packet is counted at the previous packet's time (0.2 ms earlier): no record
    // moves, since it neither starts nor ends its flow.
    t.same(lb, la, `the same flow records (--threads ${threads})`);
  }
  const [ra] = timed(['replay', intact, '--policy', policy, '--format', 'jsonl']);
  const [rb, rbMs] = timed(['replay', damaged, '--policy', policy, '--format', 'jsonl']);
  t.equal(ra.code, 0, ra.stderr);
  t.equal(rb.code, 0, rb.stderr);
  t.ok(rbMs < RUN_MS, `replay damaged finished in ${rbMs.toFixed(0)} ms`);
  const anomalies = ra.stdout.trim().split('\n');
  t.equal(anomalies.length, 16, '16 anomalies');
  t.same(rb.stdout.trim().split('\n'), anomalies, 'the same anomalies');
  t.match(ra.stderr, /3103 packets, 161 flows, 3 devices, 16 anomalies/);
  t.notMatch(ra.stderr, /timestamps clamped/, 'intact: nothing clamped');
  t.match(rb.stderr, /3103 packets, 161 flows, 3 devices, 16 anomalies .*, 1 timestamps clamped, /, 'damaged: the jump counted in the summary');
});
