// Issue 10, "Must show": the collector is killed with SIGKILL in the middle of a FIFO-fed run
// and started again on the same state directory. The demo capture is fed again and again,
// each copy three minutes after the one before, so its anomalies stay open with rising
// counts. After the restart: the API lists the devices before any packet; no device.new for
// a device seen before; each anomaly open at the kill goes on under its id with its count at
// least what InfluxDB last had plus the repeats after the restart; after a two-hour silence
// those close as idle and the same causes open new anomalies; InfluxDB holds each id once.

import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, segwatch } from '../helpers/paths.js';
import { startInfluxd, influxdAvailable, records, type Influxd } from '../helpers/influxd.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const STEP_S = 180;
const DB = 'restart';

type A = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
const parse = (s: string): A[] => s.split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as A]; } catch { return []; } });
const read = (f: string): A[] => { try { return parse(readFileSync(f, 'utf8')); } catch { return []; } };
const cause = (a: A) => [a.device, a.kind, a.peer, a.peerPort ?? a.peer_port, a.rule].join('|');

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await cond()) return true;
    await sleep(100);
  }
  return cond();
}

/** The demo's header, and copy i: its frames i * STEP_S seconds later (classic pcap, LE). */
function demoCopies(): { header: Buffer; copy: (i: number) => Buffer } {
  const b = readFileSync(demo);
  const body = b.subarray(24);
  return {
    header: b.subarray(0, 24),
    copy(i) {
      const c = Buffer.from(body);
      for (let off = 0; off + 16 <= c.length; off += 16 + c.readUInt32LE(off + 8)) c.writeUInt32LE(c.readUInt32LE(off) + i * STEP_S, off);
      return c;
    },
  };
}

interface Run { child: ChildProcess; exited: Promise<number | null>; stderr: () => string; done: () => boolean }

function startRun(t: Test, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [cliPath, 'run', ...args, '--log-level', 'info'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 500_000) stderr += d.toString(); });
  let done = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { done = true; resolve(code); }));
  const killer = setTimeout(() => child.kill('SIGKILL'), 180_000).unref();
  t.teardown(() => { clearTimeout(killer); if (!done) child.kill('SIGKILL'); });
  return { child, exited, stderr: () => stderr, done: () => done };
}

async function influxAnomalies(influxd: Influxd): Promise<A[]> {
  return records(await influxd.query('SELECT * FROM "anomaly"', { db: DB, epoch: 'ms' }));
}

const why = influxdAvailable() ? null : 'needs influxd (Debian package influxdb)';

t.test('SIGKILL mid-run, then a restart on the same state directory', { skip: why ?? false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const influxd = await startInfluxd();
  t.teardown(() => influxd.destroy());
  const state = join(dir, 'state');
  const common = ['--policy', policy, '--influx', `${influxd.url}/${DB}`, '--state-dir', state];
  const { header, copy } = demoCopies();

  // ---- first run: ten copies (30 minutes of packet time), then SIGKILL -------------
  const fifo1 = join(dir, 'one.fifo');
  t.equal(spawnSync('mkfifo', [fifo1]).status, 0, 'mkfifo');
  const out1 = join(dir, 'one.jsonl');
  const one = startRun(t, ['--capture', fifo1, '--out', out1, '--spool-dir', join(dir, 'spool1'), ...common]);
  const feed1 = await Promise.race([open(fifo1, 'w'), one.exited.then(() => null)]);
  if (!feed1) { t.fail(`the first run exited before opening its FIFO: ${one.stderr().slice(-2000)}`); return; }
  await feed1.write(header);
  for (let i = 0; i < 10; i++) await feed1.write(copy(i));
  // Every copy repeats the demo's anomalies; updates go out once a minute of packet time.
  // Wait until InfluxDB has counts above one copy's and they stopped moving.
  let before: A[] = [];
  let last = '', steady = 0;
  const settled = await until(async () => {
    before = await influxAnomalies(influxd).catch(() => []);
    const sig = before.map((a) => `${String(a.id)}:${String(a.count)}`).sort().join(',');
    steady = sig === last && before.some((a) => Number(a.count) > 5) ? steady + 1 : 0;
    last = sig;
    return one.done() || steady >= 15;
  }, 90_000);
  t.ok(settled && !one.done(), `InfluxDB holds ${before.length} anomalies with rising counts while the run goes on`);
  one.child.kill('SIGKILL');
  t.equal(await one.exited, null, 'the first run died by SIGKILL');
  await feed1.close().catch(() => {});

  const opened1 = read(out1);
  const newDevices1 = opened1.filter((a) => a.kind === 'device.new');
  t.ok(newDevices1.length >= 2, `the first run reported ${newDevices1.length} new devices`);
  const openAtKill = before.filter((a) => a.state === 'open');
  t.ok(openAtKill.length >= 10, `${openAtKill.length} anomalies open in InfluxDB at the kill`);
  const countAtKill = new Map(openAtKill.map((a) => [String(a.id), Number(a.count)]));

  // ---- second run: the API before any packet, three more copies, a 2 h silence, one copy
  const fifo2 = join(dir, 'two.fifo');
  t.equal(spawnSync('mkfifo', [fifo2]).status, 0, 'mkfifo');
  const out2 = join(dir, 'two.jsonl');
  const token = 'restart-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const apiPort = 20000 + Math.floor(Math.random() * 30000);
  const two = startRun(t, ['--capture', fifo2, '--out', out2, '--spool-dir', join(dir, 'spool2'), '--listen', `127.0.0.1:${apiPort}`, ...common],
    { SEGWATCH_API_TOKEN: token });
  const feed2 = await Promise.race([open(fifo2, 'w'), two.exited.then(() => null)]);
  if (!feed2) { t.fail(`the second run exited before opening its FIFO: ${two.stderr().slice(-2000)}`); return; }
  let apiDevices: A[] = [];
  await until(async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
      apiDevices = ((await res.json()) as { devices: A[] }).devices ?? [];
      return apiDevices.length > 0;
    } catch { return false; }
  }, 30_000);
  const devices1 = new Set(opened1.map((a) => a.mac).filter(Boolean));
  t.ok(apiDevices.length >= devices1.size && devices1.size > 0, `before any packet the API lists ${apiDevices.length} devices from the state`);
  t.ok([...devices1].every((m) => apiDevices.some((d) => d.mac === m)), 'every device the first run reported an anomaly for');

  await feed2.write(header);
  for (let i = 10; i < 13; i++) await feed2.write(copy(i));
  await feed2.write(copy(13 + Math.ceil(7200 / STEP_S)));
  await feed2.close();
  const code = await Promise.race([two.exited, sleep(120_000).then(() => 'timeout')]);
  t.equal(code, 0, `the second run ends with its input, exit 0 (${two.stderr().trim().split('\n').slice(-1)[0] ?? ''})`);

  const lines2 = read(out2);
  // (the device.new anomalies still open at the kill go on, and close, like any other)
  t.same(lines2.filter((a) => a.kind === 'device.new' && a.state === 'open').map((a) => a.device), [], 'no device.new opened for devices seen before the restart');
  t.match(two.stderr(), /state: resumed from the last run/, 'the second run says it resumed');

  // The repeats after the restart: the same three copies through a fresh replay, counted by cause.
  const part = join(dir, 'part.pcap');
  writeFileSync(part, Buffer.concat([header, copy(10), copy(11), copy(12)]));
  const fresh = segwatch(['replay', part, '--policy', policy, '--format', 'jsonl']);
  t.equal(fresh.code, 0, fresh.stderr);
  const repeats = new Map(parse(fresh.stdout).map((a) => [cause(a), Number(a.count)]));

  const closed2 = new Map(lines2.filter((a) => a.state === 'closed').map((a) => [String(a.id), a]));
  let goneOn = 0, grew = 0;
  for (const [id, atKill] of countAtKill) {
    const c = closed2.get(id);
    if (!c) { t.fail(`anomaly ${id} (open at the kill) did not go on after the restart`); continue; }
    goneOn++;
    // a fresh replay sees the device for the first time; after the restart it is not new
    const more = c.kind === 'device.new' ? 0 : repeats.get(cause(c)) ?? 0;
    if (more > 0) grew++;
    t.ok(Number(c.count) >= atKill + more, `${String(c.kind)} ${String(c.device)}: count ${String(c.count)} >= ${atKill} written before the kill + ${more} after`);
    t.equal(c.closeReason, 'idle', `${id} closed when its cause was quiet for the idle time`);
  }
  t.equal(goneOn, countAtKill.size, `all ${countAtKill.size} open anomalies went on under their ids`);
  t.ok(grew >= 5, `${grew} of them counted repeats after the restart`);
  const reopened = lines2.filter((a) => a.state === 'open' && !countAtKill.has(String(a.id)));
  t.ok(reopened.length > 0, `after the silence the same causes opened ${reopened.length} new anomalies`);

  // InfluxDB: one point per anomaly id, the resumed ones with their final count, closed.
  let final: A[] = [];
  await until(async () => {
    final = await influxAnomalies(influxd).catch(() => []);
    return [...countAtKill.keys()].every((id) => final.some((a) => a.id === id && a.state === 'closed'));
  }, 30_000);
  const ids = final.map((a) => String(a.id));
  t.equal(new Set(ids).size, ids.length, `InfluxDB holds each of ${ids.length} anomalies once`);
  for (const [id] of countAtKill) {
    const p = final.find((a) => a.id === id);
    const c = closed2.get(id);
    if (p && c) t.same([p.state, Number(p.count)], ['closed', Number(c.count)], `InfluxDB: ${id} closed with count ${String(c.count)}`);
  }
});
