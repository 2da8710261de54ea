import t from 'tap';
import { register as globalRegister } from 'prom-client';
import { buildApp } from '../../../collector/api/app.js';
import type { CollectorFacade } from '../../../collector/api/facade.js';
import type { Log } from '../../../collector/types.js';
import { demoFacade } from './fixtures/demo-facade.js';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const PROTECTED = ['/api/v1/devices', '/api/v1/anomalies', '/api/v1/stats', '/metrics'];

const demo = await demoFacade();
t.ok(demo.pipeline.inventory.devices().length > 0, 'the demo capture yields devices');
t.ok(demo.anomalies.length > 0, 'the demo capture yields anomalies');

const app = buildApp(demo.facade, { token: TOKEN });
t.teardown(() => app.close());

t.test('/health answers without a token and reveals nothing', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/health' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
  t.same(Object.keys(res.json()), ['status']);
});

t.test('every other route wants the bearer token', async (t) => {
  for (const url of PROTECTED) {
    const none = await app.inject({ method: 'GET', url });
    t.equal(none.statusCode, 401, `${url} without a token`);
    t.equal(none.headers['www-authenticate'], 'Bearer realm="segwatch"', `${url} says which scheme`);
    t.same(none.json(), { statusCode: 401, error: 'Unauthorized', message: 'a valid bearer token is required' });

    const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('f') ? 'e' : 'f');
    for (const bad of [sameLength, TOKEN + 'x', TOKEN.slice(0, 8), 'x']) {
      const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bad}` } });
      t.equal(res.statusCode, 401, `${url} with a wrong token (${bad.length} chars)`);
      t.match(res.headers['www-authenticate'], /error="invalid_token"/);
    }
    const basic = await app.inject({
      method: 'GET', url, headers: { authorization: 'Basic ' + Buffer.from(`u:${TOKEN}`).toString('base64') },
    });
    t.equal(basic.statusCode, 401, `${url} with Basic auth`);
    const bare = await app.inject({ method: 'GET', url, headers: { authorization: TOKEN } });
    t.equal(bare.statusCode, 401, `${url} with the token but no scheme`);

    const ok = await app.inject({ method: 'GET', url, headers: auth });
    t.equal(ok.statusCode, 200, `${url} with the token`);
    const lower = await app.inject({ method: 'GET', url, headers: { authorization: `bearer ${TOKEN}` } });
    t.equal(lower.statusCode, 200, `${url}: the scheme name is case-insensitive (RFC 7235)`);
  }
});

t.test('auth is checked before the query is validated', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/api/v1/anomalies?limit=0' });
  t.equal(res.statusCode, 401);
});

t.test('GET /api/v1/devices: the inventory, through the response schema', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/api/v1/devices', headers: auth });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  const body = res.json();
  const devices = demo.facade.devices();
  t.equal(body.count, devices.length);
  t.same(body.devices, JSON.parse(JSON.stringify(devices)));
  const doorbell = body.devices.find((d: { name: string }) => d.name === 'doorbell');
  t.ok(doorbell, 'the demo doorbell is listed');
  t.equal(doorbell.vendor, 'Ring LLC');
  t.equal(doorbell.known, true);
  t.ok(doorbell.ips.includes('192.168.50.21'));
});

t.test('response schemas drop what is not in them', async (t) => {
  const [first] = demo.facade.devices();
  const leaky: CollectorFacade = {
    ...demo.facade,
    devices: () => [{ ...first, internalState: 'secret' } as typeof first],
    counters: () => ({ ...demo.facade.counters(), password: 'hunter2' } as ReturnType<CollectorFacade['counters']>),
  };
  const a = buildApp(leaky, { token: TOKEN });
  t.teardown(() => a.close());
  const dev = await a.inject({ method: 'GET', url: '/api/v1/devices', headers: auth });
  t.equal(dev.statusCode, 200);
  t.notOk('internalState' in dev.json().devices[0]);
  t.notMatch(dev.body, /secret/);
  const stats = await a.inject({ method: 'GET', url: '/api/v1/stats', headers: auth });
  t.notMatch(stats.body, /hunter2/);
});

t.test('GET /api/v1/anomalies: newest first, limit validated', async (t) => {
  const all = demo.anomalies;
  const res = await app.inject({ method: 'GET', url: '/api/v1/anomalies?limit=1000', headers: auth });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.count, all.length);
  // one entry per anomaly in its latest state (here: closed at the end of the file), newest
  // first by first packet, then by id (descending): the order the cursor pages through
  const ordered = [...all].sort((a, b) => Date.parse(b.firstSeen) - Date.parse(a.firstSeen) || (a.id < b.id ? 1 : -1));
  t.same(body.anomalies, ordered);
  t.ok(body.anomalies.every((a: { state: string; id: string }) => a.state === 'closed' && a.id.length > 0));
  t.equal(new Set(body.anomalies.map((a: { id: string }) => a.id)).size, all.length, 'one entry per id');
  const dflt = await app.inject({ method: 'GET', url: '/api/v1/anomalies', headers: auth });
  t.equal(dflt.json().count, Math.min(100, all.length), 'the default limit is 100');
  const kinds = new Set(body.anomalies.map((a: { kind: string }) => a.kind));
  t.ok(kinds.has('segment.crossing'), 'the demo shows a segment crossing');

  const two = await app.inject({ method: 'GET', url: '/api/v1/anomalies?limit=2', headers: auth });
  t.equal(two.statusCode, 200);
  t.same(two.json().anomalies, ordered.slice(0, 2));
  t.type(two.json().next, 'string', 'a next page is announced');
  t.equal(two.json().count, 2);

  for (const bad of ['0', '1001', '-1', 'abc', '1.5', '']) {
    const r = await app.inject({ method: 'GET', url: `/api/v1/anomalies?limit=${bad}`, headers: auth });
    t.equal(r.statusCode, 400, `limit=${bad} is refused`);
    const e = r.json();
    t.equal(e.statusCode, 400);
    t.equal(e.error, 'Bad Request');
    t.match(e.message, /limit/);
  }
  const max = await app.inject({ method: 'GET', url: '/api/v1/anomalies?limit=1000', headers: auth });
  t.equal(max.statusCode, 200);
});

t.test('default limit is 100, and 1000 is honoured', async (t) => {
  const big = await demoFacade(1000);
  // Fill the ring past the default with the same real anomalies, repeated under new ids
  // (the ring keeps one entry per id). Bounded: 2000 pushes at most.
  for (let i = 0; big.ring.size < 1000 && i < 2000; i++) big.ring.push({ ...big.anomalies[i % big.anomalies.length], id: `copy-${i}` });
  t.equal(big.ring.size, 1000);
  const a = buildApp(big.facade, { token: TOKEN });
  t.teardown(() => a.close());
  const def = await a.inject({ method: 'GET', url: '/api/v1/anomalies', headers: auth });
  t.equal(def.json().count, 100);
  const max = await a.inject({ method: 'GET', url: '/api/v1/anomalies?limit=1000', headers: auth });
  t.equal(max.json().count, 1000);
  const some = await a.inject({ method: 'GET', url: '/api/v1/anomalies?limit=250', headers: auth });
  t.equal(some.json().anomalies.length, 250);
});

t.test('GET /api/v1/stats', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/api/v1/stats', headers: auth });
  t.equal(res.statusCode, 200);
  const s = res.json();
  const c = demo.counters;
  t.equal(s.packets, 2272);
  t.equal(s.packets, c.packets);
  t.equal(s.bytes, c.bytes);
  t.equal(s.flows, c.flows);
  t.equal(s.anomalies, demo.anomalies.length);
  t.same(s.anomaliesByKind, c.anomaliesByKind);
  t.equal(s.source, 'file:demo.pcap');
  t.equal(s.startedAt, c.startedAt);
  t.type(s.uptimeSeconds, 'number');
  t.ok(s.uptimeSeconds >= 0);
});

t.test('GET /metrics: Prometheus text from the facade, on a registry of its own', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: auth });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const c = demo.counters;
  const text = res.body;
  t.notMatch(text, /^"/, 'not JSON-quoted');
  t.match(text, /# TYPE segwatch_packets_total counter/);
  t.match(text, new RegExp(`^segwatch_packets_total ${c.packets}$`, 'm'));
  t.match(text, new RegExp(`^segwatch_bytes_total ${c.bytes}$`, 'm'));
  t.match(text, new RegExp(`^segwatch_decode_errors_total ${c.decodeErrors}$`, 'm'));
  t.match(text, new RegExp(`^segwatch_flows_total ${c.flows}$`, 'm'));
  t.match(text, /# TYPE segwatch_flows_active gauge/);
  t.match(text, new RegExp(`^segwatch_flows_active ${c.flowsActive}$`, 'm'));
  t.match(text, /^segwatch_drops_total 0$/m);
  t.match(text, /# TYPE segwatch_spool_bytes gauge/);
  t.match(text, /^segwatch_spool_bytes 0$/m);
  t.match(text, /# TYPE segwatch_anomalies_total counter/);
  for (const [kind, n] of Object.entries(c.anomaliesByKind)) {
    t.match(text, new RegExp(`^segwatch_anomalies_total\\{kind="${kind.replace('.', '\\.')}"\\} ${n}$`, 'm'), kind);
  }
  const sum = [...text.matchAll(/^segwatch_anomalies_total\{kind="[^"]+"\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
  t.equal(sum, demo.anomalies.length, 'the kinds add up to the anomalies opened');
  t.match(text, /# TYPE segwatch_anomalies_open gauge/);
  t.match(text, /^segwatch_anomalies_open 0$/m, 'the demo replay ended: none open');
  t.match(text, /^segwatch_stage_errors_total 0$/m);

  const again = await app.inject({ method: 'GET', url: '/metrics', headers: auth });
  t.match(again.body, new RegExp(`^segwatch_packets_total ${c.packets}$`, 'm'), 'a second scrape does not add up twice');

  t.equal(globalRegister.getSingleMetric('segwatch_packets_total'), undefined,
    'nothing lands in prom-client\'s global registry');
});

t.test('two apps keep separate metrics', async (t) => {
  let packets = 7;
  const other: CollectorFacade = {
    devices: () => [],
    recentAnomalies: () => [],
    counters: () => ({
      packets, bytes: 700, decodeErrors: 1, flows: 2, flowsActive: 1, anomalies: 0, anomaliesByKind: {},
      drops: 3, spoolBytes: 4096, startedAt: 0, source: 'live:eth0', policy: 'site.yaml',
    }),
  };
  const b = buildApp(other, { token: TOKEN });
  t.teardown(() => b.close());
  const rb = await b.inject({ method: 'GET', url: '/metrics', headers: auth });
  t.match(rb.body, /^segwatch_packets_total 7$/m);
  t.match(rb.body, /^segwatch_drops_total 3$/m);
  t.match(rb.body, /^segwatch_spool_bytes 4096$/m);
  t.match(rb.body, /^segwatch_anomalies_total\{kind="scan\.hosts"\} 0$/m, 'known kinds appear at 0');
  packets = 9;
  const rb2 = await b.inject({ method: 'GET', url: '/metrics', headers: auth });
  t.match(rb2.body, /^segwatch_packets_total 9$/m, 'values are read at scrape time');
  const ra = await app.inject({ method: 'GET', url: '/metrics', headers: auth });
  t.match(ra.body, new RegExp(`^segwatch_packets_total ${demo.counters.packets}$`, 'm'));
});

t.test('5xx details stay in the log, not the response', async (t) => {
  const logged: unknown[] = [];
  const log: Log = { debug() {}, info() {}, warn() {}, error(o) { logged.push(o); } };
  const broken: CollectorFacade = {
    ...demo.facade,
    devices: () => { throw new Error('ENOENT /var/lib/segwatch/secret-state.db'); },
  };
  const a = buildApp(broken, { token: TOKEN, log });
  t.teardown(() => a.close());
  const res = await a.inject({ method: 'GET', url: '/api/v1/devices', headers: auth });
  t.equal(res.statusCode, 500);
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  t.notMatch(res.body, /secret|ENOENT/);
  t.equal(logged.length, 1, 'the cause is logged');
  t.match(String((logged[0] as { err: Error }).err.message), /secret-state/);
});

t.test('unknown routes and methods', async (t) => {
  const nf = await app.inject({ method: 'GET', url: '/api/v1/nothing', headers: auth });
  t.equal(nf.statusCode, 404);
  t.same(nf.json(), { statusCode: 404, error: 'Not Found', message: 'not found' });
  const post = await app.inject({ method: 'POST', url: '/api/v1/devices', headers: auth, payload: {} });
  t.equal(post.statusCode, 404);
});

t.test('buildApp refuses an empty token', async (t) => {
  t.throws(() => buildApp(demo.facade, { token: '' }), /token/);
});
