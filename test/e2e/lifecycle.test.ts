// The anomaly lifecycle end to end, on captures this test writes: a beacon every two
// minutes for a day is one anomaly; after a two-hour silence it is two; `replay --influx`
// leaves exactly one point per anomaly id with its final count and state; during a run
// (fed through a FIFO, so it is provably still going) the same InfluxDB point is read twice
// with a rising count and is still open after SIGTERM; a policy reload that allows the
// behaviour closes its anomaly.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, segwatch } from '../helpers/paths.js';
import { startInfluxd, influxdAvailable, records, type Influxd } from '../helpers/influxd.js';
import { sendUdp, type Host, type Wire } from '../fixtures/synth/conversation.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';
import type { FrameSink } from '../fixtures/synth/pcap-writer.js';

const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);
const MIN = 60_000, HOUR = 3_600_000;
const CAM: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
const CNC: Host = { mac: '24:5a:4c:50:00:01', ip: '203.0.113.66' };
const RESOLVER: Host = { mac: '24:5a:4c:50:00:01', ip: '192.168.50.1' };

const POLICY = (allowBeacon: boolean) => `version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
devices:
  - { name: camera, mac: "${CAM.mac}", profile: camera }
  # the router answers DNS on the link: a device of its own (responders are learned too)
  - { name: router, mac: "${RESOLVER.mac}", profile: camera }
default_profile: camera
profiles:
  camera:
    allow:
      - { service: dns }
${allowBeacon ? '      - { to: "203.0.113.66", ports: ["4444/udp"] }\n' : ''}`;

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-lifecycle-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The camera calls home: one UDP datagram (its own flow, new source port) at `ms`. */
function beacon(w: Wire, ms: number, n: number): void {
  sendUdp(w, ms * 1000, CAM, CNC, 40000 + (n % 20000), 4444, Buffer.from(`ping ${n}`));
}

/** An allowed DNS query: moves packet time on without raising anything. */
function filler(w: Wire, ms: number, n: number): void {
  sendUdp(w, ms * 1000, CAM, RESOLVER, 30000 + (n % 20000), 53, Buffer.alloc(30));
}

function writeCapture(path: string, fill: (w: Wire) => void): void {
  const pw = new PcapWriter(path);
  fill({ sink: pw });
  pw.close();
}

type A = Record<string, unknown> & { id: string; count: number; state: string; closeReason: string; firstSeen: string; lastSeen: string; kind: string };
const parse = (s: string): A[] => s.trim() === '' ? [] : s.trim().split('\n').map((l) => JSON.parse(l) as A);

t.test('a beacon every 2 minutes for 24 hours is one anomaly; after a 2-hour pause, two', async (t) => {
  const dir = tmp(t);
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY(false));
  const day = join(dir, 'day.pcap');
  const N = 24 * 30; // every 2 min for 24 h
  writeCapture(day, (w) => { for (let i = 0; i < N; i++) beacon(w, T0 + i * 2 * MIN, i); });
  const r = segwatch(['replay', day, '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const as = parse(r.stdout);
  t.equal(as.length, 1, 'one anomaly for the day');
  t.match(as[0], { kind: 'policy.violation', device: 'camera', peer: CNC.ip, peerPort: 4444, count: N, state: 'closed', closeReason: 'end' });
  t.equal(as[0].firstSeen, new Date(T0).toISOString());
  t.equal(as[0].lastSeen, new Date(T0 + (N - 1) * 2 * MIN).toISOString());

  const paused = join(dir, 'paused.pcap');
  writeCapture(paused, (w) => {
    for (let i = 0; i < 30; i++) beacon(w, T0 + i * 2 * MIN, i); // one hour
    const back = T0 + 29 * 2 * MIN + 2 * HOUR; // quiet for two hours
    for (let i = 0; i < 10; i++) beacon(w, back + i * 2 * MIN, 100 + i);
  });
  const r2 = segwatch(['replay', paused, '--policy', policy, '--format', 'jsonl']);
  t.equal(r2.code, 0, r2.stderr);
  const two = parse(r2.stdout);
  t.same(two.map((a) => [a.count, a.closeReason]), [[30, 'idle'], [10, 'end']], 'two anomalies: the first closed when it went quiet');
  t.not(two[0].id, two[1].id, 'each with its own id');

  // near miss: a pause just under the idle time keeps it one anomaly
  const short = join(dir, 'short.pcap');
  writeCapture(short, (w) => {
    for (let i = 0; i < 30; i++) beacon(w, T0 + i * 2 * MIN, i);
    const back = T0 + 29 * 2 * MIN + HOUR - MIN;
    for (let i = 0; i < 10; i++) beacon(w, back + i * 2 * MIN, 100 + i);
  });
  const r3 = segwatch(['replay', short, '--policy', policy, '--format', 'jsonl']);
  t.same(parse(r3.stdout).map((a) => a.count), [40], '59 quiet minutes: still the same anomaly');
  // the idle time is a policy setting
  writeFileSync(policy, POLICY(false) + 'detectors:\n  anomaly_idle: 30m\n');
  const r4 = segwatch(['replay', short, '--policy', policy, '--format', 'jsonl']);
  t.same(parse(r4.stdout).map((a) => a.count), [30, 10], 'with anomaly_idle: 30m the same pause splits it');
});

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  t.test('replay --influx: one point per anomaly id, final count, state closed', async (t) => {
    const influxd = await startInfluxd();
    t.teardown(() => influxd.destroy());
    const dir = tmp(t);
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY(false));
    const cap = join(dir, 'beacons.pcap');
    // three causes (three C&C ports), each updated many times over six hours
    writeCapture(cap, (w) => {
      let n = 0;
      for (let i = 0; i < 180; i++) for (const port of [4444, 5555, 6666]) {
        sendUdp(w, (T0 + i * 2 * MIN + port) * 1000, CAM, CNC, 40000 + (n++ % 20000), port, Buffer.from('x'));
      }
    });
    const r = segwatch(['replay', cap, '--policy', policy, '--format', 'jsonl', '--influx', `${influxd.url}/lc`, '--spool-dir', join(dir, 'spool')]);
    t.equal(r.code, 0, r.stderr);
    const printed = parse(r.stdout);
    t.equal(printed.length, 3);
    const rows = records(await influxd.query('SELECT "id", "count", "state", "close_reason", "last_seen" FROM "anomaly"', { db: 'lc', epoch: 'ms' }));
    t.equal(rows.length, 3, 'exactly one point per anomaly, however often it was written');
    for (const a of printed) {
      const row = rows.find((x) => x.id === a.id);
      t.ok(row, `a point for ${a.id}`);
      t.match(row, { count: 180, state: 'closed', close_reason: 'end', last_seen: Date.parse(a.lastSeen), time: Date.parse(a.firstSeen) });
    }
  });

  t.test('during a run: the same point read twice with a rising count; still open after SIGTERM', async (t) => {
    const influxd = await startInfluxd();
    t.teardown(() => influxd.destroy());
    const dir = tmp(t);
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY(false));
    const fifo = join(dir, 'feed.fifo');
    t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const out = join(dir, 'out.jsonl');
    const run = startRun(t, ['--capture', fifo, '--policy', policy, '--influx', `${influxd.url}/live`, '--spool-dir', join(dir, 'spool'), '--out', out]);
    const feed = await Promise.race([open(fifo, 'w'), run.exited.then(() => null)]);
    if (!feed) { t.fail(`the collector exited before opening the FIFO: ${run.stderr()}`); return; }
    const send = async (fill: (w: Wire) => void) => { await feed.write(framesOf(fill)); };
    await feed.write(PCAP_HEADER);

    // phase 1: two beacons, then a later packet: its tick writes the update (interval 60 s)
    await send((w) => { beacon(w, T0, 0); beacon(w, T0 + 2 * MIN, 1); filler(w, T0 + 2 * MIN + 2000, 0); });
    const first = await pointWhen(influxd, 'live', (p) => p.count === 2);
    t.match(first, { count: 2, state: 'open' }, 'the open anomaly with count 2');
    // phase 2: two more (the update at 6 min writes count 3; the next write may come a minute later)
    await send((w) => { beacon(w, T0 + 4 * MIN, 2); beacon(w, T0 + 6 * MIN, 3); filler(w, T0 + 7 * MIN + 1000, 1); });
    const second = await pointWhen(influxd, 'live', (p) => p.count === 4);
    t.match(second, { count: 4, state: 'open' });
    t.equal(second.id, first.id, 'the same anomaly');
    t.equal(second.time, first.time, 'the same point: its timestamp is fixed when it opens');
    t.equal(await pointCount(influxd, 'live'), 1, 'and only that one');
    t.equal(run.done(), false, 'the run is still going');

    // one more repeat, then SIGTERM: written as it is, and nothing closes
    await send((w) => { beacon(w, T0 + 8 * MIN, 4); });
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGTERM');
    // a blocked read of a quiet pipe ends when its writer closes (the collector has stopped
    // taking frames by then: SIGTERM, not the end of the capture, decides what closes)
    t.ok(await until(() => /stopping: flushing/.test(run.stderr()), 10_000), 'SIGTERM taken');
    await feed.close().catch(() => undefined);
    t.equal(await run.exited, 0, `exit 0 on SIGTERM: ${run.stderr()}`);
    const last = await pointWhen(influxd, 'live', (p) => p.count === 5);
    t.match(last, { count: 5, state: 'open', id: first.id }, 'SIGTERM wrote the latest count and left it open');
    const lines = parse(readFileSync(out, 'utf8'));
    t.same(lines.map((a) => [a.state, a.id]), [['open', first.id]], '--out: one line at the opening, no closing');
  });
}

t.test('a policy reload that allows the behaviour closes its anomaly', async (t) => {
  const dir = tmp(t);
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY(false));
  const fifo = join(dir, 'feed.fifo');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const out = join(dir, 'out.jsonl');
  const run = startRun(t, ['--capture', fifo, '--policy', policy, '--out', out]);
  const feed = await Promise.race([open(fifo, 'w'), run.exited.then(() => null)]);
  if (!feed) { t.fail(`the collector exited before opening the FIFO: ${run.stderr()}`); return; }
  await feed.write(PCAP_HEADER);
  await feed.write(framesOf((w) => { beacon(w, T0, 0); beacon(w, T0 + 2 * MIN, 1); }));
  t.ok(await until(() => existsSync(out) && parse(readFileSync(out, 'utf8')).length === 1, 30_000), 'opened');
  writeFileSync(policy, POLICY(true));
  run.child.kill('SIGHUP');
  t.ok(await until(() => /policy reloaded/.test(run.stderr()), 30_000), 'reloaded');
  // the next packet's tick sees the new policy
  await feed.write(framesOf((w) => { filler(w, T0 + 3 * MIN, 0); }));
  t.ok(await until(() => parse(readFileSync(out, 'utf8')).length === 2, 30_000), 'closed');
  const [opened, closed] = parse(readFileSync(out, 'utf8'));
  t.match(closed, { id: opened.id, state: 'closed', closeReason: 'allowed', count: 2 });
  // and the behaviour, now allowed, raises nothing new
  await feed.write(framesOf((w) => { beacon(w, T0 + 4 * MIN, 2); filler(w, T0 + 5 * MIN, 1); }));
  await feed.close();
  t.equal(await run.exited, 0, run.stderr());
  t.equal(parse(readFileSync(out, 'utf8')).length, 2, 'nothing after the reload');

  // near miss: a reload that still forbids it leaves it open
  const dir2 = tmp(t);
  const policy2 = join(dir2, 'policy.yaml');
  writeFileSync(policy2, POLICY(false));
  const fifo2 = join(dir2, 'feed.fifo');
  spawnSync('mkfifo', [fifo2]);
  const out2 = join(dir2, 'out.jsonl');
  const run2 = startRun(t, ['--capture', fifo2, '--policy', policy2, '--out', out2]);
  const feed2 = await Promise.race([open(fifo2, 'w'), run2.exited.then(() => null)]);
  if (!feed2) { t.fail(run2.stderr()); return; }
  await feed2.write(PCAP_HEADER);
  await feed2.write(framesOf((w) => { beacon(w, T0, 0); }));
  t.ok(await until(() => existsSync(out2) && parse(readFileSync(out2, 'utf8')).length === 1, 30_000));
  writeFileSync(policy2, POLICY(false).replace('{ service: dns }', '{ service: dns }\n      - { service: ntp }'));
  run2.child.kill('SIGHUP');
  t.ok(await until(() => /policy reloaded/.test(run2.stderr()), 30_000));
  await feed2.write(framesOf((w) => { filler(w, T0 + MIN, 0); }));
  await new Promise((r) => setTimeout(r, 500));
  t.equal(parse(readFileSync(out2, 'utf8')).length, 1, 'still open after a reload that does not allow it');
  await feed2.close();
  t.equal(await run2.exited, 0);
  t.same(parse(readFileSync(out2, 'utf8')).map((a) => a.closeReason), ['', 'end'], 'closed only by the end of the capture');
});

// ---- helpers

const PCAP_HEADER = (() => {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(1, 20);
  return h;
})();

/** pcap records (no file header) of the frames `fill` writes. */
function framesOf(fill: (w: Wire) => void): Buffer {
  const parts: Buffer[] = [];
  const sink: FrameSink = {
    write(tsUs, frame, wireLen = frame.length) {
      const r = Buffer.alloc(16);
      const sec = Math.floor(tsUs / 1e6);
      r.writeUInt32LE(sec, 0);
      r.writeUInt32LE(Math.floor(tsUs) - sec * 1e6, 4);
      r.writeUInt32LE(frame.length, 8);
      r.writeUInt32LE(Math.max(wireLen, frame.length), 12);
      parts.push(r, Buffer.from(frame));
    },
  };
  fill({ sink });
  return Buffer.concat(parts);
}

function startRun(t: { teardown(fn: () => void | Promise<void>): void }, args: string[]) {
  // its own state directory: /var/lib/segwatch is the system's
  const state = mkdtempSync(join(tmpdir(), 'segwatch-state-'));
  const child = spawn(process.execPath, [cliPath, 'run', ...args, '--log-level', 'info', '--state-dir', state], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 200_000) stderr += d.toString(); });
  let finished = false;
  const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => { finished = true; resolve(code ?? (sig ? -1 : -2)); }));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  t.teardown(() => { clearTimeout(killer); if (child.exitCode === null) child.kill('SIGKILL'); });
  return { child, exited, stderr: () => stderr, done: () => finished };
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

interface Point { id: string; count: number; state: string; time: number }

async function points(influxd: Influxd, db: string): Promise<Point[]> {
  const r = await influxd.query('SELECT "id", "count", "state" FROM "anomaly"', { db, epoch: 'ns' }).catch(() => null);
  return r ? (records(r) as unknown as Point[]) : [];
}

async function pointWhen(influxd: Influxd, db: string, ok: (p: Point) => boolean): Promise<Point> {
  let got: Point[] = [];
  await until(async () => (got = await points(influxd, db)).some(ok), 30_000);
  return got.find(ok) ?? got[0] ?? { id: '', count: -1, state: 'missing', time: 0 };
}

async function pointCount(influxd: Influxd, db: string): Promise<number> {
  return (await points(influxd, db)).length;
}
