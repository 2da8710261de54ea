// `segwatch run`, the long-running collector: settings checked as a whole before anything
// starts, a capture file as source, the policy cache in the state directory, and live
// capture on the loopback interface with the API answering and SIGTERM flushing and exiting 0.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, segwatch, skipUnless } from '../helpers/paths.js';

const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-run-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('every settings problem is listed before anything starts', async (t) => {
  const dir = tmp(t);
  const cfg = join(dir, 'segwatch.yaml');
  writeFileSync(cfg, 'interface: eth9\ncapture: x.pcap\nsnaplen: 10\ncolour: blue\ninflux: "http://u:secret@127.0.0.1:8086/segwatch"\n');
  const r = segwatch(['run', '--config', cfg], { env: { SEGWATCH_POLICY: '' } });
  t.equal(r.code, 2, 'exit 2');
  t.match(r.stderr, /problems in the settings/);
  t.match(r.stderr, new RegExp(`${cfg}:4:1: unknown setting "colour"`), 'unknown key with its place');
  t.match(r.stderr, /snaplen.*at least 64/, 'bad number with its place');
  t.match(r.stderr, /policy: required/);
  t.match(r.stderr, /give one source, not both/);
  t.match(r.stderr, /password in the URL is refused/);
  const noToken = segwatch(['run', '--policy', policy, '--capture', demo, '--listen', '127.0.0.1:0'], { env: { SEGWATCH_API_TOKEN: '' } });
  t.equal(noToken.code, 2);
  t.match(noToken.stderr, /SEGWATCH_API_TOKEN/, 'the API refuses to run without a token');
});

t.test('a capture file as source: the same anomalies as replay, exit 0', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'anomalies.jsonl');
  const r = segwatch(['run', '--policy', policy, '--capture', demo, '--out', out, '--log-level', 'warn']);
  t.equal(r.code, 0, r.stderr);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const want = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  // a line when each anomaly opens and one when it closes (the file ended), under one id
  const opened = lines.filter((a) => a.state === 'open'), closed = lines.filter((a) => a.state === 'closed');
  t.equal(opened.length + closed.length, lines.length, 'every line is an opening or a closing');
  t.same(opened.map((a) => a.id).sort(), closed.map((a) => a.id).sort(), 'each anomaly opened once and closed once');
  t.ok(opened.every((a) => a.closeReason === ''), 'open lines have no close reason');
  t.ok(lines.findIndex((a) => a.state === 'closed') > 0, 'openings are written as they happen, before the closings');
  const order = (l: Array<{ firstSeen: string; id: string }>) => [...l].sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
  t.same(order(closed), order(want), `${closed.length} anomalies closed, as replay reports them`);
});

t.test('run caches the checked policy in <state dir>/cache, unless SEGWATCH_POLICY_CACHE=off', async (t) => {
  const dir = tmp(t);
  const state = join(dir, 'state');
  mkdirSync(state);
  const run = (cache: string) => segwatch(['run', '--policy', policy, '--capture', demo, '--out', join(dir, 'a.jsonl'), '--log-level', 'warn', '--state-dir', state], { env: { SEGWATCH_POLICY_CACHE: cache } });
  const off = run('off');
  t.equal(off.code, 0, off.stderr);
  t.notOk(existsSync(join(state, 'cache')), 'off: no cache');
  const first = run('');
  t.equal(first.code, 0, first.stderr);
  const cache = join(state, 'cache');
  const entries = readdirSync(cache);
  t.match(entries, [/^[0-9a-f]{64}\.json$/], 'one entry');
  t.equal(entries.length, 1);
  t.equal(statSync(cache).mode & 0o777, 0o700, 'directory 0700');
  const entry = join(cache, entries[0]);
  t.equal(statSync(entry).mode & 0o777, 0o600, 'entry 0600');
  utimesSync(entry, 1000, 1000);
  const before = statSync(entry).ino;
  const second = run('');
  t.equal(second.code, 0, second.stderr);
  // a hit touches the entry; a miss would have written a new file in its place
  t.same([statSync(entry).ino, statSync(entry).mtimeMs > 1000 * 1000], [before, true], 'the second start is a hit');
  t.same(readdirSync(cache), entries);
});

const canCapture = existsSync('/sys/class/net/lo') && spawnSync('sh', ['-c', 'test "$(id -u)" = 0']).status === 0;

t.test('live on lo: the API answers with its token, SIGTERM flushes and exits 0', { skip: skipUnless(canCapture, 'needs root or CAP_NET_RAW on lo') }, async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'anomalies.jsonl');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const apiPort = 40000 + Math.floor(Math.random() * 20000);
  const token = 'test-token-' + Math.random().toString(36).slice(2) + 'abcdefgh';
  const child = spawn(process.execPath, [cliPath, 'run', '--policy', policy, '--interface', 'lo', '--filter', `udp port ${port}`,
    '--out', out, '--listen', `127.0.0.1:${apiPort}`, '--log-level', 'info', '--state-dir', join(dir, 'state')], { env: { ...process.env, SEGWATCH_API_TOKEN: token }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

  const deadline = Date.now() + 20_000;
  while (!/API listening/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.match(stderr, /API listening/, 'collector up');

  const sock = createSocket('udp4');
  let stats: { packets: number } | undefined;
  // The API answers before libpcap is capturing: keep sending until the datagrams are counted.
  while (Date.now() < deadline) {
    await new Promise<void>((r) => sock.send(Buffer.alloc(100), port, '127.0.0.1', () => r()));
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/stats`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
    stats = await res.json() as { packets: number };
    if (stats.packets >= 10) break; // each datagram is seen twice on lo (out and in)
    await new Promise((r) => setTimeout(r, 200));
  }
  t.ok((stats?.packets ?? 0) >= 5, `the API counts the captured packets (${stats?.packets})`);
  const denied = await fetch(`http://127.0.0.1:${apiPort}/api/v1/stats`, { signal: AbortSignal.timeout(2000) });
  t.equal(denied.status, 401, 'no token, no answer');

  child.kill('SIGTERM');
  // libpcap notices the stop at the next packet on the interface
  const nudge = setInterval(() => sock.send(Buffer.alloc(1), port, '127.0.0.1'), 200);
  const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  clearInterval(nudge);
  sock.close();
  t.equal(code, 0, `SIGTERM: exit 0 (${stderr.split('\n').slice(-3).join(' | ')})`);
  t.match(stderr, /segwatch collector stopped/, 'it said so after flushing');
});
