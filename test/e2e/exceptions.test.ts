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
import { spawn } from 'node:child_process';
import { cliPath, repoRoot } from '../helpers/paths.js';
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
  const child = spawn(process.execPath, [cliPath, 'run', '--config', cfg, '--log-level', 'info'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearTimeout(killer);
  t.equal(code, 0, stderr.slice(-2000));

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
