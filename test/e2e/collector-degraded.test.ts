// Issue 11, "Must show" (collector.degraded): a live capture that goes silent, and an InfluxDB
// spool that keeps growing, each reach an alert channel (a webhook on loopback) as
// collector.degraded, and each closes ('cleared') when its condition ends: the device in the
// network namespace speaks again; influxd comes back and the spool drains. The thresholds
// are the run config's degraded_silence and degraded_spool (10 s here, 5 min by default).

import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot, skipUnless } from '../helpers/paths.js';
import { influxdAvailable, startInfluxd } from '../helpers/influxd.js';
import { createVethLab, dnsQuery, netnsUnavailable, type VethLab } from '../helpers/netns.js';
import { Receiver } from '../helpers/webhook-receiver.js';

const DEVICE = '192.168.51.10';
const RESOLVER = '192.168.51.1';
const why = netnsUnavailable() ?? (influxdAvailable() ? null : 'needs influxd (Debian package influxdb)');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return true;
    await sleep(200);
  }
  return cond();
}

t.test('silence and a growing spool reach a channel as collector.degraded, and close when they end', { skip: skipUnless(!why, why ?? '') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-degraded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let lab: VethLab | null = null;
  t.teardown(() => lab?.destroy());
  lab = createVethLab({ deviceCidr: `${DEVICE}/24`, neighbours: [{ ip: RESOLVER, mac: '02:00:00:00:00:01' }] });
  const agent = await lab.agent(300_000);
  t.teardown(() => agent.close().catch(() => {}));
  const hook = new Receiver();
  await hook.start();
  t.teardown(() => hook.stop());
  // InfluxDB down from the start: the collector's points go to the spool, which grows
  const influxd = await startInfluxd();
  t.teardown(() => influxd.destroy());
  await influxd.stop({ hard: true });

  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, `version: 1
segments: { iot: ["192.168.51.0/24"] }
watch: [iot]
resolvers: ["${RESOLVER}"]
devices: [ { name: cam, ip: "${DEVICE}", profile: dns-only } ]
default_profile: dns-only
profiles: { dns-only: { allow: [ { service: dns } ] } }
`);
  const cfg = join(dir, 'segwatch.yaml');
  writeFileSync(cfg, `policy: ${policy}
interface: ${lab.hostIf}
state_dir: ${dir}/state
influx: ${influxd.url}/segwatch
degraded_silence: 10
degraded_spool: 10
log_level: info
alerts:
  - { name: ops, type: webhook, url: "http://127.0.0.1:${hook.port}/hook", min_severity: info, closed: true, kinds: [collector.degraded], retry_max: 2s }
`);
  const child = spawn(process.execPath, [cliPath, 'run', '--config', cfg], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  t.ok(await until(() => /segwatch collector started/.test(stderr), 30_000), 'the collector started');

  const talk = async (ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end;) {
      await agent.udp(RESOLVER, 53, dnsQuery('degraded.segwatch.test')).catch(() => {});
      await sleep(300);
    }
  };
  const degraded = (rule: string, event: string) => hook.all.find((r) => r.anomaly.kind === 'collector.degraded' && r.anomaly.rule === rule && r.event === event);

  // the device speaks for a while, then nothing is on the wire
  await talk(4000);
  const silentFrom = Date.now();
  t.ok(await until(() => !!degraded('silence', 'opened'), 60_000), 'silence: opened at the channel');
  t.comment(`silence reported ${Date.now() - silentFrom} ms after the last packet (threshold 10 s, health every 10 s)`);
  const s = degraded('silence', 'opened');
  t.equal(s?.anomaly.severity, 'critical');
  t.match(s?.anomaly.message, /no packet or flow record from live:/);

  t.ok(await until(() => !!degraded('spool', 'opened'), 60_000), 'spool: opened at the channel (InfluxDB down, the spool grows)');
  t.match(degraded('spool', 'opened')?.anomaly.message, /spool has grown/);

  // the conditions end: the device speaks again, InfluxDB is back and the spool drains
  void talk(25_000);
  t.ok(await until(() => !!degraded('silence', 'closed'), 60_000), 'silence: closed when packets came again');
  t.equal(degraded('silence', 'closed')?.anomaly.closeReason, 'cleared');
  await influxd.start();
  t.ok(await until(() => !!degraded('spool', 'closed'), 90_000), 'spool: closed once InfluxDB took the spool');
  t.equal(degraded('spool', 'closed')?.anomaly.closeReason, 'cleared');

  child.kill('SIGTERM');
  const timer = setInterval(() => { void agent.udp(RESOLVER, 53, dnsQuery('nudge.segwatch.test')).catch(() => {}); }, 200);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearInterval(timer);
  t.equal(code, 0, 'SIGTERM: exit 0');
});
