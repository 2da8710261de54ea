import t from 'tap';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiTokenFromEnv, isLoopback, parseListen, startApi } from '../../../collector/api/server.js';
import type { Log } from '../../../collector/types.js';
import { demoFacade } from './fixtures/demo-facade.js';

const TOKEN = 'server-test-token-fedcba9876543210';
const demo = await demoFacade();

function recordingLog(): Log & { lines: { level: string; msg?: string }[] } {
  const lines: { level: string; msg?: string }[] = [];
  const at = (level: string) => (_o: unknown, msg?: string) => { lines.push({ level, msg }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers, signal: AbortSignal.timeout(5000) });
}

async function ipv6LoopbackAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    const timer = setTimeout(() => { s.close(); resolve(false); }, 2000);
    s.once('error', () => { clearTimeout(timer); resolve(false); });
    s.listen(0, '::1', () => { clearTimeout(timer); s.close(() => resolve(true)); });
  });
}

t.test('refuses to start without a token, or with a weak one', async (t) => {
  for (const token of [undefined, '']) {
    await t.rejects(startApi({ listen: '127.0.0.1:0', token, facade: demo.facade }),
      /SEGWATCH_API_TOKEN or SEGWATCH_API_TOKEN_FILE/, `token ${JSON.stringify(token)}`);
  }
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: 'x'.repeat(15), facade: demo.facade }), /at least 16/);
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: 'abcdefgh ijklmnopq', facade: demo.facade }), /whitespace/);
  await t.rejects(startApi({ listen: '127.0.0.1', token: TOKEN, facade: demo.facade }), /host:port/);
});

t.test('listens on 127.0.0.1, serves real HTTP, closes', async (t) => {
  const log = recordingLog();
  const api = await startApi({ listen: '127.0.0.1:0', token: TOKEN, facade: demo.facade, log });
  let closed = false;
  t.teardown(() => (closed ? undefined : api.close()));
  t.match(api.address, /^127\.0\.0\.1:\d+$/);
  t.not(api.address, '127.0.0.1:0', 'a port was picked');
  t.notOk(log.lines.some((l) => l.level === 'warn'), 'no warning for loopback');
  const base = `http://${api.address}`;

  const health = await get(`${base}/health`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });

  const denied = await get(`${base}/api/v1/stats`);
  t.equal(denied.status, 401);
  t.equal(denied.headers.get('www-authenticate'), 'Bearer realm="segwatch"');
  await denied.arrayBuffer();

  const stats = await get(`${base}/api/v1/stats`, { authorization: `Bearer ${TOKEN}` });
  t.equal(stats.status, 200);
  t.equal((await stats.json()).packets, demo.counters.packets);

  const metrics = await get(`${base}/metrics`, { authorization: `Bearer ${TOKEN}` });
  t.equal(metrics.status, 200);
  t.match(await metrics.text(), new RegExp(`^segwatch_packets_total ${demo.counters.packets}$`, 'm'));

  await api.close();
  closed = true;
  await api.close(); // a second close is harmless
  await t.rejects(get(`${base}/health`), 'nothing listens after close');
});

const v6 = await ipv6LoopbackAvailable();
t.test('listens on [::1] when the host has IPv6 loopback', { skip: v6 ? false : 'no IPv6 loopback here' }, async (t) => {
  const api = await startApi({ listen: '[::1]:0', token: TOKEN, facade: demo.facade });
  t.teardown(() => api.close());
  t.match(api.address, /^\[::1\]:\d+$/);
  const res = await get(`http://${api.address}/api/v1/devices`, { authorization: `Bearer ${TOKEN}` });
  t.equal(res.status, 200);
  t.equal((await res.json()).count, demo.facade.devices().length);
});

t.test('a port already taken is a clear error', async (t) => {
  const first = await startApi({ listen: '127.0.0.1:0', token: TOKEN, facade: demo.facade });
  t.teardown(() => first.close());
  await t.rejects(startApi({ listen: first.address, token: TOKEN, facade: demo.facade }), /cannot listen on 127\.0\.0\.1:\d+/);
});

t.test('parseListen', async (t) => {
  t.same(parseListen('127.0.0.1:9808'), { host: '127.0.0.1', port: 9808 });
  t.same(parseListen('[::1]:9808'), { host: '::1', port: 9808 });
  t.same(parseListen('[fd00:50::1]:0'), { host: 'fd00:50::1', port: 0 });
  t.same(parseListen('localhost:9808'), { host: 'localhost', port: 9808 });
  t.same(parseListen('0.0.0.0:65535'), { host: '0.0.0.0', port: 65535 });
  for (const bad of ['9808', ':9808', '::1:9808', '[::1]9808', '[::1', '[nothost]:1', '127.0.0.1:65536',
    '127.0.0.1:-1', '127.0.0.1:', '127.0.0.1:80x', '']) {
    t.throws(() => parseListen(bad), JSON.stringify(bad));
  }
});

t.test('isLoopback', async (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) t.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.50.2', 'fd00::1', 'example.org', '::ffff:10.0.0.1']) t.notOk(isLoopback(h), h);
});

t.test('apiTokenFromEnv', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-api-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, TOKEN + '\n');
  t.equal(apiTokenFromEnv({}), undefined);
  t.equal(apiTokenFromEnv({ SEGWATCH_API_TOKEN: 'a'.repeat(20) }), 'a'.repeat(20));
  t.equal(apiTokenFromEnv({ SEGWATCH_API_TOKEN_FILE: file }), TOKEN, 'trailing newline dropped');
  t.throws(() => apiTokenFromEnv({ SEGWATCH_API_TOKEN_FILE: join(dir, 'missing') }));
});
