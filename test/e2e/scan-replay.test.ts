// Scans end to end (`segwatch replay`, default detector settings): a smart plug's telnet sweep
// at ten hosts a second is one scan.hosts with a handful of records before it; nDPI's SYN scan
// capture is found; and the discovery and cloud traffic of every real IoT capture in the shared
// captures raises no scan anomaly.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, capturesDir, segwatch } from '../helpers/paths.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';
import { sendTcp } from '../fixtures/synth/conversation.js';
import type { Host } from '../fixtures/synth/conversation.js';
import { SYN } from '../fixtures/synth/frames.js';
import { Prng } from '../fixtures/synth/prng.js';

interface A { [k: string]: string | number }
const parse = (out: string): A[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));

const dir = mkdtempSync(join(tmpdir(), 'segwatch-scan-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Watches every private range, so every device of a capture is judged. */
function sitePolicy(extra = ''): string {
  const p = join(dir, `policy${extra ? '-x' : ''}.yaml`);
  writeFileSync(p, `version: 1
segments:
  site: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"]
watch: [site]
resolvers: ["192.168.50.1", "10.10.10.1"]
devices:
  - { name: plug, mac: "50:c7:bf:00:00:42", profile: smart-plug }
default_profile: quarantine
profiles:
  smart-plug:
    allow:
      - { to: "*.tplinkcloud.com", ports: ["443/tcp"] }
      - { service: dns }
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
${extra}`);
  return p;
}

const GW_MAC = '24:5a:4c:50:00:01';
const PLUG: Host = { mac: '50:c7:bf:00:00:42', ip: '192.168.50.42' };
const T0_US = Date.UTC(2026, 2, 1, 10, 0, 0) * 1000;

t.test('a plug sending unanswered telnet SYNs to 60 random hosts at ten a second: one scan.hosts', async (t) => {
  const file = join(dir, 'sweep.pcap');
  const w = new PcapWriter(file);
  const rnd = new Prng(42);
  const frames: [number, Host, number][] = [];
  for (let i = 0; i < 60; i++) {
    const ip = `${1 + (rnd.u32() % 222)}.${rnd.u32() % 256}.${rnd.u32() % 256}.${1 + (rnd.u32() % 254)}`;
    const at = T0_US + i * 100_000;
    // the kernel retransmits an unanswered SYN after 1 s and 3 s
    for (const dt of [0, 1_000_000, 3_000_000]) frames.push([at + dt, { mac: GW_MAC, ip }, 30000 + i]);
  }
  frames.sort((a, b) => a[0] - b[0]);
  for (const [at, to, sport] of frames) sendTcp({ sink: w }, at, PLUG, to, { sport, dport: 23, seq: sport * 7919, flags: SYN, window: 14600, mss: 1460 });
  w.close();

  const r = segwatch(['replay', file, '--policy', sitePolicy(), '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const as = parse(r.stdout).filter((a) => a.ip === PLUG.ip);
  const scans = as.filter((a) => a.kind === 'scan.hosts');
  t.equal(scans.length, 1, 'one scan.hosts');
  t.match(scans[0], { device: 'plug', count: 60, rule: 'scanHostsFastThreshold', firstSeen: new Date(T0_US / 1000).toISOString() });
  const others = as.filter((a) => a.kind !== 'scan.hosts');
  t.ok(others.length <= 10, `at most about ten other records from the scanner (${others.length}: ${others.map((a) => a.kind).join(', ')})`);
  t.ok(others.every((a) => Date.parse(String(a.firstSeen)) < T0_US / 1000 + 3000), 'all of them from its first seconds');
  t.equal(parse(r.stdout).filter((a) => String(a.kind).startsWith('scan.')).length, 1, 'nothing else looks like a scan');
});

t.test('proto/ndpi-synscan.pcap: a SYN scan of one host is one scan.ports', async (t) => {
  const r = segwatch(['replay', capture('proto/ndpi-synscan.pcap'), '--policy', sitePolicy(), '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const as = parse(r.stdout);
  const scans = as.filter((a) => a.kind === 'scan.ports');
  t.equal(scans.length, 1, 'one scan.ports');
  t.match(scans[0], { ip: '172.16.0.8', peer: '64.13.134.52', rule: 'scanPortsFastThreshold' });
  t.ok(Number(scans[0].count) >= 900, `counts the ports (${scans[0].count})`);
  t.ok(as.filter((a) => a.ip === '172.16.0.8' && !String(a.kind).startsWith('scan.')).length <= 12,
    `few records from the scanner besides the scan (${as.length - 1})`);
  t.equal(as.filter((a) => a.kind === 'scan.hosts').length, 0, 'one host: no host scan');
});

/** Every capture under iot/, nested folders included. */
function iotCaptures(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/\.pcap(ng)?$/.test(e.name)) out.push(join(d, e.name));
    }
  };
  walk(join(capturesDir, 'iot'));
  return out.sort();
}

t.test('real IoT devices: no capture under iot/ raises a scan anomaly', async (t) => {
  const files = iotCaptures();
  t.ok(files.length >= 40, `${files.length} captures`);
  const policy = sitePolicy();
  for (const f of files) {
    const r = segwatch(['replay', f, '--policy', policy, '--format', 'jsonl']);
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
    const as = parse(r.stdout);
    const name = f.slice(capturesDir.length + 1);
    t.same(as.filter((a) => String(a.kind).startsWith('scan.')).map((a) => `${a.kind} ${a.ip} ${a.rule} ${a.count}`), [], `${name}: no scan (${as.length} other anomalies)`);
  }
});
