// Issue 11, "Must show" (storm): in one minute of traffic a camera sweeps 10,000 hosts and
// 50 plugs open 500 connections their profile forbids. `segwatch run` over that capture
// with a webhook channel at the default rate limit (20 a minute) must reach the channel as
// at most the rate limit in messages (digests included), and the digests must account for
// every alert: singles plus digest totals equal the anomalies opened.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { segwatchAsync } from '../helpers/paths.js';
import { Receiver } from '../helpers/webhook-receiver.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';
import { sendTcp, tcpConversation, type Host } from '../fixtures/synth/conversation.js';
import { SYN } from '../fixtures/synth/frames.js';

const GW = '24:5a:4c:50:00:01';
const CAM: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
const T0 = Date.UTC(2026, 10, 1, 10, 0, 0) * 1000;
const plug = (i: number): Host => ({ mac: `50:c7:bf:00:01:${i.toString(16).padStart(2, '0')}`, ip: `192.168.50.${100 + i}` });

t.test('a sweep of 10,000 hosts and 500 violations in a minute: at most the rate limit, digests count the rest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-storm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cap = join(dir, 'storm.pcap');
  const w = new PcapWriter(cap);
  const frames: Array<() => void> = [];
  const at: number[] = [];
  // the sweep: a SYN to a new host every 6 ms, none answered
  for (let i = 0; i < 10_000; i++) {
    const ts = T0 + i * 6000;
    const to: Host = { mac: GW, ip: `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` };
    at.push(ts);
    frames.push(() => sendTcp({ sink: w }, ts, CAM, to, { sport: 20000 + (i % 40000), dport: 23, seq: i * 7919, flags: SYN, window: 14600, mss: 1460 }));
  }
  // the violations: each of 50 plugs opens 10 answered connections to hosts of its own, 6 s apart
  for (let p = 0; p < 50; p++) {
    for (let k = 0; k < 10; k++) {
      const ts = T0 + p * 100_000 + k * 5_900_000;
      const server: Host = { mac: GW, ip: `203.0.${p}.${10 + k}` };
      at.push(ts);
      frames.push(() => tcpConversation({ sink: w }, { client: plug(p), server, sport: 40000 + k, dport: 8443, t0Us: ts, close: 'fin' }));
    }
  }
  const order = at.map((ts, i) => [ts, i]).sort((a, b) => a[0] - b[0]);
  for (const [, i] of order) frames[i]();
  w.close();

  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, `version: 1
segments: { iot: ["192.168.50.0/24"] }
watch: [iot]
resolvers: ["192.168.50.1"]
devices:
  - { name: cam, mac: "${CAM.mac}", profile: q }
  - { name: plugs, mac: "50:c7:bf:00:01:*", profile: q }
default_profile: q
profiles: { q: { allow: [ { service: dns } ] } }
`);
  const hook = new Receiver();
  await hook.start();
  t.teardown(() => hook.stop());
  const out = join(dir, 'out.jsonl');
  const cfg = join(dir, 'segwatch.yaml');
  writeFileSync(cfg, `policy: ${policy}
capture: ${cap}
state_dir: ${dir}/state
out: ${out}
alerts:
  - { name: soc, type: webhook, url: "http://127.0.0.1:${hook.port}/hook", min_severity: info }
`);
  // not spawnSync: the webhook receiver lives in this process and must answer meanwhile
  const r = await segwatchAsync(['run', '--config', cfg, '--log-level', 'warn']);
  t.equal(r.code, 0, r.stderr.slice(-1500));

  const opened = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((a) => a.state === 'open');
  const kinds = new Map<string, number>();
  for (const a of opened) kinds.set(String(a.kind), (kinds.get(String(a.kind)) ?? 0) + 1);
  t.comment(`anomalies opened: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  t.equal(kinds.get('scan.hosts'), 1, 'the sweep is one scan.hosts');
  t.ok((kinds.get('policy.violation') ?? 0) >= 500, `the 500 violations (${kinds.get('policy.violation')})`);
  t.ok(opened.length <= 520, `about ten records from the scanner besides the scan (${opened.length} in all)`);

  const singles = hook.all.filter((r) => r.event !== 'digest');
  const digests = hook.all.filter((r) => r.event === 'digest');
  t.ok(hook.all.length <= 20, `${hook.all.length} messages in this minute: at most the rate limit (20), digests included`);
  t.ok(digests.length >= 1, `${digests.length} digest(s)`);
  // what the run could not send yet waits in the outbox (held for the next digest): counted too
  const db = new Database(join(dir, 'state', 'state.db'), { readonly: true });
  const held = (db.prepare("SELECT count(*) AS n FROM outbox WHERE channel = 'soc'").get() as { n: number }).n
    + ((db.prepare("SELECT sum(total) AS n FROM held_digests WHERE channel = 'soc'").get() as { n: number | null }).n ?? 0);
  db.close();
  const total = singles.length + digests.reduce((s, r) => s + (r.digest?.total ?? 0), 0);
  t.equal(total + held, opened.length, `singles ${singles.length} + in digests ${total - singles.length} + still held ${held} = every alert (${opened.length})`);
  t.ok(singles.some((r) => r.anomaly.kind === 'scan.hosts') || digests.some((r) => /scan\.hosts/.test(r.anomaly.message)), 'the scan is among them');
});
