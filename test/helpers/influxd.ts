// Test harness: a real influxd (Debian's influxdb, 1.x) on free loopback ports,
// with its own temp data dir and config; stop()/start() keep data and ports.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface InfluxdOptions {
  /** enable HTTP auth (then create an admin user first through query()). */
  auth?: boolean;
  /** ms to wait for /ping after a start (default 30000). */
  startTimeoutMs?: number;
  binary?: string;
}

export interface QueryResult {
  results: Array<{
    statement_id?: number;
    error?: string;
    series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>;
  }>;
  error?: string;
}

export interface Influxd {
  /** http://127.0.0.1:PORT (no database). */
  url: string;
  port: number;
  dir: string;
  /** InfluxQL over /query (POST). Times come as RFC 3339 strings (exact to the ns) unless `epoch` is set. */
  query(q: string, opts?: { db?: string; auth?: string; epoch?: 'ns' | 'ms' }): Promise<QueryResult>;
  /** stops the server; SIGKILL when `hard` (acknowledged writes survive: WAL fsync). */
  stop(opts?: { hard?: boolean }): Promise<void>;
  /** starts it again on the same port and data dir. */
  start(): Promise<void>;
  running(): boolean;
  /** stop and remove the temp dir. */
  destroy(): Promise<void>;
}

export const INFLUXD = '/usr/bin/influxd';

export function influxdAvailable(binary = INFLUXD): boolean {
  try {
    fs.accessSync(binary, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function config(dir: string, httpPort: number, rpcPort: number, auth: boolean): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${dir}/meta"
  logging-enabled = false

[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  index-version = "inmem"
  cache-snapshot-write-cold-duration = "10m"

[coordinator]
  log-queries-after = "0s"

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = ${auth}
  log-enabled = false
  write-tracing = false
  pprof-enabled = false
  flux-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[subscriber]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false

[continuous_queries]
  enabled = false
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(url + '/ping', { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}

/** Starts influxd and waits until it answers /ping. Retries on fresh ports if a port was taken meanwhile. */
export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd> {
  const binary = opts.binary ?? INFLUXD;
  const startTimeout = opts.startTimeoutMs ?? 30000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segwatch-influxd-'));
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let stderr = '';
  let url = '';
  const cfg = path.join(dir, 'influxdb.conf');

  const launch = async (): Promise<boolean> => {
    stderr = '';
    const child = spawn(binary, ['-config', cfg], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, INFLUXDB_DATA_QUERY_LOG_ENABLED: 'false' },
    });
    proc = child;
    let dead = false;
    exited = new Promise((resolve) => child.once('exit', () => { dead = true; resolve(); }));
    child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 20000) stderr += d.toString(); });
    const until = Date.now() + startTimeout;
    while (Date.now() < until) {
      if (dead) return false;
      if (await ping(url)) return true;
      await sleep(100);
    }
    child.kill('SIGKILL');
    await exited;
    throw new Error(`influxd did not answer /ping within ${startTimeout} ms: ${stderr.slice(-2000)}`);
  };

  let started = false;
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    port = await freePort();
    const rpc = await freePort();
    fs.writeFileSync(cfg, config(dir, port, rpc, !!opts.auth));
    url = `http://127.0.0.1:${port}`;
    started = await launch();
  }
  if (!started) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`influxd exited at start: ${stderr.slice(-2000)}`);
  }

  const stop = async (o: { hard?: boolean } = {}): Promise<void> => {
    const child = proc as ChildProcess | null;
    if (!child || child.exitCode !== null || child.signalCode !== null) { proc = null; return; }
    child.kill(o.hard ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
    proc = null;
  };

  const self: Influxd = {
    get url() { return url; },
    get port() { return port; },
    dir,
    async query(q, o = {}) {
      const body = new URLSearchParams({ q });
      if (o.epoch) body.set('epoch', o.epoch);
      if (o.db) body.set('db', o.db);
      const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
      if (o.auth) headers.Authorization = 'Basic ' + Buffer.from(o.auth).toString('base64');
      const res = await fetch(url + '/query', { method: 'POST', body, headers, signal: AbortSignal.timeout(10000) });
      return (await res.json()) as QueryResult;
    },
    stop,
    async start() {
      if (proc) return;
      // The port may linger in TIME_WAIT-free but briefly busy state; a few tries.
      for (let attempt = 0; attempt < 5; attempt++) {
        if (await launch()) return;
        await sleep(300);
      }
      throw new Error(`influxd did not restart on port ${port}: ${stderr.slice(-2000)}`);
    },
    running() {
      const child = proc as ChildProcess | null;
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async destroy() {
      await stop({ hard: true });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** First column values of a single-series answer, or [] (for count queries and tag listings). */
export function rows(r: QueryResult): unknown[][] {
  const s = r.results?.[0]?.series?.[0];
  return s ? s.values : [];
}

/** Column name -> value objects of the first series. */
export function records(r: QueryResult): Array<Record<string, unknown>> {
  const s = r.results?.[0]?.series?.[0];
  if (!s) return [];
  return s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]])));
}
