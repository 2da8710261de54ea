// SIGTERM ends `run` on a FIFO whose writer keeps it open and quiet: the demo capture is
// written, the writer neither writes more nor closes, and the collector is told to stop. It
// must exit 0 with the anomalies of what it read in the --out file and kept open in the state
// directory. A read of the quiet FIFO blocked on a thread once kept the process from ever
// exiting after it had flushed everything.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, segwatch } from '../helpers/paths.js';
import { StateDb } from '../../collector/state/db.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
type A = Record<string, unknown>;
const parse = (s: string): A[] => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as A);
const cause = (a: A) => [a.kind, a.device, a.peer, a.peerPort].join('|');
const causes = (as: A[]) => [...new Set(as.map(cause))].sort();

async function until(ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await ok()) return true; await sleep(200); }
  return ok();
}

/** Records in a classic pcap file. */
function pcapRecords(b: Buffer): number {
  let n = 0;
  for (let p = 24; p + 16 <= b.length; p += 16 + b.readUInt32LE(p + 8)) n++;
  return n;
}

t.test('SIGTERM while the FIFO writer stays open: exit 0, what was read is flushed and kept', async (t) => {
  t.ok(existsSync(cliPath), 'the CLI is built');
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-fifo-stop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // what the demo's packets raise, from the same pipeline run on the file
  const replay = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl']);
  t.equal(replay.code, 0, 'replay of the demo capture');
  const expected = causes(parse(replay.stdout));
  t.ok(expected.length >= 10, `the demo raises ${expected.length} anomalies`);

  const fifo = join(dir, 'feed.fifo');
  spawnSync('mkfifo', [fifo]);
  const out = join(dir, 'out.jsonl');
  const state = join(dir, 'state');
  const token = 'fifo-stop-' + Math.random().toString(36).slice(2) + 'abcdefgh';
  writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
  const child = spawn(process.execPath, [cliPath, 'run', '--policy', policy, '--capture', fifo, '--out', out, '--state-dir', state,
    '--listen', '127.0.0.1:0', '--log-level', 'info'], {
    cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SEGWATCH_API_TOKEN: '', SEGWATCH_API_TOKEN_FILE: join(dir, 'token') },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });

  const feed = await Promise.race([open(fifo, 'w'), exited.then(() => null), sleep(30_000).then(() => null)]);
  if (!feed) { t.fail(`the collector did not open its capture: ${stderr.slice(-2000)}`); return; }
  t.teardown(() => feed.close().catch(() => {}));
  const bytes = readFileSync(demo);
  await feed.write(bytes);
  // the writer stays open from here on, and quiet
  const address = await until(() => /"address":"127\.0\.0\.1:\d+"[^\n]*API listening/.test(stderr), 30_000)
    ? /"address":"(127\.0\.0\.1:\d+)"[^\n]*API listening/.exec(stderr)![1] : null;
  if (!address) { t.fail(`no API address: ${stderr.slice(-2000)}`); return; }
  const packets = async () => {
    const res = await fetch(`http://${address}/api/v1/stats`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    return ((await res.json()) as { packets: number }).packets;
  };
  const written = pcapRecords(bytes);
  t.ok(await until(async () => await packets() === written, 60_000), `the collector read the ${written} packets written`);

  child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(30_000).then(() => 'still running' as const)]);
  t.equal(code, 0, 'SIGTERM ends the run with exit 0 though the writer keeps the FIFO open');
  if (code !== 0) t.comment(stderr.slice(-2000));
  t.match(stderr, /"signal":"SIGTERM"/);
  t.match(stderr, /segwatch collector stopped/);

  const lines = existsSync(out) ? parse(readFileSync(out, 'utf8')) : [];
  t.same(causes(lines), expected, 'the --out file has the anomalies of every packet written');
  t.ok(lines.every((a) => a.state === 'open'), 'a stop closes nothing');
  const db = StateDb.open(state);
  try {
    const kept = db.openAnomalies().map((s) => s.a as unknown as A);
    t.same(causes(kept), expected, 'the state directory keeps them open for the next run');
    t.same(new Set(kept.map((a) => a.id)), new Set(lines.map((a) => a.id)), 'under the ids written');
  } finally {
    db.close();
  }
});
