// The must-show, end to end with the built CLI and a real influxd: InfluxDB stopped in the
// middle of a replay and started again, and (once) the collector restarted while it is down;
// afterwards the database holds every anomaly the runs printed, exactly once.

import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, segwatch } from '../helpers/paths.js';
import { startInfluxd, influxdAvailable, rows, type Influxd } from '../helpers/influxd.js';
import { Spool } from '../../collector/sinks/influx/spool.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const allowed = join(repoRoot, 'test/fixtures/demo/allowed.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');

type A = Record<string, string | number>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The demo capture as a header and a maker of copies: copy i is the demo's frames i hours later
 * (classic pcap, little-endian, as the demo is), so its anomalies recur in every copy.
 */
function demoCopies(): { header: Buffer; copy: (i: number) => Buffer } {
  const b = readFileSync(demo);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('demo.pcap is expected to be little-endian classic pcap');
  const body = b.subarray(24);
  return {
    header: b.subarray(0, 24),
    copy(i: number): Buffer {
      const c = Buffer.from(body);
      for (let off = 0; off + 16 <= c.length;) {
        c.writeUInt32LE(c.readUInt32LE(off) + i * 3600, off);
        off += 16 + c.readUInt32LE(off + 8);
      }
      return c;
    },
  };
}

/** Polls cond every 100 ms for at most ms; false when it never held. */
async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await cond()) return true;
    await sleep(100);
  }
  return cond();
}

const parse = (s: string): A[] => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as A);

/** What tells two stored anomalies apart: series (tags without empty values), time to the ms, peer/port/proto. */
function keyOf(a: { device: unknown; kind: unknown; severity: unknown; profile: unknown; segment: unknown; ms: number; peer: unknown; port: unknown; proto: unknown; rule: unknown; count: unknown }): string {
  return [a.device, a.kind, a.severity, a.profile, a.segment, a.ms, a.peer ?? '', a.port, a.proto ?? '', a.rule, a.count].join('|');
}

async function stored(influxd: Influxd, db: string): Promise<string[]> {
  const r = await influxd.query(
    'SELECT "device"::tag, "kind"::tag, "severity"::tag, "profile"::tag, "segment"::tag, "peer", "peer_port", "proto", "rule", "count" FROM "anomaly"',
    { db, epoch: 'ms' },
  );
  const s = r.results?.[0]?.series?.[0];
  if (!s) return [];
  return s.values.map((v) => {
    const o = Object.fromEntries(s.columns.map((c, i) => [c, v[i]]));
    return keyOf({ ...o, ms: Number(o.time), port: o.peer_port } as Parameters<typeof keyOf>[0]);
  });
}

const printedKeys = (as: A[]): string[] => as.map((a) => keyOf({
  ...a, ms: Date.parse(String(a.time)), port: a.peerPort,
} as unknown as Parameters<typeof keyOf>[0]));

async function anomalyCount(influxd: Influxd, db: string): Promise<number> {
  const v = rows(await influxd.query('SELECT count("message") FROM "anomaly"', { db }))[0]?.[1];
  return typeof v === 'number' ? v : 0;
}

/** Each printed anomaly stored exactly once, nothing else. */
async function assertExactlyOnce(t: Test, influxd: Influxd, db: string, printed: A[]): Promise<void> {
  const want = printedKeys(printed);
  t.equal(new Set(want).size, want.length, 'the printed anomalies are distinct');
  t.equal(await anomalyCount(influxd, db), printed.length, `${printed.length} anomaly points, as many as printed`);
  const got = await stored(influxd, db);
  const gotSet = new Set(got);
  t.equal(gotSet.size, got.length, 'no anomaly stored twice');
  const missing = want.filter((k) => !gotSet.has(k));
  t.same(missing.slice(0, 10), [], `no printed anomaly missing (${missing.length} missing)`);
  const wantSet = new Set(want);
  const extra = got.filter((k) => !wantSet.has(k));
  t.same(extra.slice(0, 10), [], `nothing stored that was not printed (${extra.length} extra)`);
}

function pendingBatches(dir: string): number {
  const sp = Spool.open({ dir });
  try {
    return sp.batches;
  } finally {
    sp.close();
  }
}

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-e2e-influx-fault-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  t.test('A: influxd killed in the middle of a run and started again', async (t) => {
    const influxd = await startInfluxd();
    t.teardown(() => influxd.destroy());
    const db = 'fault_a';
    // The collector reads a FIFO that this test writes in phases, so each step below happens
    // while the run is provably still going (it waits for the next phase's frames), however
    // fast the machine: a run over a file raced the outage and could end before it.
    const fifo = join(dir, 'a.fifo');
    t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const spool = join(dir, 'spool-a');
    const out = join(dir, 'a.jsonl');

    const child = spawn(process.execPath, [cliPath, 'run', '--capture', fifo, '--policy', policy,
      '--influx', `${influxd.url}/${db}`, '--spool-dir', spool, '--out', out, '--log-level', 'info', '--state-dir', join(dir, 'state-a')],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 200_000) stderr += d.toString(); });
    const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : -2))));
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    let done = false;
    void exited.then(() => { done = true; });
    // opening a FIFO to write waits for its reader: no await until the collector has it open
    const feed = await Promise.race([open(fifo, 'w'), exited.then(() => null)]);
    t.teardown(async () => { clearTimeout(killer); if (child.exitCode === null) child.kill('SIGKILL'); });
    if (!feed) { t.fail(`the collector exited before opening the FIFO: ${stderr.slice(-2000)}`); return; }
    const { header, copy } = demoCopies();
    let copies = 0;
    const send = async (n: number): Promise<void> => { for (const end = copies + n; copies < end; copies++) await feed.write(copy(copies)); };
    await feed.write(header);

    // 1: the first anomalies reach the database, then the plug is pulled
    await send(50);
    let seen = 0;
    await until(async () => done || (seen = await anomalyCount(influxd, db).catch(() => 0)) > 0, 60_000);
    t.ok(seen > 0, `first anomalies visible (${seen})`);
    t.notOk(done, 'the run is still going when influxd is killed');
    await influxd.stop({ hard: true });
    // 2: more traffic while influxd is down: the writes fail and go to the spool
    await send(100);
    t.ok(await until(() => done || /InfluxDB write failed: spooling to disk and retrying/.test(stderr), 60_000), 'the outage was noticed');
    t.notOk(done, 'the run is still going while influxd is down');
    // 3: influxd is back; the spool is replayed while the run goes on
    await influxd.start();
    await send(100);
    t.ok(await until(() => done || /InfluxDB answers again/.test(stderr), 60_000), 'and its end');
    let last = -1, steady = 0;
    await until(async () => {
      const n = await anomalyCount(influxd, db).catch(() => -1);
      steady = n === last ? steady + 1 : 0;
      last = n;
      return done || steady >= 10;
    }, 60_000);
    t.notOk(done, 'the run is still going when influxd is back and the spool replayed');
    // 4: the rest of the traffic, then the end of the capture ends the run
    await send(100);
    await feed.close();

    const code = await exited;
    t.equal(code, 0, `run exits 0: ${stderr.slice(-2000)}`);
    // --out has a line when each anomaly opened and one when it closed: the closing is its final state
    const printed = parse(readFileSync(out, 'utf8')).filter((a) => a.state === 'closed');
    t.ok(printed.length > 1000, `${printed.length} anomalies printed from ${copies} copies of the demo`);
    t.equal(pendingBatches(spool), 0, 'the spool was replayed before the run ended');
    await assertExactlyOnce(t, influxd, db, printed);
  });

  t.test('B: influxd down from the start, the collector restarted while it is down', async (t) => {
    const influxd = await startInfluxd();
    t.teardown(() => influxd.destroy());
    await influxd.stop({ hard: true });
    const db = 'fault_b';
    const spool = join(dir, 'spool-b');
    const url = `${influxd.url}/${db}`;

    const first = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl', '--influx', url, '--spool-dir', spool],
      { timeoutMs: 60_000 });
    t.equal(first.code, 0, first.stderr);
    const printed = parse(first.stdout);
    t.ok(printed.length >= 10, `${printed.length} anomalies printed`);
    const afterFirst = pendingBatches(spool);
    t.ok(afterFirst > 0, `the first run left ${afterFirst} batches in the spool`);

    // The collector restarts while influxd is still down: the spool grows, nothing is lost.
    const second = segwatch(['replay', allowed, '--policy', policy, '--format', 'jsonl', '--influx', url, '--spool-dir', spool],
      { timeoutMs: 60_000 });
    t.equal(second.code, 0, second.stderr);
    t.equal(second.stdout, '', 'allowed.pcap has no anomaly');
    const afterSecond = pendingBatches(spool);
    t.ok(afterSecond > afterFirst, `the restarted collector queued behind the backlog (${afterSecond} batches)`);

    await influxd.start();
    // A short run with influxd up drains the spool. A run's close() does not start a long
    // replay, so a short run may leave part of a backlog for the next: allow a few, bounded.
    let runs = 0;
    let left = afterSecond;
    while (left > 0 && runs < 5) {
      const r = segwatch(['replay', allowed, '--policy', policy, '--format', 'jsonl', '--influx', url, '--spool-dir', spool],
        { timeoutMs: 60_000 });
      runs++;
      t.equal(r.code, 0, r.stderr);
      left = pendingBatches(spool);
    }
    t.equal(left, 0, `the spool is empty of pending batches after ${runs} run(s)`);
    t.equal(runs, 1, 'one run with influxd up drains the spool');
    await assertExactlyOnce(t, influxd, db, printed);

    // The data of all three runs arrived: the collector measurement saw each source.
    const sources = (await influxd.query('SHOW TAG VALUES FROM "collector" WITH KEY = "source"', { db })).results?.[0]?.series?.[0]?.values
      .map((v) => String(v[1])) ?? [];
    t.ok(sources.includes('file:demo.pcap') && sources.includes('file:allowed.pcap'), `collector sources ${sources.join(', ')}`);
  });
}
