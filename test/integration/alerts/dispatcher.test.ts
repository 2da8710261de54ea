// The alert dispatcher with its real parts: the state database's outbox, the webhook channel
// and an HTTP receiver on loopback. Alerts are delivered once each by idempotency key through
// an outage (503, then 429 with Retry-After) and across a restart while the receiver is down;
// a storm reaches the channel as at most the rate limit in messages, the digests accounting
// for every alert; a receiver that refuses for good is counted; the outbox sheds the oldest
// low-severity alerts first when it is full.

import t, { type Test } from 'tap';
import { StateDb } from '../../../collector/state/db.js';
import { Outbox } from '../../../collector/state/outbox.js';
import { AlertDispatcher } from '../../../collector/sinks/alerts/dispatcher.js';
import { parseAlertChannels, type ChannelConfig } from '../../../collector/sinks/alerts/config.js';
import { createChannel } from '../../../collector/sinks/alerts/registry.js';
import type { Anomaly, Severity } from '../../../collector/types.js';
import { Receiver } from '../../helpers/webhook-receiver.js';
import { anomaly } from '../../unit/sinks/alerts/fixture.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function tmpDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-dispatch-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Polls cond every 20 ms for at most ms; false when it never held. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

function channelConfig(port: number, extra: Record<string, unknown> = {}): ChannelConfig {
  const r = parseAlertChannels([{ name: 'soc', type: 'webhook', url: `http://127.0.0.1:${port}/hook`, min_severity: 'info', timeout: '2s', retry_max: '2s', ...extra }], {});
  if (!r.channels) throw new Error(r.errors.join('; '));
  return r.channels[0];
}

function rig(t: Test, dir: string, cfg: ChannelConfig, limits: { maxRows?: number } = {}) {
  const db = StateDb.open(dir);
  const outbox = new Outbox(db, limits);
  const d = new AlertDispatcher({ channels: [{ cfg, channel: createChannel(cfg, {}) }], outbox, retryMinMs: 50, housekeepingMs: 100 });
  let closed = false;
  const close = async () => { if (closed) return; closed = true; await d.close(); db.close(); };
  t.teardown(close);
  return { db, outbox, d, close };
}

const nth = (i: number, over: Partial<Anomaly> = {}) => anomaly({ id: `a${String(i).padStart(5, '0')}`, peer: `203.0.113.${i % 250}`, ...over });

t.test('each alert reaches the receiver with its idempotency key; closings only when asked', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.stop());
  const { d, outbox } = rig(t, tmpDir(t), channelConfig(rx.port));
  for (let i = 0; i < 3; i++) d.anomaly(nth(i), 'opened');
  d.anomaly(nth(0), 'updated');
  d.anomaly({ ...nth(0), state: 'closed', closeReason: 'idle' }, 'closed');
  t.ok(await waitFor(() => rx.all.length >= 3, 10_000), 'three delivered');
  await new Promise((r) => setTimeout(r, 300));
  t.same(rx.all.map((r) => r.key), ['a00000:opened', 'a00001:opened', 'a00002:opened'], 'in order, keyed <id>:<event>; no update, no closing');
  t.same(outbox.sizes().get('soc') ?? 0, 0, 'the outbox is empty');
  t.equal(d.stats()[0].delivered, 3);
});

t.test('an outage (503, then 429 with Retry-After): everything arrives once after dropping repeats', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.stop());
  const { d } = rig(t, tmpDir(t), channelConfig(rx.port));
  rx.status = 503;
  for (let i = 0; i < 10; i++) d.anomaly(nth(i), 'opened');
  t.ok(await waitFor(() => rx.refused >= 3, 10_000), `503 answered ${rx.refused} tries`);
  rx.status = 429;
  rx.retryAfter = '1';
  const at429 = rx.refused;
  t.ok(await waitFor(() => rx.refused > at429, 10_000), '429 answered too');
  for (let i = 10; i < 15; i++) d.anomaly(nth(i), 'opened');
  const refusedBefore = rx.refused;
  rx.status = 200;
  t.ok(await waitFor(() => rx.unique().size >= 15, 15_000), `all 15 delivered after the outage (${rx.unique().size})`);
  const i429 = rx.tries.findIndex((x) => x.status === 429);
  const gap = rx.tries[i429 + 1].at - rx.tries[i429].at;
  t.ok(gap >= 950, `Retry-After: 1 was honoured: the next try came ${gap} ms after the 429`);
  t.equal(rx.unique().size, 15, 'exactly the 15 alerts, by key');
  t.comment(`raw deliveries ${rx.all.length}, repeats ${rx.all.length - rx.unique().size}, refused tries ${refusedBefore}`);
  const s = d.stats()[0];
  t.ok(s.retries >= 3, `${s.retries} retries counted`);
  t.ok(await waitFor(() => d.stats()[0].outbox === 0, 5000), 'nothing left waiting');
});

t.test('restarted while the receiver is down: the alerts wait on disk and go out once it is back', async (t) => {
  const dir = tmpDir(t);
  const rx = await Receiver.down();
  const port = rx.port;
  t.teardown(() => rx.stop());
  const first = rig(t, dir, channelConfig(port));
  for (let i = 0; i < 5; i++) first.d.anomaly(nth(i, { severity: 'high' }), 'opened');
  t.ok(await waitFor(() => first.d.stats()[0].retries >= 2, 10_000), 'connection refused: retried');
  t.equal(first.d.stats()[0].outbox, 5, 'five waiting');
  await first.close();

  await rx.start(port);
  const second = rig(t, dir, channelConfig(port));
  t.ok(await waitFor(() => rx.unique().size >= 5, 15_000), 'the restarted dispatcher delivers what the first left');
  t.same([...rx.unique()].sort(), [0, 1, 2, 3, 4].map((i) => `${nth(i).id}:opened`));
  // the receiver has the last message a moment before the dispatcher reads its answer and
  // records the acknowledgement: wait for that (bounded), then the outbox must be empty
  await waitFor(() => second.d.stats()[0].outbox === 0, 10_000);
  t.equal(second.d.stats()[0].outbox, 0, 'every acknowledgement recorded: the outbox is empty');
});

t.test('a storm: at most the rate limit in messages, digests account for every alert', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.stop());
  const { d } = rig(t, tmpDir(t), channelConfig(rx.port, { rate_limit: 20 }));
  const scan = nth(99_999, { kind: 'scan.hosts', severity: 'high', device: 'cam-1', count: 10_000 });
  d.anomaly(scan, 'opened');
  for (let i = 0; i < 500; i++) d.anomaly(nth(i, { device: i % 2 ? 'plugs-a1b2c3' : 'tv', kind: 'policy.violation' }), 'opened');
  t.ok(await waitFor(() => rx.all.length >= 20, 15_000), `${rx.all.length} messages arrived`);
  await new Promise((r) => setTimeout(r, 1500));
  t.ok(rx.all.length <= 20, `at most the rate limit in the first minute: ${rx.all.length}`);
  const digests = rx.all.filter((r) => r.event === 'digest');
  const single = rx.all.filter((r) => r.event !== 'digest');
  t.ok(digests.length >= 1, `${digests.length} digest(s)`);
  const rolled = digests.reduce((s, r) => s + (r.digest?.total ?? 0), 0);
  t.equal(single.length + rolled, 501, `${single.length} alone + ${rolled} in digests = every one of the 501 alerts`);
  t.ok(single.some((r) => r.anomaly.kind === 'scan.hosts'), 'the scan came first, alone');
  t.match(digests[0].anomaly.message, /^and \d+ more: \d+ policy\.violation from (plugs-a1b2c3|tv)/, 'the digest says what it rolled up');
  t.equal(digests[0].anomaly.count, digests[0].digest?.total, 'its count is its total');
});

t.test('a receiver that refuses for good: counted, logged, not retried forever', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.stop());
  rx.status = 400;
  const { d } = rig(t, tmpDir(t), channelConfig(rx.port));
  d.anomaly(nth(1), 'opened');
  t.ok(await waitFor(() => d.stats()[0].failed === 1, 10_000), 'given up after one try');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(rx.refused, 1, 'tried once');
  t.equal(d.stats()[0].outbox, 0);
});

t.test('a full outbox sheds the oldest low-severity alerts first', async (t) => {
  const { port } = await Receiver.down();
  const { d, outbox } = rig(t, tmpDir(t), channelConfig(port), { maxRows: 10 });
  const sev: Severity[] = ['low', 'critical', 'low', 'high', 'medium', 'low', 'critical', 'high', 'low', 'medium', 'low', 'high', 'critical', 'medium', 'low'];
  sev.forEach((s, i) => d.anomaly(nth(i, { severity: s }), 'opened'));
  t.ok(await waitFor(() => d.stats()[0].dropped >= 5, 10_000), 'five dropped');
  t.equal(outbox.sizes().get('soc'), 10, 'ten kept');
  const kept = outbox.due('soc', Date.now() + 3_600_000, 100).map((r) => r.severity);
  t.same(kept.filter((s) => s === 'low').length, 1, 'of six low ones, the newest is kept');
  t.same(kept.filter((s) => s !== 'low').length, 9, 'every higher one kept');
});

t.test('alerts held beyond the rate limit are kept on disk: a restart sends them as one digest', async (t) => {
  const dir = tmpDir(t);
  const rx = await Receiver.down();
  const port = rx.port;
  t.teardown(() => rx.stop());
  const cfg = channelConfig(port, { rate_limit: 5 });
  const first = rig(t, dir, cfg);
  for (let i = 0; i < 30; i++) first.d.anomaly(nth(i, { device: i % 3 ? 'tv' : 'hub' }), 'opened');
  t.equal(first.d.stats()[0].outbox, 30, 'thirty waiting: a few one by one, the rest held for a digest');
  t.ok(first.outbox.sizes().get('soc')! <= 5, `at most the rate limit queued one by one (${first.outbox.sizes().get('soc')})`);
  await first.close();

  await rx.start(port);
  const second = rig(t, dir, cfg);
  t.ok(await waitFor(() => rx.all.some((r) => r.event === 'digest'), 15_000), 'the digest went out after the restart');
  await waitFor(() => second.d.stats()[0].outbox === 0, 5000);
  const digests = rx.all.filter((r) => r.event === 'digest');
  const single = rx.all.filter((r) => r.event !== 'digest');
  t.equal(single.length + digests.reduce((s, r) => s + (r.digest?.total ?? 0), 0), 30, 'every one of the thirty is accounted for');
  t.ok(rx.all.length <= 5, `${rx.all.length} messages: within the rate limit`);
  t.match(digests[0].digest?.lines.join(", "), /^\d+ protocol\.plaintext from tv, \d+ protocol\.plaintext from hub$/, "grouped by kind and device");
});
