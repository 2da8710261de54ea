// Issue 10, "Must show": a kill -9 at any moment loses nothing that was committed and
// corrupts nothing. A child process (the state module production runs, from the build) opens
// a transaction, writes, prints a marker and is SIGKILLed at that marker: the database then
// passes PRAGMA integrity_check and holds none of that transaction. A second child commits
// batch after batch and prints each commit; killed at a random moment, every batch it printed
// is there, whole, and no batch is there in part.

import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { repoRoot } from '../helpers/paths.js';

const dbModule = pathToFileURL(join(repoRoot, 'dist/collector/state/db.js')).href;

/** The child's program: open the state, then `body` (an ES module body with `db` and `dev(i)` in scope). */
const program = (dir: string, body: string) => `
import { StateDb } from ${JSON.stringify(dbModule)};
const db = StateDb.open(${JSON.stringify(dir)});
const dev = (i) => ({ id: 'dev-' + i, name: 'd' + i, mac: '', ips: ['10.0.' + (i >> 8 & 255) + '.' + (i & 255)], vendor: '', hostname: '',
  profile: '', segment: 'iot', firstSeen: i, lastSeen: i, known: false });
const say = (s) => process.stdout.write(s + '\\n');
${body}
`;

/** Runs the child until its stdout matches `marker` (then SIGKILL) or it exits; bounded. */
function runChild(src: string, onLine: (line: string) => boolean, boundMs = 60_000): Promise<{ lines: string[]; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (onLine(line)) child.kill('SIGKILL');
      }
    });
    child.on('exit', (_code, signal) => { clearTimeout(timer); resolve({ lines, signal, stderr }); });
  });
}

function inspect(dir: string): { integrity: string; ids: Set<string> } {
  const raw = new Database(join(dir, 'state.db'), { readonly: true });
  try {
    const integrity = String(raw.pragma('integrity_check', { simple: true }));
    const ids = new Set((raw.prepare('SELECT id FROM devices').all() as Array<{ id: string }>).map((r) => r.id));
    return { integrity, ids };
  } finally {
    raw.close();
  }
}

t.test('killed inside a transaction: the database is whole and holds none of it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runChild(program(dir, `
    for (let i = 0; i < 100; i++) db.saveDevice(dev(i));
    db.commitBatch();
    say('COMMITTED 100');
    db.transaction(() => {
      for (let i = 100; i < 5100; i++) db.saveDevice(dev(i));
      say('IN-TRANSACTION');
      // hold the transaction open until the parent's SIGKILL
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);
    });
    say('NOT REACHED');
  `), (line) => line === 'IN-TRANSACTION');
  t.same(r.lines, ['COMMITTED 100', 'IN-TRANSACTION'], `the child reached the marker (${r.stderr.slice(-500)})`);
  t.equal(r.signal, 'SIGKILL', 'killed there');
  const { integrity, ids } = inspect(dir);
  t.equal(integrity, 'ok', 'PRAGMA integrity_check: ok');
  t.equal(ids.size, 100, 'the 100 committed rows are there');
  t.notOk([...ids].some((id) => Number(id.slice(4)) >= 100), 'none of the killed transaction');
});

t.test('killed at a random moment of a stream of commits: every acknowledged batch whole, none in part', async (t) => {
  for (let round = 0; round < 5; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'segwatch-crash-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const killAfter = 3 + Math.floor(Math.random() * 40);
    const r = await runChild(program(dir, `
      for (let b = 0; b < 100000; b++) {
        for (let i = 0; i < 200; i++) db.saveDevice(dev(b * 200 + i));
        db.commitBatch();
        say('ACK ' + b);
      }
    `), (line) => line === `ACK ${killAfter}`);
    const acked = r.lines.filter((l) => l.startsWith('ACK ')).map((l) => Number(l.slice(4)));
    t.equal(r.signal, 'SIGKILL', `round ${round}: killed after batch ${killAfter} (${r.stderr.slice(-300)})`);
    const { integrity, ids } = inspect(dir);
    t.equal(integrity, 'ok', `round ${round}: integrity ok`);
    const last = Math.max(...acked);
    const missing = [];
    for (let b = 0; b <= last; b++) for (let i = 0; i < 200; i++) if (!ids.has(`dev-${b * 200 + i}`)) missing.push(b * 200 + i);
    t.same(missing.slice(0, 5), [], `round ${round}: all ${last + 1} acknowledged batches are there`);
    t.equal(ids.size % 200, 0, `round ${round}: ${ids.size} rows, whole batches only`);
  }
});
