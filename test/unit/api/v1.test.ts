// The routes of issue 11 through inject: anomalies over the real state database (and the
// same answers from the in-memory fallback), devices, flows of a real flow table, the policy
// through a real PolicyWatcher, admin guard, rate limit, body limits, headers, metrics.

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { buildApp, OPENAPI_PATH, DOCS_PREFIX } from '../../../collector/api/app.js';
import type { Anomaly } from '../../../collector/types.js';
import { liveFacade } from './fixtures/live-facade.js';

const TOKEN = 'read-token-0123456789abcdef';
const ADMIN = 'admin-token-fedcba9876543210';
const read = { authorization: `Bearer ${TOKEN}` };
const admin = { authorization: `Bearer ${ADMIN}` };

const live = await liveFacade();
t.teardown(() => live.close());
const app = buildApp(live.facade, { token: TOKEN, adminToken: ADMIN, rateLimit: false, policyBodyLimit: 64 * 1024 });
const fallback = buildApp(live.ringFacade, { token: TOKEN, rateLimit: false });
t.teardown(() => app.close());
t.teardown(() => fallback.close());

const all = live.anomalies;
const firstMs = (a: Anomaly) => Date.parse(a.firstSeen);
const lastMs = (a: Anomaly) => Date.parse(a.lastSeen);
const newestFirst = (xs: Anomaly[]) => [...xs].sort((a, b) => firstMs(b) - firstMs(a) || (a.id < b.id ? 1 : -1));
const get = (url: string, headers: Record<string, string> = read) => app.inject({ method: 'GET', url, headers });

t.ok(all.length > 30 && all.some((a) => a.state === 'open') && all.some((a) => a.state === 'closed'), 'open and closed anomalies in the state database');

t.test('anomalies: the filters, against the anomalies the pipeline wrote', async (t) => {
  const cases: Array<[string, (a: Anomaly) => boolean]> = [
    ['', () => true],
    ['kind=segment.crossing', (a) => a.kind === 'segment.crossing'],
    ['kind=scan.hosts,scan.ports', (a) => a.kind.startsWith('scan.')],
    ['severity=critical', (a) => a.severity === 'critical'],
    ['severity=medium,critical', (a) => a.severity === 'medium' || a.severity === 'critical'],
    ['min_severity=high', (a) => a.severity === 'high' || a.severity === 'critical'],
    ['severity=medium,high&min_severity=high', (a) => a.severity === 'high'],
    ['device=plugs-c30041', (a) => a.device === 'plugs-c30041'],
    ['device=14:75:90:C3:00:41', (a) => a.mac === '14:75:90:c3:00:41'],
    ['state=open', (a) => a.state === 'open'],
    ['state=closed', (a) => a.state === 'closed'],
    ['state=open&kind=policy.violation&device=plugs-c30041', (a) => a.state === 'open' && a.kind === 'policy.violation' && a.device === 'plugs-c30041'],
  ];
  const mid = Math.round((Math.min(...all.map(firstMs)) + Math.max(...all.map(firstMs))) / 2);
  const late = newestFirst(all)[5];
  cases.push([`from=${mid}`, (a) => lastMs(a) >= mid]);
  cases.push([`to=${new Date(mid).toISOString()}`, (a) => firstMs(a) <= mid]);
  cases.push([`from=${encodeURIComponent(late.firstSeen)}&to=${firstMs(late)}`, (a) => lastMs(a) >= firstMs(late) && firstMs(a) <= firstMs(late)]);
  for (const [q, keep] of cases) {
    const res = await get(`/api/v1/anomalies?limit=1000&${q}`);
    t.equal(res.statusCode, 200, q);
    const expected = newestFirst(all.filter(keep));
    t.ok(expected.length > 0, `${q}: the fixture has some`);
    t.same(res.json().anomalies.map((a: Anomaly) => a.id), expected.map((a) => a.id), `${q}: exactly these, newest first`);
    t.equal(res.json().count, expected.length);
    t.notOk('next' in res.json(), `${q}: one page`);
    const fb = await fallback.inject({ method: 'GET', url: `/api/v1/anomalies?limit=1000&${q}`, headers: read });
    t.same(fb.json(), res.json(), `${q}: the in-memory fallback answers the same`);
  }
  const none = await get('/api/v1/anomalies?severity=low&min_severity=high');
  t.same(none.json(), { count: 0, anomalies: [] }, 'severity below min_severity: nothing');
});

t.test('anomalies: cursor paging visits each one once, in order, and the fallback pages alike', async (t) => {
  for (const [name, a] of [['state', app], ['ring', fallback]] as const) {
    const seen: string[] = [];
    let url = '/api/v1/anomalies?limit=4&min_severity=high';
    let pages = 0;
    for (; pages < 100; pages++) {
      const res = await a.inject({ method: 'GET', url, headers: read });
      t.equal(res.statusCode, 200);
      const body = res.json();
      t.ok(body.count <= 4);
      seen.push(...body.anomalies.map((x: Anomaly) => x.id));
      if (!body.next) break;
      t.equal(body.count, 4, 'a page before the last is full');
      url = `/api/v1/anomalies?limit=4&min_severity=high&cursor=${body.next}`;
    }
    const expected = newestFirst(all.filter((x) => x.severity === 'high' || x.severity === 'critical')).map((x) => x.id);
    t.same(seen, expected, `${name}: every anomaly once, newest first`);
    t.equal(pages + 1, Math.ceil(expected.length / 4), `${name}: as many pages as needed`);
  }
});

t.test('anomalies: every bad parameter is a 400 that names it', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['limit=0', /limit/], ['limit=1001', /limit/], ['limit=x', /limit/],
    ['from=yesterday', /from.*ISO 8601/], ['to=2026-13-45', /to/], ['from=2026-12-05&to=2026-12-01', /after/],
    ['cursor=bm9wZQ', /cursor/], ['cursor=a%20b', /cursor/], ['cursor=' + Buffer.from('[1,2]').toString('base64url'), /cursor/],
    ['kind=Scan%20Hosts', /kind/], ['severity=urgent', /severity/], ['severity=high,', /severity/],
    ['min_severity=urgent', /min_severity/], ['state=maybe', /state/], ['severty=high', /severty.*unknown/],
    [`device=${'x'.repeat(201)}`, /device/],
  ];
  for (const [q, why] of bad) {
    const res = await get(`/api/v1/anomalies?${q}`);
    t.equal(res.statusCode, 400, q);
    t.equal(res.json().error, 'Bad Request');
    t.match(res.json().message, why, `${q}: ${res.json().message}`);
  }
});

t.test('anomalies/:id', async (t) => {
  for (const a of [all[0], all[all.length - 1]]) {
    const res = await get(`/api/v1/anomalies/${encodeURIComponent(a.id)}`);
    t.equal(res.statusCode, 200);
    t.same(res.json(), JSON.parse(JSON.stringify(a)));
    const fb = await fallback.inject({ method: 'GET', url: `/api/v1/anomalies/${encodeURIComponent(a.id)}`, headers: read });
    t.same(fb.json(), res.json(), 'the fallback finds it too');
  }
  const missing = await get('/api/v1/anomalies/no-such-id');
  t.equal(missing.statusCode, 404);
  t.match(missing.json().message, /no anomaly with id "no-such-id"/);
});

t.test('devices/:id: inventory, profile, open anomalies; by id, MAC or name', async (t) => {
  const plug = live.db.devices().find((d) => d.name === 'plugs-c30041')!;
  t.ok(plug);
  for (const key of [plug.id, plug.mac.toUpperCase(), plug.name]) {
    const res = await get(`/api/v1/devices/${encodeURIComponent(key)}`);
    t.equal(res.statusCode, 200, key);
    const body = res.json();
    t.same(body.device, JSON.parse(JSON.stringify(plug)));
    t.same(body.profile, { name: 'smart-plug', defined: true, ...live.watcher.current().limits('smart-plug') });
    const open = newestFirst(all.filter((a) => a.device === plug.name && a.state === 'open')).map((a) => a.id);
    t.ok(open.length > 5);
    t.same(body.openAnomalies.map((a: Anomaly) => a.id), open, 'its open anomalies, not the closed ones');
  }
  const unknown = live.db.devices().find((d) => !d.known)!;
  const u = await get(`/api/v1/devices/${encodeURIComponent(unknown.id)}`);
  t.equal(u.json().profile.name, unknown.profile);
  const missing = await get('/api/v1/devices/nobody');
  t.equal(missing.statusCode, 404);
  t.match(missing.json().message, /nobody/);
});

t.test('flows: the live flow table, filtered', async (t) => {
  const stats = live.pipeline.flows.stats();
  t.ok(stats.active > 100, 'flows are live in the table');
  const res = await get('/api/v1/flows?limit=1000');
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.active, stats.active);
  t.equal(body.count, stats.active, 'every live flow, under the limit');
  t.equal(new Set(body.flows.map((f: { id: number }) => f.id)).size, body.count, 'each once');
  t.equal((await get('/api/v1/flows')).json().count, 100, 'default limit 100');
  t.equal((await get('/api/v1/flows?limit=3')).json().count, 3);
  type F = { src: string; dst: string; sport: number; dport: number; proto: string; srcMac: string; dstMac: string };
  const flows = body.flows as F[];
  // a device with live flows, and one of its flows' address, protocol and port
  const devs = live.db.devices();
  const sample = flows.find((f) => devs.some((d) => d.mac === f.srcMac && d.mac !== ''))!;
  const dev = devs.find((d) => d.mac === sample.srcMac)!;
  const proto = sample.proto, port = sample.dport;
  const cases: Array<[string, (f: F) => boolean]> = [
    [`ip=${sample.dst}`, (f) => f.src === sample.dst || f.dst === sample.dst],
    ['proto=udp', (f) => f.proto === 'udp'],
    ['proto=6', (f) => f.proto === 'tcp'],
    ['port=53', (f) => f.sport === 53 || f.dport === 53],
    [`device=${dev.name}`, (f) => f.srcMac === dev.mac || f.dstMac === dev.mac],
    [`device=${dev.name}&proto=${proto}&port=${port}`, (f) => (f.srcMac === dev.mac || f.dstMac === dev.mac) && f.proto === proto && (f.sport === port || f.dport === port)],
  ];
  for (const [q, keep] of cases) {
    const r = await get(`/api/v1/flows?limit=1000&${q}`);
    t.equal(r.statusCode, 200, q);
    const expected = flows.filter(keep);
    t.ok(expected.length > 0, `${q}: the capture has some`);
    t.same(r.json().flows, expected, `${q}: exactly those`);
  }
  for (const [q, why] of [['ip=300.1.1.1', /ip/], ['proto=999', /proto/], ['proto=gre', /proto/], ['port=70000', /port/], ['limit=0', /limit/], ['vlan=50', /vlan/]] as const) {
    const r = await get(`/api/v1/flows?${q}`);
    t.equal(r.statusCode, 400, q);
    t.match(r.json().message, why);
  }
  t.equal((await get('/api/v1/flows?device=nobody')).statusCode, 404);
  const none = await fallback.inject({ method: 'GET', url: '/api/v1/flows', headers: read });
  t.same(none.json(), { count: 0, active: stats.active, flows: [] }, 'a facade without a flow table lists none');
});

t.test('policy: GET, validate, reload (admin)', async (t) => {
  const text = readFileSync(live.policyPath);
  const { createHash } = await import('node:crypto');
  const sha = createHash('sha256').update(text).digest('hex');
  const res = await get('/api/v1/policy');
  t.equal(res.statusCode, 200);
  const p = res.json();
  t.equal(p.file, live.policyPath);
  t.equal(p.sha256, sha);
  t.equal(p.bytes, text.length);
  t.ok(Math.abs(Date.parse(p.loadedAt) - Date.now()) < 600_000, 'loadedAt is a recent ISO time');
  t.same(p.profiles.map((x: { name: string }) => x.name).sort(), [...live.watcher.current().profiles()].sort());
  const plugs = p.profiles.find((x: { name: string }) => x.name === 'smart-plug');
  t.equal(plugs.devices, live.db.devices().filter((d) => d.profile === 'smart-plug').length);
  t.equal((await fallback.inject({ method: 'GET', url: '/api/v1/policy', headers: read })).statusCode, 404);

  // validate: any token; the YAML in the body
  for (const type of ['application/yaml', 'text/yaml', 'text/plain', 'application/x-yaml']) {
    const ok = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': type }, payload: text });
    t.equal(ok.statusCode, 200, type);
    t.equal(ok.json().valid, true);
    t.same(ok.json().errors, []);
    t.ok(ok.json().profiles.includes('smart-plug'));
  }
  const broken = text.toString('utf8').replace('192.168.50.0/24', '192.168.300.0/24');
  const lines = broken.split('\n');
  const line = lines.findIndex((l) => l.includes('192.168.300.0/24')) + 1;
  const col = lines[line - 1].indexOf('192.168.300.0/24') + 1;
  const bad = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': 'application/yaml' }, payload: broken });
  t.equal(bad.statusCode, 200);
  t.equal(bad.json().valid, false);
  const e = bad.json().errors[0];
  t.equal(e.line, line, 'the line of the bad CIDR');
  t.ok(e.col === col || e.col === col - 1, `its column (${e.col} vs ${col})`);
  t.match(e.message, /CIDR/);
  const yamlErr = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': 'text/plain' }, payload: 'version: 1\nsegments: [a, b\n' });
  t.equal(yamlErr.json().valid, false);
  t.match(yamlErr.json().errors[0].message, /YAML syntax/);
  t.ok(yamlErr.json().errors[0].line >= 2);

  const empty = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': 'text/plain' }, payload: '' });
  t.equal(empty.statusCode, 400, 'an empty body');
  t.match(empty.json().message, /body/);
  const octets = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': 'application/octet-stream' }, payload: text });
  t.equal(octets.statusCode, 415, 'an unknown media type');
  const json = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: read, payload: { version: 1 } });
  t.equal(json.statusCode, 400, 'JSON is not YAML text');
  t.match(json.json().message, /body/);
  const huge = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': 'application/yaml' }, payload: '#'.repeat(64 * 1024 + 1) });
  t.equal(huge.statusCode, 413, 'a body over the limit');
  t.equal(huge.json().error, 'Payload Too Large');
  const justUnder = await app.inject({ method: 'POST', url: '/api/v1/policy/validate', headers: { ...read, 'content-type': 'application/yaml' }, payload: '#'.repeat(64 * 1024) });
  t.equal(justUnder.statusCode, 200, 'a body at the limit is read');

  // reload: admin only
  const denied = await app.inject({ method: 'POST', url: '/api/v1/policy/reload', headers: read });
  t.equal(denied.statusCode, 403, 'the read token is not enough');
  t.match(denied.json().message, /admin token/);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/policy/reload' })).statusCode, 401);
  const ok = await app.inject({ method: 'POST', url: '/api/v1/policy/reload', headers: admin });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().reloaded, true);
  t.equal(ok.json().policy.sha256, sha);
  t.ok(Date.parse(ok.json().policy.loadedAt) >= Date.parse(p.loadedAt));

  writeFileSync(live.policyPath, broken);
  const refused = await app.inject({ method: 'POST', url: '/api/v1/policy/reload', headers: admin });
  t.equal(refused.statusCode, 422, 'a bad file is refused');
  t.equal(refused.json().reloaded, false);
  t.equal(refused.json().errors[0].line, line);
  t.equal(refused.json().policy.sha256, sha, 'the last good policy stays in force');
  writeFileSync(live.policyPath, text);
  const back = await app.inject({ method: 'POST', url: '/api/v1/policy/reload', headers: admin });
  t.equal(back.statusCode, 200);
  const tooBig = await app.inject({ method: 'POST', url: '/api/v1/policy/reload', headers: { ...admin, 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'y'.repeat(5000) }) });
  t.equal(tooBig.statusCode, 413, 'reload takes no large body');

  const noAdmin = await fallback.inject({ method: 'POST', url: '/api/v1/policy/reload', headers: read });
  t.equal(noAdmin.statusCode, 403, 'no admin token configured: nobody reloads');
  t.match(noAdmin.json().message, /none is configured/);
});

t.test('tokens: 401 everywhere without or with a wrong one; the admin token reads too', async (t) => {
  const routes: Array<[string, string]> = [
    ['GET', '/api/v1/devices'], ['GET', '/api/v1/devices/x'], ['GET', '/api/v1/anomalies'], ['GET', '/api/v1/anomalies/x'],
    ['GET', '/api/v1/flows'], ['GET', '/api/v1/policy'], ['POST', '/api/v1/policy/validate'], ['POST', '/api/v1/policy/reload'],
    ['GET', '/api/v1/stats'], ['GET', '/metrics'],
  ];
  for (const [method, url] of routes) {
    for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${ADMIN.slice(0, -1)}` }, { authorization: `Basic ${TOKEN}` }]) {
      const r = await app.inject({ method: method as 'GET', url, headers: { ...headers, 'content-type': 'text/plain' }, payload: method === 'POST' ? 'version: 1' : undefined });
      t.equal(r.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`);
    }
    if (method === 'GET') {
      const r = await app.inject({ method: 'GET', url, headers: admin });
      t.ok(r.statusCode === 200 || r.statusCode === 404, `${url}: the admin token reads (${r.statusCode})`);
    }
  }
  t.throws(() => buildApp(live.facade, { token: TOKEN, adminToken: TOKEN }), /differ/);
});

t.test('rate limit: 429 past the burst, wrong tokens counted too', async (t) => {
  const limited = buildApp(live.facade, { token: TOKEN, rateLimit: { max: 5, windowMs: 60_000 } });
  t.teardown(() => limited.close());
  for (let i = 0; i < 5; i++) {
    const r = await limited.inject({ method: 'GET', url: '/api/v1/stats', headers: { authorization: 'Bearer wrong-token-guess-000' } });
    t.equal(r.statusCode, 401);
  }
  const r = await limited.inject({ method: 'GET', url: '/api/v1/stats', headers: read });
  t.equal(r.statusCode, 429, 'guessing tokens uses up the allowance');
  t.match(r.json().message, /Rate limit exceeded/);
  t.ok(r.headers['retry-after'], 'says when to come back');
  const other = await limited.inject({ method: 'GET', url: '/api/v1/stats', headers: read, remoteAddress: '10.0.0.9' });
  t.equal(other.statusCode, 200, 'per client address');
});

t.test('security headers, docs and OpenAPI document (open)', async (t) => {
  const r = await get('/api/v1/stats');
  t.equal(r.headers['x-content-type-options'], 'nosniff');
  t.match(r.headers['content-security-policy'], /default-src 'self'/);
  t.equal(r.headers['x-frame-options'], 'SAMEORIGIN');
  t.notMatch(String(r.headers['content-security-policy']), /upgrade-insecure-requests/, 'not over plain HTTP');
  t.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');

  const doc = await app.inject({ method: 'GET', url: OPENAPI_PATH });
  t.equal(doc.statusCode, 200, 'the document needs no token');
  const d = doc.json();
  t.match(d.openapi, /^3\.0\./);
  const paths = Object.keys(d.paths).sort();
  t.same(paths, [
    '/api/v1/anomalies', '/api/v1/anomalies/{id}', '/api/v1/anomalies/{id}/ack', '/api/v1/devices', '/api/v1/devices/{id}', '/api/v1/flows',
    '/api/v1/policy', '/api/v1/policy/reload', '/api/v1/policy/validate', '/api/v1/proposals', '/api/v1/proposals/{device}/accept', '/api/v1/stats', '/health', '/metrics',
  ]);
  t.same(d.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' });
  const ajv = new Ajv({ strict: false });
  for (const [path, ops] of Object.entries(d.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }>; parameters?: Array<{ schema: object }> }>>)) {
    for (const [method, op] of Object.entries(ops)) {
      t.ok(op.responses['200'], `${method} ${path} documents its 200`);
      for (const resp of Object.values(op.responses)) for (const c of Object.values(resp.content ?? {})) ajv.compile(c.schema);
      for (const p of op.parameters ?? []) ajv.compile(p.schema);
    }
  }
  t.same(d.paths['/api/v1/policy/reload'].post.security, [{ bearerAuth: [] }]);
  t.ok(d.paths['/api/v1/policy/reload'].post.responses['422'], 'the refused reload is documented');
  t.ok(d.paths['/api/v1/anomalies'].get.parameters.some((p: { name: string }) => p.name === 'cursor'));

  const docs = await app.inject({ method: 'GET', url: DOCS_PREFIX });
  t.equal(docs.statusCode, 200, 'the docs page needs no token');
  t.match(docs.headers['content-type'], /text\/html/);
  const json = await app.inject({ method: 'GET', url: `${DOCS_PREFIX}/json` });
  t.same(Object.keys(json.json().paths).sort(), paths, 'the docs page reads the same document');
});

t.test('metrics: alert channels, anomalies opened and open now by kind and severity', async (t) => {
  const text = (await get('/metrics')).body;
  for (const a of live.alerts) {
    const l = `channel="${a.channel}",type="${a.type}"`;
    t.match(text, new RegExp(`^segwatch_alert_deliveries_total\\{${l}\\} ${a.delivered}$`, 'm'));
    t.match(text, new RegExp(`^segwatch_alert_failures_total\\{${l}\\} ${a.failed}$`, 'm'));
    t.match(text, new RegExp(`^segwatch_alert_retries_total\\{${l}\\} ${a.retries}$`, 'm'));
    t.match(text, new RegExp(`^segwatch_alert_dropped_total\\{${l}\\} ${a.dropped}$`, 'm'));
    t.match(text, new RegExp(`^segwatch_alert_outbox\\{${l}\\} ${a.outbox}$`, 'm'));
  }
  t.match(text, /# TYPE segwatch_alert_outbox gauge/);
  t.match(text, /# TYPE segwatch_alert_deliveries_total counter/);
  const series = (name: string) => Object.fromEntries([...text.matchAll(new RegExp(`^${name}\\{kind="([^"]+)",severity="([^"]+)"\\} (\\d+)$`, 'gm'))].map((m) => [`${m[1]}/${m[2]}`, Number(m[3])]));
  const count = (xs: Anomaly[]) => xs.reduce<Record<string, number>>((o, a) => { o[`${a.kind}/${a.severity}`] = (o[`${a.kind}/${a.severity}`] ?? 0) + 1; return o; }, {});
  t.same(series('segwatch_anomalies_open_by_kind'), count(all.filter((a) => a.state === 'open')), 'open now, from the state database');
  // opened: the pipeline's 'opened' events (the closed copies were never opened in this run)
  t.same(series('segwatch_anomalies_opened_total'), count(all.filter((a) => !a.id.startsWith('closed-'))), 'opened since start');
  t.match(text, /# TYPE segwatch_anomalies_opened_total counter/);
  t.match(text, /# TYPE segwatch_anomalies_open_by_kind gauge/);
  const plain = (await fallback.inject({ method: 'GET', url: '/metrics', headers: read })).body;
  t.notMatch(plain, /^segwatch_alert_deliveries_total\{/m, 'no channels: no alert series');
});
