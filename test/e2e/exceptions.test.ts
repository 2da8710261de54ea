// Issue 11, "Must show" (exceptions): `segwatch run` over the demo capture with two accepted
// behaviours in the policy, a webhook channel and InfluxDB. The hub's DNS-over-TLS to
// Cloudflare (an exception with a comment and no end) raises no alert and is marked
// suppressed in the out file and InfluxDB; the doorbell's cloud relay (an exception with a
// glob on the peer, ending at 10:02 of the capture's clock) is suppressed when it opens and
// alerts as soon as its exception ends.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { cliPath, repoRoot, segwatchAsync } from '../helpers/paths.js';
import { influxdAvailable, records, startInfluxd } from '../helpers/influxd.js';
import { Receiver } from '../helpers/webhook-receiver.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const demoPolicy = join(repoRoot, 'test/fixtures/demo/policy.yaml');

t.test('accepted behaviours: suppressed everywhere, alerted only once their exception ends', { skip: influxdAvailable() ? false : 'needs influxd' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-exceptions-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hook = new Receiver();
  await hook.start();
  t.teardown(() => hook.stop());
  const influxd = await startInfluxd();
  t.teardown(() => influxd.destroy());

  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, readFileSync(demoPolicy, 'utf8') + `
exceptions:
  - { device: hub, kind: dns.bypass, peer: "1.1.1.1", comment: "the hub's DNS-over-TLS to Cloudflare, accepted by the admin" }
  - { device: doorbell, peer: "203.0.113.*", port: 443, comment: "cloud relay, accepted until the firmware update", until: "2026-11-01T10:02:00Z" }
`);
  const cfg = join(dir, 'segwatch.yaml');
  const out = join(dir, 'out.jsonl');
  writeFileSync(cfg, `policy: ${policy}
capture: ${demo}
state_dir: ${dir}/state
out: ${out}
influx: ${influxd.url}/exc
alerts:
  - { name: soc, type: webhook, url: "http://127.0.0.1:${hook.port}/hook", min_severity: info, rate_limit: 10000 }
`);
  // not spawnSync: the webhook receiver lives in this process and must answer meanwhile
  const r = await segwatchAsync(['run', '--config', cfg, '--log-level', 'info'], { timeoutMs: 90_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));

  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const hub = lines.filter((a) => a.device === 'hub' && a.kind === 'dns.bypass');
  const bell = lines.filter((a) => a.device === 'doorbell' && a.peer === '203.0.113.80');
  t.ok(hub.length >= 1 && hub.every((a) => a.suppressed === true), `hub's dns.bypass marked suppressed (${hub.length} lines)`);
  t.equal(bell[0]?.state, 'open');
  t.equal(bell[0]?.suppressed, true, 'the doorbell relay opened suppressed (its exception in force at 10:01:00)');
  t.equal(bell[bell.length - 1]?.suppressed, false, 'and was no longer suppressed at its close');

  const keys = hook.unique();
  t.notOk([...keys].some((k) => k.startsWith(`${String(hub[0]?.id)}:`)), 'no alert for the hub\'s accepted DNS-over-TLS');
  t.ok(keys.has(`${String(bell[0]?.id)}:opened`), 'the doorbell relay alerted once its exception ended');
  const other = lines.filter((a) => a.state === 'open' && a.suppressed === false).map((a) => `${String(a.id)}:opened`);
  t.ok(other.length > 10 && other.every((k) => keys.has(k)), `every unsuppressed anomaly alerted (${other.length})`);

  const points = records(await influxd.query('SELECT "id", "suppressed", "state" FROM "anomaly"', { db: 'exc' }));
  const p = (id: unknown) => points.find((x) => x.id === id);
  t.equal(p(hub[0]?.id)?.suppressed, true, 'InfluxDB: the hub point is suppressed');
  t.equal(p(bell[0]?.id)?.suppressed, false, 'InfluxDB: the doorbell point is not, since its exception ended');
});

t.test('an acknowledgement through the API: admin only, suppresses its anomaly, survives a reload and a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-ack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hook = new Receiver();
  await hook.start();
  t.teardown(() => hook.stop());
  const token = 'read-' + Math.random().toString(36).slice(2).padEnd(16, 'x');
  const admin = 'admin-' + Math.random().toString(36).slice(2).padEnd(16, 'y');
  const port = 20000 + Math.floor(Math.random() * 30000);
  const api = `http://127.0.0.1:${port}/api/v1`;
  const cfg = join(dir, 'segwatch.yaml');
  writeFileSync(cfg, `policy: ${demoPolicy}
state_dir: ${dir}/state
listen: 127.0.0.1:${port}
alerts:
  - { name: soc, type: webhook, url: "http://127.0.0.1:${hook.port}/hook", min_severity: info, rate_limit: 10000 }
`);
  const b = readFileSync(demo);
  // copy i of the demo, i hours later: the same causes open new anomalies (the idle time is 1 h)
  const copy = (i: number) => {
    const c = Buffer.from(b.subarray(24));
    for (let off = 0; off + 16 <= c.length; off += 16 + c.readUInt32LE(off + 8)) c.writeUInt32LE(c.readUInt32LE(off) + i * 7200, off);
    return c;
  };
  const start = async (name: string) => {
    const fifo = join(dir, `${name}.fifo`);
    spawnSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [cliPath, 'run', '--config', cfg, '--capture', fifo, '--log-level', 'info'],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SEGWATCH_API_TOKEN: token, SEGWATCH_API_ADMIN_TOKEN: admin } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    const feed = await Promise.race([open(fifo, 'w'), exited.then(() => null)]);
    if (!feed) throw new Error(`the collector exited: ${stderr.slice(-2000)}`);
    await feed.write(b.subarray(0, 24));
    return { child, exited, feed, stderr: () => stderr };
  };
  const get = async (path: string) => (await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<Record<string, unknown>>;
  const until = async (cond: () => Promise<boolean> | boolean, ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end;) { if (await Promise.resolve().then(cond).catch(() => false)) return true; await new Promise((r) => setTimeout(r, 100)); }
    return false;
  };
  const bellOf = async () => ((await get('/anomalies?device=doorbell&limit=100')).anomalies as Array<Record<string, unknown>>)
    .filter((a) => a.peer === '203.0.113.80');

  const one = await start('one');
  await one.feed.write(copy(0));
  t.ok(await until(async () => (await bellOf()).length > 0, 30_000), 'the doorbell relay is open in the API');
  const [bell] = await bellOf();
  const ack = (tok: string, body: unknown) => fetch(`${api}/anomalies/${String(bell.id)}/ack`, {
    method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  t.equal((await ack(token, { comment: 'x' })).status, 403, 'the read token may not acknowledge');
  t.equal((await ack(admin, { comment: 'x', until: '2027-02-30' })).status, 400, 'a date that is not one is refused');
  const res = await ack(admin, { comment: 'cloud relay, accepted by the admin', until: '2030-01-01' });
  t.equal(res.status, 200);
  const r = await res.json() as { exception: Record<string, unknown>; reloaded: boolean };
  t.match(r, { reloaded: true, exception: { device: 'doorbell', kind: 'policy.violation', peer: '203.0.113.80', port: 443, until: '2030-01-01' } });
  t.match(readFileSync(join(dir, 'state', 'exceptions.yaml'), 'utf8'), /cloud relay, accepted by the admin/, 'written to exceptions.yaml in the state directory');
  one.child.kill('SIGHUP');
  await one.feed.write(copy(1));
  t.ok(await until(async () => (await bellOf()).some((a) => a.id === bell.id && a.suppressed === true), 30_000), 'its anomaly is now marked suppressed (after a SIGHUP reload too)');
  one.child.kill('SIGTERM');
  await one.feed.close();
  t.equal(await one.exited, 0);

  const before = hook.unique().size;
  const two = await start('two');
  await two.feed.write(copy(3));
  t.ok(await until(async () => (await bellOf()).some((a) => a.id !== bell.id), 30_000), 'after the restart the same cause opened anew');
  const again = (await bellOf()).find((a) => a.id !== bell.id)!;
  t.equal(again.suppressed, true, 'and is suppressed from its first packet: the acknowledgement survived the restart');
  await two.feed.close();
  t.equal(await two.exited, 0);
  t.ok(hook.unique().size > before, 'other anomalies still alerted after the restart');
  t.notOk(hook.unique().has(`${String(again.id)}:opened`), 'the acknowledged behaviour did not');
});
