// The HTTP channels (webhook, Slack, Discord, Teams, ntfy) against a real Node HTTP server on
// loopback: each body checked against its format's documented shape, the headers, and the
// answers that must become retryable or final DeliveryErrors.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAlertChannels, type ChannelConfig } from '../../../collector/sinks/alerts/config.js';
import { createChannel } from '../../../collector/sinks/alerts/registry.js';
import { DeliveryError, type Channel } from '../../../collector/sinks/alerts/channel.js';
import { ANOMALY_FIELDS } from '../../../collector/sinks/anomaly-fields.js';
import { alert } from '../../unit/sinks/alerts/fixture.js';

interface Req { method: string; url: string; headers: http.IncomingHttpHeaders; body: any }
const got: Req[] = [];
let answer: (req: Req, res: http.ServerResponse) => void = (_q, res) => { res.writeHead(200).end('ok'); };
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const r: Req = { method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') };
    got.push(r);
    answer(r, res);
  });
});
let base = '';
t.before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
t.beforeEach(() => { got.length = 0; answer = (_q, res) => { res.writeHead(200).end('ok'); }; });

function channel(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Channel {
  const r = parseAlertChannels([{ name: 'hook', ...raw }], env);
  if (!r.channels) throw new Error(r.errors.join('; '));
  const ch = createChannel(r.channels[0] as ChannelConfig, env, { version: '9.9.9' });
  t.teardown(() => ch.close());
  return ch;
}

t.test('webhook: DESIGN.md body, Idempotency-Key, Content-Type, User-Agent, bearer token', async (t) => {
  const ch = channel({ type: 'webhook', url: `${base}/hook/path` }, { SEGWATCH_ALERT_HOOK_TOKEN: 'tok123' });
  await ch.send(alert());
  t.equal(got.length, 1);
  const r = got[0];
  t.equal(r.method, 'POST');
  t.equal(r.url, '/hook/path');
  t.equal(r.headers['idempotency-key'], 'a1b2c3d4e5f60718:opened');
  t.equal(r.headers['content-type'], 'application/json');
  t.equal(r.headers['user-agent'], 'segwatch/9.9.9');
  t.equal(r.headers.authorization, 'Bearer tok123');
  t.equal(r.body.event, 'opened');
  t.same(Object.keys(r.body.anomaly), [...ANOMALY_FIELDS], 'every Anomaly field');
  t.equal(r.body.anomaly.peerPort, 23);
  t.equal(String(ch), `webhook hook -> ${base}/…`, 'path hidden when shown');
});

t.test('slack: incoming webhook text + blocks', async (t) => {
  const ch = channel({ type: 'slack' }, { SEGWATCH_ALERT_HOOK_TOKEN: `${base}/services/T000/B000/XXXX` });
  await ch.send(alert());
  const b = got[0].body;
  t.equal(got[0].url, '/services/T000/B000/XXXX', 'the URL from SEGWATCH_ALERT_HOOK_TOKEN');
  t.type(b.text, 'string');
  t.ok(Array.isArray(b.blocks) && b.blocks.length <= 50, 'at most 50 blocks');
  for (const blk of b.blocks) t.ok(['header', 'section', 'context'].includes(blk.type), `block type ${blk.type}`);
  t.equal(b.blocks[0].text.type, 'plain_text', 'a header takes plain_text');
  t.notOk(String(ch).includes('XXXX'), 'the secret path is never shown');
});

t.test('discord: content + embeds, colour by severity, wait=true', async (t) => {
  const ch = channel({ type: 'discord', url: `${base}/api/webhooks/1/tok` });
  await ch.send(alert({ severity: 'critical' }));
  const r = got[0];
  t.equal(r.url, '/api/webhooks/1/tok?wait=true');
  t.type(r.body.content, 'string');
  t.ok(r.body.content.length <= 2000);
  const e = r.body.embeds[0];
  t.equal(typeof e.color, 'number');
  t.equal(e.color, 0x8b0000);
  t.ok(e.title.length <= 256 && e.description.length <= 4096 && e.fields.length <= 25);
  t.ok(e.fields.every((f: any) => typeof f.name === 'string' && f.value.length <= 1024));
  t.same(r.body.allowed_mentions, { parse: [] });
});

t.test('teams: Workflows message carrying an Adaptive Card 1.4', async (t) => {
  answer = (_q, res) => { res.writeHead(202).end(); };
  const ch = channel({ type: 'teams', url: `${base}/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRET` });
  await ch.send(alert());
  const b = got[0].body;
  t.equal(b.type, 'message');
  t.equal(b.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
  const card = b.attachments[0].content;
  t.equal(card.type, 'AdaptiveCard');
  t.equal(card.version, '1.4');
  t.equal(card.$schema, 'http://adaptivecards.io/schemas/adaptive-card.json');
  t.ok(card.body.every((x: any) => ['TextBlock', 'FactSet'].includes(x.type)));
  t.notOk(String(ch).includes('SECRET'));
});

t.test('ntfy: JSON publish to the root, bearer token', async (t) => {
  const ch = channel({ type: 'ntfy', url: `${base}/segwatch-alerts` }, { SEGWATCH_ALERT_HOOK_TOKEN: 'tk_abc' });
  await ch.send(alert({ severity: 'critical' }));
  const r = got[0];
  t.equal(r.url, '/');
  t.equal(r.headers.authorization, 'Bearer tk_abc');
  t.match(r.body, { topic: 'segwatch-alerts', priority: 5 });
  t.type(r.body.title, 'string');
  t.type(r.body.message, 'string');
  t.ok(r.body.tags.every((x: unknown) => typeof x === 'string'));
});

t.test('503 and 429 are retryable with Retry-After; 400 and 404 are not', async (t) => {
  const ch = channel({ type: 'webhook', url: `${base}/h` });
  answer = (_q, res) => { res.writeHead(503, { 'Retry-After': '3' }).end('busy'); };
  let err = await ch.send(alert()).catch((e: unknown) => e);
  t.type(err, DeliveryError);
  t.match(err, { retryable: true, retryAfterMs: 3000, code: 'http_503' });
  answer = (_q, res) => { res.writeHead(429, { 'Retry-After': new Date(Date.now() + 60_000).toUTCString() }).end(); };
  err = await ch.send(alert()).catch((e: unknown) => e);
  t.match(err, { retryable: true, code: 'http_429' });
  const after = (err as DeliveryError).retryAfterMs!;
  t.ok(after > 55_000 && after <= 60_000, `Retry-After as a date: ${after} ms`);
  for (const status of [400, 404]) {
    answer = (_q, res) => { res.writeHead(status).end(); };
    err = await ch.send(alert()).catch((e: unknown) => e);
    t.match(err, { retryable: false, code: `http_${status}` }, `${status} is final`);
  }
  answer = (_q, res) => { res.writeHead(302, { Location: 'http://elsewhere.example/' }).end(); };
  err = await ch.send(alert()).catch((e: unknown) => e);
  t.match(err, { retryable: false, code: 'http_302' }, 'a redirect is not followed');
  t.equal(got.length, 5, 'the redirect target was not asked');
});

t.test('a receiver that does not answer in time, and one that is down', async (t) => {
  const ch = channel({ type: 'webhook', url: `${base}/slow`, timeout: '300ms' });
  answer = (_q, res) => { setTimeout(() => res.writeHead(200).end(), 2000).unref(); };
  const start = Date.now();
  const err = await ch.send(alert()).catch((e: unknown) => e);
  t.match(err, { retryable: true, code: 'timeout' });
  t.ok(Date.now() - start < 1500, 'bounded by the timeout');
  const down = channel({ type: 'webhook', url: 'http://127.0.0.1:1/h' });
  t.match(await down.send(alert()).catch((e: unknown) => e), { retryable: true, code: 'connect' });
});
