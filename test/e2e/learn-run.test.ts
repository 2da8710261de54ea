// `run --learn-for 10s` fed through a FIFO (packet time is the clock): an unlisted camera is
// learned for its first 10 s, raising no policy.violation nor device.new though the quarantine
// profile allows none of its cloud calls, while a segment.crossing is still raised; its
// proposal is in the API; after the period what it learned is allowed and a new destination
// is reported; a second run on the same state directory goes on with the learned profile.

import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import type { FrameSink } from '../fixtures/synth/pcap-writer.js';
import { tcpConversation, udpExchange, type Host, type Wire } from '../fixtures/synth/conversation.js';
import { dnsQuery, dnsResponse } from '../fixtures/synth/dns.js';
import { clientHello } from '../fixtures/synth/tls.js';

const TOKEN = 'learn-read-token-' + Math.random().toString(36).slice(2) + 'abcdef';
const ADMIN = 'learn-admin-token-' + Math.random().toString(36).slice(2) + 'abcdef';
const dir = mkdtempSync(join(tmpdir(), 'segwatch-learn-run-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const gw: Host = { mac: '02:00:00:00:00:01', ip: '192.168.50.1' };
const cam: Host = { mac: '02:00:00:00:00:21', ip: '192.168.50.21' };
const policy = join(dir, 'site.yaml');
writeFileSync(policy, `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
protected: [lan]
resolvers: ["192.168.50.1"]
devices:
  - { name: gateway, mac: "${gw.mac}", profile: gateway }
default_profile: quarantine
profiles:
  gateway:
    allow: [ { to: "0.0.0.0/0" } ]
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
`);
writeFileSync(join(dir, 'token'), TOKEN + '\n', { mode: 0o600 });
writeFileSync(join(dir, 'admin-token'), ADMIN + '\n', { mode: 0o600 });

/** Classic pcap in memory: written to the FIFO in pieces, by phase. */
class MemPcap implements FrameSink {
  private parts: Buffer[] = [];
  header(): Buffer {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(262144, 16); h.writeUInt32LE(1, 20);
    return h;
  }
  write(tsUs: number, frame: Uint8Array, wireLen = frame.length): void {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(tsUs / 1e6), 0); r.writeUInt32LE(Math.floor(tsUs % 1e6), 4); r.writeUInt32LE(frame.length, 8); r.writeUInt32LE(wireLen, 12);
    this.parts.push(r, Buffer.from(frame));
  }
  take(): Buffer {
    const b = Buffer.concat(this.parts);
    this.parts = [];
    return b;
  }
}

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0) * 1000; // µs
let port = 41000, dnsId = 1;
function call(w: Wire, atS: number, name: string | null, ip: string, dport = 443): void {
  const us = T0 + atS * 1e6;
  if (name) {
    const id = dnsId++;
    udpExchange(w, us, cam, gw, port++, 53, dnsQuery(id, name), dnsResponse(id, name, 'A', [{ name, type: 'A', data: ip, ttl: 600 }]));
  }
  tcpConversation(w, {
    client: cam, server: { mac: gw.mac, ip }, sport: port++, dport, t0Us: us + 5000,
    exchanges: [{ from: 'c', data: clientHello({ sni: name ?? undefined as never, random: Buffer.alloc(32, 7) }) }, { from: 's', opaque: 900 }], close: 'fin',
  });
}

interface Run { child: ChildProcess; stderr: () => string; feed: FileHandle; base: string; exited: Promise<number | null> }
async function start(fifoName: string, out: string): Promise<Run> {
  const fifo = join(dir, fifoName);
  spawnSync('mkfifo', [fifo]);
  const child = spawn(process.execPath, [cliPath, 'run', '--policy', policy, '--capture', fifo, '--listen', '127.0.0.1:0', '--state-dir', join(dir, 'state'),
    '--out', out, '--learn-for', '10s', '--log-level', 'info'], {
    cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SEGWATCH_API_TOKEN: '', SEGWATCH_API_TOKEN_FILE: join(dir, 'token'), SEGWATCH_API_ADMIN_TOKEN_FILE: join(dir, 'admin-token') },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const feed = await Promise.race([open(fifo, 'w'), exited.then(() => null), sleep(30_000).then(() => null)]);
  if (!feed) throw new Error(`the collector did not open its capture: ${stderr.slice(-2000)}`);
  const deadline = Date.now() + 30_000;
  while (!/"address":"127\.0\.0\.1:\d+"[^\n]*API listening/.test(stderr) && Date.now() < deadline) await sleep(100);
  const address = /"address":"(127\.0\.0\.1:\d+)"[^\n]*API listening/.exec(stderr)?.[1];
  if (!address) throw new Error(`no API address: ${stderr.slice(-2000)}`);
  return { child, stderr: () => stderr, feed, base: `http://${address}`, exited };
}

async function get(run: Run, path: string): Promise<any> {
  const res = await fetch(run.base + path, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(10_000) });
  return res.json();
}

interface Line { kind: string; device: string; mac: string; peer: string; peerPort: number; state: string }
const lines = (file: string): Line[] => existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
async function until(ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await ok()) return true; await sleep(200); }
  return ok();
}

t.test('learn for 10 s, then enforce; the learning survives a restart', async (t) => {
  const pcap = new MemPcap();
  const w: Wire = { sink: pcap };
  const out1 = join(dir, 'one.jsonl'), out2 = join(dir, 'two.jsonl');
  const one = await start('one.fifo', out1);
  await one.feed.write(pcap.header());

  // 0-8 s: the camera's cloud calls (named and not), a crossing into lan; the gateway answers DNS
  call(w, 0, 'a.vendor.com', '198.51.100.10');
  call(w, 2, 'b.vendor.com', '198.51.100.11');
  call(w, 4, null, '203.0.113.7', 8883);
  tcpConversation(w, { client: cam, server: { mac: gw.mac, ip: '192.168.1.10' }, sport: port++, dport: 445, t0Us: T0 + 6e6, close: 'rst' });
  call(w, 8, 'a.vendor.com', '198.51.100.10');
  await one.feed.write(pcap.take());

  const crossing = await until(() => lines(out1).some((a) => a.kind === 'segment.crossing' && a.mac === cam.mac), 30_000);
  t.ok(crossing, 'segment.crossing is still raised while learning');
  const proposal = await until(async () => ((await get(one, '/api/v1/proposals')).proposals ?? []).some((p: any) => p.id === cam.mac), 30_000);
  t.ok(proposal, 'the camera\'s proposal is in the API');
  const p1 = (await get(one, '/api/v1/proposals')).proposals.find((p: any) => p.id === cam.mac);
  t.equal(p1?.state, 'learning');
  t.match(p1?.yaml, /\*\.vendor\.com/, 'the proposal groups the vendor\'s names');
  t.same(lines(out1).filter((a) => a.mac === cam.mac && ['policy.violation', 'device.new', 'volume.limit'].includes(a.kind)), [], 'nothing held back was raised in the first 10 s');
  const metrics = await (await fetch(one.base + '/metrics', { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(10_000) })).text();
  const held = Number(/^segwatch_learning_held_back_total (\d+)$/m.exec(metrics)?.[1] ?? NaN);
  t.ok(held > 0, `what was held back is counted on /metrics (${held})`);
  t.match(metrics, /^segwatch_mud_urls_rejected_total 0$/m, 'the MUD counters are there');

  // 12 s: the period is over: a learned call is allowed, a new destination is reported
  call(w, 12, 'c.vendor.com', '198.51.100.12');
  call(w, 13, null, '192.0.2.99', 8443);
  await one.feed.write(pcap.take());
  t.ok(await until(() => lines(out1).some((a) => a.kind === 'policy.violation' && a.peer === '192.0.2.99'), 30_000), 'the new destination is reported after the period');
  if (process.env.DEBUG_LEARN) t.comment(one.stderr().slice(-3000));
  t.same(lines(out1).filter((a) => a.kind === 'policy.violation' && a.peer !== '192.0.2.99').map((a) => `${a.peer}:${a.peerPort}`), [], 'what it learned stays allowed');
  t.ok(await until(() => existsSync(join(dir, 'state', 'proposals')), 10_000), 'proposals written to the state directory');
  const p2 = (await get(one, '/api/v1/proposals')).proposals.find((p: any) => p.id === cam.mac);
  t.equal(p2?.state, 'ready');
  t.ok(existsSync(join(dir, 'state', 'proposals', `${p2?.device}.yaml`)), `${p2?.device}.yaml written`);

  // the end of its input stops the collector (exit 0); its state stays in the directory
  await one.feed.close();
  const code = await Promise.race([one.exited, sleep(30_000).then(() => 'timeout')]);
  t.equal(code, 0, 'the collector ends with its input, exit 0');
  if (code !== 0) t.comment(one.stderr().slice(-3000));

  // after the restart: the learned profile is still in force (not learned again from scratch)
  const two = await start('two.fifo', out2);
  await two.feed.write(pcap.header());
  call(w, 30, 'a.vendor.com', '198.51.100.10');
  call(w, 31, null, '192.0.2.55', 9999);
  await two.feed.write(pcap.take());
  t.ok(await until(() => lines(out2).some((a) => a.kind === 'policy.violation' && a.peer === '192.0.2.55'), 30_000), 'after a restart a new destination is reported at once');
  t.same(lines(out2).filter((a) => a.kind === 'policy.violation' && a.peer === '198.51.100.10'), [], 'and the learned one is allowed');
  const p3 = (await get(two, '/api/v1/proposals')).proposals.find((p: any) => p.id === cam.mac);
  t.equal(p3?.state, 'ready', 'the proposal survived the restart');
  await two.feed.close();
  t.equal(await Promise.race([two.exited, sleep(30_000).then(() => 'timeout')]), 0, 'the second run ends with its input, exit 0');
});
