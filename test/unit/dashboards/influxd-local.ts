// A throwaway influxd (InfluxDB 1.x) on loopback ports for the dashboard query tests, until the
// shared test/helpers/influxd.ts exists; temp dir removed on stop.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalInfluxd {
  url: string;
  /** Runs InfluxQL; resolves the parsed JSON (errors are in results[i].error, not thrown). */
  query(q: string, db?: string): Promise<InfluxResponse>;
  write(db: string, lines: string): Promise<void>;
  stop(): Promise<void>;
}

export interface InfluxResponse {
  error?: string;
  results?: { statement_id: number; error?: string; series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[] }[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startLocalInfluxd(timeoutMs = 20_000): Promise<LocalInfluxd> {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-influxd-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(conf, [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]', `  dir = "${join(dir, 'meta')}"`,
    '[data]', `  dir = "${join(dir, 'data')}"`, `  wal-dir = "${join(dir, 'wal')}"`, '  query-log-enabled = false',
    '[http]', `  bind-address = "127.0.0.1:${httpPort}"`, '  log-enabled = false',
    '[monitor]', '  store-enabled = false',
    '[continuous_queries]', '  enabled = false',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn('influxd', ['run', '-config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { if (stderr.length < 20_000) stderr += b.toString(); });
  const url = `http://127.0.0.1:${httpPort}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
      if (r.status === 204) break;
    } catch { /* not listening yet */ }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`influxd did not start within ${timeoutMs} ms: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop,
    async query(q, db) {
      const body = new URLSearchParams({ q, epoch: 'ms' });
      if (db !== undefined) body.set('db', db);
      const r = await fetch(`${url}/query`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
      return (await r.json()) as InfluxResponse;
    },
    async write(db, lines) {
      const r = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=ms`, {
        method: 'POST', body: lines, signal: AbortSignal.timeout(10_000),
      });
      if (r.status !== 204) throw new Error(`write failed: ${r.status} ${await r.text()}`);
    },
  };
}
