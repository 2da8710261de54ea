// The API over real sockets: `segwatch run` (dist) on a FIFO that carries the demo capture and
// stays open, so anomalies stay open in its state database and flows in its table; every route
// with its guards over HTTP; the OpenAPI document checked and every answer validated against
// it; the docs page rendered by headless Chromium; a real Prometheus scraping /metrics with the
// bearer token, its series read back through Prometheus's query API; TLS; 429 under a burst.

import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import SwaggerParser from '@apidevtools/swagger-parser';
import { cliPath, repoRoot, skipUnless } from '../helpers/paths.js';
import { Receiver } from '../helpers/webhook-receiver.js';
import { startApi, type RunningApi } from '../../collector/api/server.js';
import type { CollectorFacade } from '../../collector/api/facade.js';

const TOKEN = 'e2e-read-token-' + Math.random().toString(36).slice(2) + 'abcdef';
const ADMIN = 'e2e-admin-token-' + Math.random().toString(36).slice(2) + 'abcdef';
const read = { authorization: `Bearer ${TOKEN}` };
const admin = { authorization: `Bearer ${ADMIN}` };

const dir = mkdtempSync(join(tmpdir(), 'segwatch-api-e2e-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const policy = join(dir, 'site.yaml');
copyFileSync(join(repoRoot, 'test/fixtures/demo/policy.yaml'), policy);
const fifo = join(dir, 'capture.pcap');
spawnSync('mkfifo', [fifo]);
writeFileSync(join(dir, 'token'), TOKEN + '\n', { mode: 0o600 });
writeFileSync(join(dir, 'admin-token'), ADMIN + '\n', { mode: 0o600 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function kill(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** An API facade with no traffic: for the in-process servers beside the collector. */
function quietFacade(packets: number): CollectorFacade {
  return {
    devices: () => [], recentAnomalies: () => [],
    counters: () => ({ packets, bytes: 0, decodeErrors: 0, flows: 0, flowsActive: 0, anomalies: 0, anomaliesByKind: {}, drops: 0, spoolBytes: 0, startedAt: 0, source: 's', policy: 'p' }),
  };
}

// ---- the collector ---------------------------------------------------------------

// three alert channels of the real dispatcher: a receiver that takes every alert, one that
// answers 503 (retried), one that answers 400 (refused for good)
const hook = new Receiver();
await hook.start();
const down = new Receiver();
down.status = 503;
await down.start();
const gone = new Receiver();
gone.status = 400;
await gone.start();
t.teardown(() => Promise.all([hook.stop(), down.stop(), gone.stop()]));
writeFileSync(join(dir, 'segwatch.yaml'), `alerts:
  - { name: hook, type: webhook, url: "http://127.0.0.1:${hook.port}/segwatch", min_severity: info, rate_limit: 10000 }
  - { name: down, type: webhook, url: "http://127.0.0.1:${down.port}/segwatch", min_severity: info, rate_limit: 10000 }
  - { name: gone, type: webhook, url: "http://127.0.0.1:${gone.port}/segwatch", min_severity: info, rate_limit: 10000 }
`);

const child = spawn(process.execPath, [cliPath, 'run', '--config', join(dir, 'segwatch.yaml'), '--policy', policy, '--capture', fifo, '--listen', '127.0.0.1:0',
  '--state-dir', join(dir, 'state'), '--log-level', 'info', '--api-rate-limit', '100000', '--api-max-body-bytes', '65536'], {
  env: { ...process.env, SEGWATCH_API_TOKEN: '', SEGWATCH_API_TOKEN_FILE: join(dir, 'token'), SEGWATCH_API_ADMIN_TOKEN_FILE: join(dir, 'admin-token') },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
child.stderr!.on('data', (d) => { stderr += d; });
let writer: FileHandle | null = null;
t.teardown(async () => {
  await kill(child);
  await writer?.close().catch(() => undefined);
});
// the collector opens the FIFO for reading; this open completes then (bounded)
writer = await within(open(fifo, 'w'), 20_000, 'the collector opening its capture');
await writer.write(readFileSync(join(repoRoot, 'test/fixtures/demo/demo.pcap')));
let deadline = Date.now() + 20_000;
while (!/"address":"127\.0\.0\.1:\d+"[^\n]*API listening/.test(stderr) && Date.now() < deadline) await sleep(100);
const address = /"address":"(127\.0\.0\.1:\d+)"[^\n]*API listening/.exec(stderr)?.[1];
if (!address) throw new Error(`the collector did not say where it listens: ${stderr.slice(-2000)}`);
const base = `http://${address}`;

async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const body = typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body);
  const res = await fetch(base + path, { ...init, body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

// the whole capture read: its anomalies are in the state database, open
deadline = Date.now() + 20_000;
let openCount = 0;
while (Date.now() < deadline) {
  const s = await call('/api/v1/stats', { headers: read });
  const a = await call('/api/v1/anomalies?state=open&limit=1000', { headers: read });
  openCount = a.json?.count ?? 0;
  if (s.json?.packets === 2272 && openCount > 0) break;
  await sleep(200);
}
// (asserted in the first subtest: an assertion before the last top-level await ends tap's root early)

// ---- the routes --------------------------------------------------------------------

const doc = await call('/api/v1/openapi.json');
const ajv = new Ajv({ strict: false, allErrors: true });
/** the answer matches what the document says this route answers with this status */
function conforms(tt: { ok(v: unknown, m: string): unknown }, method: string, path: string, status: number, body: unknown): void {
  const op = doc.json.paths[path]?.[method];
  const resp = op?.responses?.[String(status)] ?? op?.responses?.[`${String(status)[0]}XX`] ?? op?.responses?.default;
  const schema = resp?.content?.['application/json']?.schema;
  tt.ok(schema, `${method} ${path} ${status} is documented`);
  if (!schema) return;
  const ok = ajv.validate(schema, body);
  tt.ok(ok, `${method} ${path} ${status} matches the document${ok ? '' : ': ' + ajv.errorsText()}`);
}

t.test('every route over the socket, each answer as the OpenAPI document says', async (t) => {
  t.ok(openCount > 20, `the collector holds the demo's anomalies open (${openCount})`);
  const list = await call('/api/v1/anomalies?limit=1000', { headers: read });
  t.equal(list.status, 200);
  conforms(t, 'get', '/api/v1/anomalies', 200, list.json);
  const one = list.json.anomalies[0];
  const page = await call('/api/v1/anomalies?limit=5&min_severity=high&state=open', { headers: read });
  t.equal(page.json.count, 5);
  t.type(page.json.next, 'string');
  const page2 = await call(`/api/v1/anomalies?limit=5&min_severity=high&state=open&cursor=${page.json.next}`, { headers: read });
  t.equal(page2.status, 200);
  t.notOk(page2.json.anomalies.some((a: { id: string }) => page.json.anomalies.some((b: { id: string }) => b.id === a.id)), 'the next page goes on');
  const byId = await call(`/api/v1/anomalies/${encodeURIComponent(one.id)}`, { headers: read });
  t.same(byId.json, one);
  conforms(t, 'get', '/api/v1/anomalies/{id}', 200, byId.json);

  const devices = await call('/api/v1/devices', { headers: read });
  conforms(t, 'get', '/api/v1/devices', 200, devices.json);
  const dev = devices.json.devices.find((d: { name: string }) => d.name === one.device);
  t.ok(dev, 'the anomaly\'s device is in the inventory');
  const detail = await call(`/api/v1/devices/${encodeURIComponent(dev.mac || dev.id)}`, { headers: read });
  t.equal(detail.status, 200);
  conforms(t, 'get', '/api/v1/devices/{id}', 200, detail.json);
  t.ok(detail.json.openAnomalies.some((a: { id: string }) => a.id === one.id), 'its open anomalies include it');

  const flows = await call('/api/v1/flows?limit=50&proto=tcp', { headers: read });
  t.equal(flows.status, 200);
  conforms(t, 'get', '/api/v1/flows', 200, flows.json);
  t.ok(flows.json.count > 0 && flows.json.flows.every((f: { proto: string }) => f.proto === 'tcp'), 'live tcp flows');

  const pol = await call('/api/v1/policy', { headers: read });
  conforms(t, 'get', '/api/v1/policy', 200, pol.json);
  t.equal(pol.json.file, policy);
  t.equal(pol.json.sha256, createHash('sha256').update(readFileSync(policy)).digest('hex'));

  const valid = await call('/api/v1/policy/validate', { method: 'POST', headers: { ...read, 'content-type': 'application/yaml' }, body: readFileSync(policy) });
  t.equal(valid.json.valid, true);
  conforms(t, 'post', '/api/v1/policy/validate', 200, valid.json);
  const invalid = await call('/api/v1/policy/validate', { method: 'POST', headers: { ...read, 'content-type': 'application/yaml' }, body: 'version: 2\n' });
  t.equal(invalid.json.valid, false);
  t.ok(invalid.json.errors.every((e: { line: number; col: number }) => e.line >= 1 && e.col >= 1), 'errors with line and column');
  conforms(t, 'post', '/api/v1/policy/validate', 200, invalid.json);

  const reload = await call('/api/v1/policy/reload', { method: 'POST', headers: admin });
  t.equal(reload.status, 200);
  conforms(t, 'post', '/api/v1/policy/reload', 200, reload.json);
  writeFileSync(policy, readFileSync(policy, 'utf8') + '\nbogus_key: 1\n');
  const refused = await call('/api/v1/policy/reload', { method: 'POST', headers: admin });
  t.equal(refused.status, 422);
  conforms(t, 'post', '/api/v1/policy/reload', 422, refused.json);
  t.equal(refused.json.policy.sha256, pol.json.sha256, 'the last good policy stays');
  copyFileSync(join(repoRoot, 'test/fixtures/demo/policy.yaml'), policy);

  const stats = await call('/api/v1/stats', { headers: read });
  conforms(t, 'get', '/api/v1/stats', 200, stats.json);
  const health = await call('/health');
  conforms(t, 'get', '/health', 200, health.json);
  const metrics = await call('/metrics', { headers: read });
  t.equal(metrics.status, 200);
  t.match(metrics.text, /^segwatch_anomalies_open_by_kind\{kind="policy\.violation",severity="high"\} \d+$/m);
});

t.test('guards and bad input over the socket: 401, 403, 400, 404, 413, 415', async (t) => {
  for (const [method, path] of [['GET', '/api/v1/anomalies'], ['GET', '/api/v1/flows'], ['GET', '/api/v1/policy'], ['GET', '/metrics'], ['POST', '/api/v1/policy/reload'], ['POST', '/api/v1/policy/validate']]) {
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }, { authorization: `Bearer ${TOKEN}0` }] as Record<string, string>[]) {
      const r = await call(path, { method, headers });
      t.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
      conforms(t, method.toLowerCase(), path, 401, r.json);
    }
  }
  const forbidden = await call('/api/v1/policy/reload', { method: 'POST', headers: read });
  t.equal(forbidden.status, 403, 'the read token on an admin route');
  t.match(forbidden.headers.get('www-authenticate') ?? '', /insufficient_scope/);
  for (const q of ['limit=0', 'from=soon', 'severity=urgent', 'state=maybe', 'cursor=xyz', 'nope=1']) {
    const r = await call(`/api/v1/anomalies?${q}`, { headers: read });
    t.equal(r.status, 400, q);
    t.ok(r.json.message.length > 10, `${q}: ${r.json.message}`);
  }
  t.equal((await call('/api/v1/flows?ip=1.2.3', { headers: read })).status, 400);
  t.equal((await call('/api/v1/devices/nobody', { headers: read })).status, 404);
  const big = await call('/api/v1/policy/validate', { method: 'POST', headers: { ...read, 'content-type': 'application/yaml' }, body: '#'.repeat(65537) });
  t.equal(big.status, 413, 'api_max_body_bytes is the limit');
  const oct = await call('/api/v1/policy/validate', { method: 'POST', headers: { ...read, 'content-type': 'application/octet-stream' }, body: 'x' });
  t.equal(oct.status, 415);
});

t.test('the OpenAPI document validates against the OpenAPI 3.0 specification (swagger-parser)', async (t) => {
  const served = structuredClone(doc.json) as unknown as Parameters<typeof SwaggerParser.validate>[0];
  const checked = await SwaggerParser.validate(served).then(() => 'valid', (e: Error) => e.message);
  t.equal(checked, 'valid', 'SwaggerParser.validate: the schema of OpenAPI 3.0 and the references');
  // and a broken copy is refused, so the check above can fail
  const broken = structuredClone(doc.json) as { paths: Record<string, Record<string, { responses?: unknown }>> };
  delete broken.paths['/api/v1/stats'].get.responses;
  const refused = await SwaggerParser.validate(broken as unknown as Parameters<typeof SwaggerParser.validate>[0]).then(() => 'valid', (e: Error) => e.message);
  t.not(refused, 'valid', `a document without a route's responses is refused (${refused.split('\n')[0].slice(0, 100)})`);
});

t.test('the OpenAPI document: OpenAPI 3.0, every route, every schema compiles, $refs resolve', async (t) => {
  t.equal(doc.status, 200, 'open without a token');
  const d = doc.json;
  t.match(d.openapi, /^3\.0\.\d+$/);
  t.type(d.info.title, 'string');
  t.type(d.info.version, 'string');
  const ops: string[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(d.paths)) {
    t.ok(path.startsWith('/'), path);
    for (const [method, op] of Object.entries<any>(item)) {
      t.ok(['get', 'post', 'put', 'delete', 'patch', 'head', 'options'].includes(method), `${method} is an HTTP method`);
      ops.push(`${method.toUpperCase()} ${path}`);
      t.ok(Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      for (const [code, r] of Object.entries<any>(op.responses)) {
        t.match(code, /^([1-5]\d\d|[1-5]XX|default)$/, `${method} ${path}: response key ${code}`);
        t.type(r.description, 'string', `${method} ${path} ${code} has a description`);
      }
      for (const p of op.parameters ?? []) {
        t.ok(['query', 'path', 'header', 'cookie'].includes(p.in), `${p.name} in ${p.in}`);
        if (p.in === 'path') t.equal(p.required, true, `path parameter ${p.name} is required`);
        ajv.compile(p.schema);
      }
    }
  }
  t.same(ops.sort(), [
    'GET /api/v1/anomalies', 'GET /api/v1/anomalies/{id}', 'GET /api/v1/devices', 'GET /api/v1/devices/{id}', 'GET /api/v1/flows',
    'GET /api/v1/policy', 'GET /api/v1/proposals', 'GET /api/v1/stats', 'GET /health', 'GET /metrics', 'POST /api/v1/anomalies/{id}/ack', 'POST /api/v1/policy/reload', 'POST /api/v1/policy/validate', 'POST /api/v1/proposals/{device}/accept',
  ]);
  const refs = [...JSON.stringify(d).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]);
  for (const r of refs) {
    const target = r.replace(/^#\//, '').split('/').reduce<any>((o, k) => o?.[k], d);
    t.ok(r.startsWith('#/') && target !== undefined, `$ref ${r} resolves`);
  }
});

t.test('rate limit over the socket: 429 under a burst', async (t) => {
  const facade = quietFacade(0);
  const api = await startApi({ listen: '127.0.0.1:0', token: TOKEN, facade, rateLimit: 10 });
  t.teardown(() => api.close());
  const codes = await Promise.all(Array.from({ length: 25 }, () => fetch(`${api.url}/api/v1/stats`, { headers: read, signal: AbortSignal.timeout(5000) }).then((r) => r.status)));
  t.equal(codes.filter((c) => c === 200).length, 10, 'the first 10 answered');
  t.equal(codes.filter((c) => c === 429).length, 15, 'the rest refused with 429');
});

// ---- TLS ----------------------------------------------------------------------------

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
t.test('TLS: api_tls_cert and api_tls_key serve HTTPS', { skip: skipUnless(hasOpenssl, 'needs openssl') }, async (t) => {
  const tls = join(dir, 'tls');
  mkdirSync(tls);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem')], { timeout: 30_000 });
  t.equal(r.status, 0, 'a certificate');
  const facade = quietFacade(5);
  const api: RunningApi = await startApi({ listen: '127.0.0.1:0', token: TOKEN, facade, tlsCert: join(tls, 'cert.pem'), tlsKey: join(tls, 'key.pem') });
  t.teardown(() => api.close());
  t.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = readFileSync(join(tls, 'cert.pem'));
  const res = await within(new Promise<{ status: number; body: string; hsts: string | undefined }>((resolve, reject) => {
    const req = httpsRequest(`${api.url}/api/v1/stats`, { ca, headers: read }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, hsts: res.headers['strict-transport-security'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  }), 10_000, 'https request');
  t.equal(res.status, 200);
  t.equal(JSON.parse(res.body).packets, 5);
  t.match(res.hsts ?? '', /max-age=/, 'HSTS over HTTPS');
  const plain = await fetch(`http://${api.address}/api/v1/stats`, { headers: read, signal: AbortSignal.timeout(5000) }).then(() => 'answered', () => 'refused');
  t.equal(plain, 'refused', 'no plain HTTP on the TLS port');
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: TOKEN, facade, tlsCert: join(tls, 'cert.pem') }), /both a certificate and a key/);
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: TOKEN, facade, tlsCert: join(tls, 'cert.pem'), tlsKey: join(tls, 'nope.pem') }), /cannot read/);
});

// ---- Chromium -------------------------------------------------------------------------

const hasChromium = existsSync('/usr/bin/chromium');
t.test('the docs page renders in headless Chromium and lists every route', { skip: skipUnless(hasChromium, 'needs chromium (Debian package)') }, async (t) => {
  const profile = mkdtempSync(join(tmpdir(), 'segwatch-chromium-'));
  t.teardown(() => rmSync(profile, { recursive: true, force: true }));
  const browser = spawn('/usr/bin/chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`,
    '--virtual-time-budget=20000', '--dump-dom', `${base}/api/docs`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => kill(browser));
  let dom = '';
  let err = '';
  browser.stdout!.on('data', (d) => { dom += d; });
  browser.stderr!.on('data', (d) => { err += d; });
  await within(new Promise((resolve) => browser.once('exit', resolve)), 90_000, 'chromium').catch((e) => t.fail(String(e)));
  t.match(dom, /class="swagger-ui/, `Swagger UI rendered (${err.split('\n').slice(-3).join(' | ')})`);
  const rendered = [...dom.matchAll(/class="opblock-summary-path"[^>]*data-path="([^"]+)"/g)].map((m) => m[1]);
  const methods = [...dom.matchAll(/class="opblock-summary-method">([A-Z]+)</g)].map((m) => m[1]);
  t.same([...new Set(rendered)].sort(), Object.keys(doc.json.paths).sort(), 'every path of the document is on the page');
  t.equal(methods.length, 14, 'one block per operation');
  t.match(dom, /segwatch API/, 'the title');
});

// ---- Prometheus ----------------------------------------------------------------------

const hasPrometheus = existsSync('/usr/bin/prometheus');
t.test('a real Prometheus scrapes /metrics with the bearer token; the series read back', { skip: skipUnless(hasPrometheus, 'needs prometheus (Debian package)') }, async (t) => {
  // a second target: an API whose facade reports alert channels, as the dispatcher will
  const facade: CollectorFacade = {
    ...quietFacade(1),
    alertStats: () => [
      { channel: 'soc', type: 'syslog', delivered: 12, failed: 3, retries: 4, outbox: 2, dropped: 1 },
      { channel: 'chat', type: 'webhook', delivered: 7, failed: 0, retries: 0, outbox: 0, dropped: 0 },
    ],
  };
  const alertsApi = await startApi({ listen: '127.0.0.1:0', token: TOKEN, facade });
  t.teardown(() => alertsApi.close());
  const pdir = mkdtempSync(join(tmpdir(), 'segwatch-prometheus-'));
  t.teardown(() => rmSync(pdir, { recursive: true, force: true }));
  writeFileSync(join(pdir, 'token'), TOKEN, { mode: 0o600 });
  writeFileSync(join(pdir, 'wrong'), 'a-wrong-token-0123456789', { mode: 0o600 });
  const job = (name: string, target: string, cred: string) => `
  - job_name: ${name}
    scrape_interval: 1s
    scrape_timeout: 1s
    metrics_path: /metrics
    authorization: { type: Bearer, credentials_file: ${join(pdir, cred)} }
    static_configs: [ { targets: ["${target}"] } ]`;
  writeFileSync(join(pdir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:${job('segwatch', address, 'token')}${job('alerts', alertsApi.address, 'token')}${job('wrongtoken', address, 'wrong')}\n`);
  const port = await freePort();
  const prom = spawn('/usr/bin/prometheus', [`--config.file=${join(pdir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(pdir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let plog = '';
  prom.stderr!.on('data', (d) => { plog += d; });
  t.teardown(() => kill(prom));

  const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(3000) });
      const j = await r.json() as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      return j.status === 'success' ? j.data.result : [];
    } catch {
      return [];
    }
  };
  // wait (bounded) until each job has been scraped
  const until = Date.now() + 60_000;
  let up: Record<string, string> = {};
  while (Date.now() < until) {
    up = Object.fromEntries((await query('up')).map((r) => [r.metric.job, r.value[1]]));
    if (up.segwatch === '1' && up.alerts === '1' && up.wrongtoken !== undefined && (await query('segwatch_anomalies_open_by_kind')).length > 0
      && (await query('segwatch_alert_outbox')).length > 0) break;
    await sleep(500);
  }
  t.same(up, { segwatch: '1', alerts: '1', wrongtoken: '0' }, `scraped with the token; a wrong one is refused (${plog.slice(-500)})`);
  const stats = (await call('/api/v1/stats', { headers: read })).json;
  const packets = await query('segwatch_packets_total{job="segwatch"}');
  t.equal(Number(packets[0]?.value[1]), stats.packets, 'packets read back through Prometheus');
  const open = await query('sum(segwatch_anomalies_open_by_kind{job="segwatch"})');
  const openApi = (await call('/api/v1/anomalies?state=open&limit=1000', { headers: read })).json.count;
  t.equal(Number(open[0]?.value[1]), openApi, 'open anomalies by kind and severity add up to the API\'s open ones');
  const crossing = await query('segwatch_anomalies_open_by_kind{job="segwatch",kind="segment.crossing"}');
  t.equal(crossing[0]?.metric.severity, 'critical', 'labelled by severity');
  const opened = await query('sum(segwatch_anomalies_opened_total{job="segwatch"})');
  t.equal(Number(opened[0]?.value[1]), openApi, 'every anomaly of this run was opened by it');
  // the real dispatcher of `segwatch run`: what the receiver got is what Prometheus reads
  const settle = Date.now() + 30_000;
  while (hook.all.length < openApi && Date.now() < settle) await sleep(200);
  t.equal(hook.all.length, openApi, 'the webhook receiver got every opened anomaly');
  let real: string | undefined;
  while (Date.now() < settle) {
    real = (await query('segwatch_alert_deliveries_total{job="segwatch",channel="hook",type="webhook"}'))[0]?.value[1];
    if (Number(real) === hook.all.length) break;
    await sleep(500);
  }
  t.equal(Number(real), hook.all.length, 'deliveries of the real channel, read back through Prometheus');
  const retried = await query('segwatch_alert_retries_total{job="segwatch",channel="down"}');
  t.ok(Number(retried[0]?.value[1]) >= 1, `the channel answering 503 counts retries (${retried[0]?.value[1]})`);
  t.ok(down.refused >= 1, 'its receiver refused them');
  let failed: string | undefined;
  while (Date.now() < settle) {
    failed = (await query('segwatch_alert_failures_total{job="segwatch",channel="gone"}'))[0]?.value[1];
    if (Number(failed) === openApi) break;
    await sleep(500);
  }
  t.equal(Number(failed), openApi, 'the channel answering 400 gave every alert up: failures');
  t.equal(gone.refused, openApi, 'each tried once');
  const waiting = await query('segwatch_alert_outbox{job="segwatch",channel="down"}');
  t.equal(Number(waiting[0]?.value[1]), openApi, 'and every alert waits in its outbox');
  const hookOutbox = await query('segwatch_alert_outbox{job="segwatch",channel="hook"}');
  t.equal(hookOutbox[0]?.value[1], '0', 'nothing waits for the working channel');

  const delivered = await query('segwatch_alert_deliveries_total{job="alerts"}');
  t.same(Object.fromEntries(delivered.map((r) => [`${r.metric.channel}/${r.metric.type}`, r.value[1]])), { 'soc/syslog': '12', 'chat/webhook': '7' }, 'alert deliveries by channel');
  for (const [m, v] of [['segwatch_alert_failures_total', '3'], ['segwatch_alert_retries_total', '4'], ['segwatch_alert_outbox', '2'], ['segwatch_alert_dropped_total', '1']]) {
    const r = await query(`${m}{job="alerts",channel="soc"}`);
    t.equal(r[0]?.value[1], v, m);
  }
});
