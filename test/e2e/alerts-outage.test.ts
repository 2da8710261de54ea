// Issue 11, "Must show" (outage): `segwatch run` with three alert channels, a webhook, syslog
// over TCP to a real rsyslogd and MQTT to a real mosquitto, all on loopback. During the
// incident the broker and rsyslog are stopped and the webhook answers 503 and then 429; the
// collector is killed (SIGKILL) and started again while they are still down; then they come
// back. Every receiver must end with every alert, exactly once after dropping repeats by
// idempotency key (the raw repeats are counted and reported).

import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { Receiver } from '../helpers/webhook-receiver.js';
import { available, Daemon, launch, tmpDir } from '../integration/alerts/util.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const RSYSLOGD = '/usr/sbin/rsyslogd';
const demo = path.join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policy = path.join(repoRoot, 'test/fixtures/demo/policy.yaml');
const TOPIC = 'segwatch/anomalies';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return true;
    await sleep(100);
  }
  return cond();
}

/** The demo's header and copy i, shifted i hours (its anomalies close as idle in between and open anew). */
function demoCopies(): { header: Buffer; copy: (i: number) => Buffer } {
  const b = fs.readFileSync(demo);
  const body = b.subarray(24);
  return {
    header: b.subarray(0, 24),
    copy(i) {
      const c = Buffer.from(body);
      for (let off = 0; off + 16 <= c.length; off += 16 + c.readUInt32LE(off + 8)) c.writeUInt32LE(c.readUInt32LE(off) + i * 3 * 3600, off);
      return c;
    },
  };
}

function rsyslogConf(dir: string, port: number): string {
  return `
global(workDirectory="${dir}" maxMessageSize="64k")
module(load="imtcp")
module(load="mmpstrucdata")
template(name="line" type="list") { property(name="msgid") constant(value="\\t") property(name="$!rfc5424-sd") constant(value="\\n") }
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="in")
ruleset(name="in") {
  action(type="mmpstrucdata" sd_name.lowercase="off")
  action(type="omfile" file="${dir}/syslog.log" template="line")
}
`;
}

function syslogKeys(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((l) => {
    try {
      const sd = JSON.parse(l.split('\t')[1] || '{}') as Record<string, Record<string, string>>;
      return sd['segwatch@32473']?.key ? [sd['segwatch@32473'].key] : [];
    } catch { return []; }
  });
}

interface Run { child: ChildProcess; exited: Promise<number | null>; stderr: () => string }
function startRun(t: Test, cfg: string, fifo: string): Run {
  const child = spawn(process.execPath, [cliPath, 'run', '--config', cfg, '--capture', fifo], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, exited, stderr: () => stderr };
}

const why = !available(MOSQUITTO) ? 'needs mosquitto' : !available(RSYSLOGD) ? 'needs rsyslogd' : null;

t.test('three channels down during an incident, the collector restarted meanwhile: every alert arrives, once by key', { skip: why ?? false }, async (t) => {
  const tmp = tmpDir('segwatch-alerts-outage-');
  t.teardown(() => tmp.remove());
  const dir = tmp.dir;
  fs.chmodSync(dir, 0o755);

  // the receivers
  const hook = new Receiver();
  await hook.start();
  t.teardown(() => hook.stop());
  const { daemon: broker, ports: [mqttPort] } = await launch(1, ([p]) => {
    fs.writeFileSync(path.join(dir, 'mosquitto.conf'), ['user root', 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`,
      'log_dest stderr', 'log_type error', `listener ${p} 127.0.0.1`, ''].join('\n'));
    return new Daemon(MOSQUITTO, ['-c', path.join(dir, 'mosquitto.conf')], [p]);
  });
  t.teardown(() => broker.stop());
  const { daemon: rsyslog, ports: [syslogPort] } = await launch(1, ([p]) => {
    fs.writeFileSync(path.join(dir, 'rsyslog.conf'), rsyslogConf(dir, p));
    return new Daemon(RSYSLOGD, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslog.pid')], [p]);
  });
  t.teardown(() => rsyslog.stop());
  // a durable subscriber: the broker keeps QoS 1 messages for it while it is away
  const mqttKeys: string[] = [];
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'outage-test-sub', clean: false, reconnectPeriod: 200 });
  t.teardown(() => sub.endAsync(true));
  await sub.subscribeAsync(TOPIC, { qos: 1 });
  sub.on('message', (_topic, payload) => { mqttKeys.push((JSON.parse(payload.toString()) as { key: string }).key); });

  const cfg = path.join(dir, 'segwatch.yaml');
  fs.writeFileSync(cfg, `policy: ${policy}
state_dir: ${dir}/state
log_level: info
out: ${dir}/one.jsonl
alerts:
  - { name: hook, type: webhook, url: "http://127.0.0.1:${hook.port}/segwatch", min_severity: info, retry_max: 2s, rate_limit: 10000 }
  - { name: siem, type: syslog, url: "tcp://127.0.0.1:${syslogPort}", min_severity: info, retry_max: 2s, rate_limit: 10000 }
  - { name: ha, type: mqtt, url: "mqtt://127.0.0.1:${mqttPort}", topic: ${TOPIC}, min_severity: info, retry_max: 2s, rate_limit: 10000, discovery: false }
`);
  const { header, copy } = demoCopies();
  const expected = new Set<string>();
  const opened = (file: string) => {
    if (!fs.existsSync(file)) return;
    for (const l of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const a = JSON.parse(l) as { id: string; state: string };
      if (a.state === 'open') expected.add(`${a.id}:opened`);
    }
  };
  const delivered = () => ({ hook: hook.unique(), siem: new Set(syslogKeys(path.join(dir, 'syslog.log'))), ha: new Set(mqttKeys) });
  const allHave = (keys: Set<string>) => Object.values(delivered()).every((s) => [...keys].every((k) => s.has(k)));

  // 1: all up, the first copy's anomalies go out
  const fifo1 = path.join(dir, 'one.fifo');
  spawnSync('mkfifo', [fifo1]);
  const one = startRun(t, cfg, fifo1);
  const feed1 = await Promise.race([open(fifo1, 'w'), one.exited.then(() => null)]);
  if (!feed1) { t.fail(`the collector exited: ${one.stderr().slice(-2000)}`); return; }
  await feed1.write(header);
  await feed1.write(copy(0));
  t.ok(await until(() => delivered().hook.size >= 10, 30_000), `before the outage the webhook got ${delivered().hook.size} alerts`);

  // 2: the incident: broker and rsyslog stopped, the webhook answers 503, then 429
  await broker.stop();
  await rsyslog.stop();
  hook.status = 503;
  await feed1.write(copy(1));
  t.ok(await until(() => hook.refused >= 2, 30_000), 'the webhook refused with 503');
  hook.status = 429;
  hook.retryAfter = '1';
  await feed1.write(copy(2));
  t.ok(await until(() => hook.tries.some((x) => x.status === 429), 30_000), 'and with 429');

  // 3: the collector dies and is started again while every channel is still down
  one.child.kill('SIGKILL');
  await one.exited;
  await feed1.close().catch(() => {});
  const fifo2 = path.join(dir, 'two.fifo');
  spawnSync('mkfifo', [fifo2]);
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^out: .*$/m, `out: ${dir}/two.jsonl`));
  const two = startRun(t, cfg, fifo2);
  const feed2 = await Promise.race([open(fifo2, 'w'), two.exited.then(() => null)]);
  if (!feed2) { t.fail(`the restarted collector exited: ${two.stderr().slice(-2000)}`); return; }
  await feed2.write(header);
  await feed2.write(copy(3));
  await sleep(2000);

  // 4: the channels come back
  await broker.up();
  await rsyslog.up();
  hook.status = 200;
  opened(path.join(dir, 'one.jsonl'));
  opened(path.join(dir, 'two.jsonl'));
  t.ok(expected.size >= 40, `${expected.size} anomalies opened during the incident`);
  const ok = await until(() => allHave(expected), 90_000);
  const d = delivered();
  for (const [name, got] of Object.entries(d)) {
    const missing = [...expected].filter((k) => !got.has(k));
    t.same(missing.slice(0, 5), [], `${name}: every one of ${expected.size} alerts arrived (${missing.length} missing)`);
    const extra = [...got].filter((k) => !expected.has(k));
    t.same(extra.slice(0, 5), [], `${name}: nothing else`);
  }
  t.ok(ok, 'all three receivers complete');
  const raw = { hook: hook.all.length, siem: syslogKeys(path.join(dir, 'syslog.log')).length, ha: mqttKeys.length };
  t.comment(`raw deliveries (repeats): hook ${raw.hook} (${raw.hook - d.hook.size}), siem ${raw.siem} (${raw.siem - d.siem.size}), ha ${raw.ha} (${raw.ha - d.ha.size})`);

  await feed2.close();
  t.equal(await Promise.race([two.exited, sleep(60_000).then(() => 'timeout')]), 0, 'the restarted collector ends with its input, exit 0');
});
