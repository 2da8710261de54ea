// `segwatch learn` end to end through the built CLI: a learned policy that is not too
// permissive (the demo's planted anomalies all still found), that generalises to traffic it
// did not learn from (a third vendor name allowed, another domain not), that a person can
// read (the alexa capture: at most 8 rules a device, each commented, pinned by a golden
// file), and that always passes `segwatch policy check`.

import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { capture, repoRoot, segwatch } from '../helpers/paths.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';
import { tcpConversation, udpExchange, type Host, type Wire } from '../fixtures/synth/conversation.js';
import { dnsQuery, dnsResponse } from '../fixtures/synth/dns.js';
import { clientHello } from '../fixtures/synth/tls.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const allowed = join(repoRoot, 'test/fixtures/demo/allowed.pcap');
const demoPolicy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const golden = join(repoRoot, 'test/fixtures/learn/ndpi-alexa-app.learned.yaml');

const dir = mkdtempSync(join(tmpdir(), 'segwatch-learn-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface A { kind: string; peer: string; peerName: string; ip: string }
const anomalies = (out: string): A[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));

function learn(args: string[]): string {
  const out = join(dir, `learned-${Math.random().toString(36).slice(2)}.yaml`);
  const r = segwatch(['learn', ...args, '--out', out]);
  if (r.code !== 0) throw new Error(`learn failed (${r.code}): ${r.stderr}`);
  return out;
}

t.test('demo: learned from allowed.pcap with the demo policy as skeleton, every planted kind still found', async (t) => {
  const learned = learn([allowed, '--policy', demoPolicy]);
  t.equal(segwatch(['policy', 'check', learned]).code, 0, 'the draft passes policy check');
  const text = readFileSync(learned, 'utf8');
  for (const name of ['gateway', 'doorbell', 'nvr', 'plugs', 'tv', 'hub']) t.match(text, new RegExp(`name: ${name},`), `hand-written entry ${name} kept`);
  t.match(text, /bytes_per_hour: 1MB/, 'the plugs\' hand-written limit kept');
  const kinds = (policy: string) => {
    const r = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl']);
    t.equal(r.code, 0, r.stderr);
    return [...new Set(anomalies(r.stdout).map((a) => a.kind))].sort();
  };
  const before = kinds(demoPolicy), after = kinds(learned);
  t.ok(before.length >= 10, `the demo policy finds ${before.join(', ')}`);
  t.same(after.filter((k) => before.includes(k)), before, 'every kind the demo policy finds is found with the learned one');
  const quiet = segwatch(['replay', allowed, '--policy', learned, '--format', 'jsonl']);
  t.same(anomalies(quiet.stdout).map((a) => `${a.kind} ${a.ip} ${a.peer}`), [], 'what it learned from raises nothing');
});

// A camera at .21 that resolves and calls its vendor's cloud; the resolver is the gateway.
const gw: Host = { mac: '02:00:00:00:00:01', ip: '192.168.50.1' };
const cam: Host = { mac: '02:00:00:00:00:21', ip: '192.168.50.21' };
const skeleton = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
protected: [lan]
resolvers: ["192.168.50.1"]
default_profile: quarantine
profiles:
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
`;

/** A capture of the camera resolving each name and opening TLS to it (SNI), a minute apart. */
function vendorCapture(path: string, t0s: number, calls: ReadonlyArray<[name: string, ip: string]>, extra?: (w: Wire, us: number) => void): void {
  const pcap = new PcapWriter(path);
  const w: Wire = { sink: pcap };
  let us = t0s * 1e6, id = 0x100, port = 40000;
  for (const [name, ip] of calls) {
    id++;
    udpExchange(w, us, cam, gw, port++, 53, dnsQuery(id, name), dnsResponse(id, name, 'A', [{ name, type: 'A', data: ip, ttl: 300 }]));
    const server: Host = { mac: gw.mac, ip };
    tcpConversation(w, {
      client: cam, server, sport: port++, dport: 443, t0Us: us + 10_000,
      exchanges: [{ from: 'c', data: clientHello({ sni: name, random: Buffer.alloc(32, id & 0xff) }) }, { from: 's', opaque: 1200 }],
      close: 'fin',
    });
    us += 60e6;
  }
  extra?.(w, us);
  pcap.close();
}

t.test('generalisation: a.vendor.com and b.vendor.com learned, c.vendor.com allowed, vendor.net not', async (t) => {
  const skel = join(dir, 'skeleton.yaml');
  writeFileSync(skel, skeleton);
  const first = join(dir, 'first.pcap'), second = join(dir, 'second.pcap');
  vendorCapture(first, 1_780_000_000, [['a.vendor.com', '198.51.100.10'], ['b.vendor.com', '198.51.100.77'], ['a.vendor.com', '198.51.100.10']], (w, us) => {
    // a crossing into lan and DNS to another resolver: seen, never learned
    tcpConversation(w, { client: cam, server: { mac: gw.mac, ip: '192.168.1.10' }, sport: 45000, dport: 445, t0Us: us, close: 'rst' });
    udpExchange(w, us + 1e6, cam, { mac: gw.mac, ip: '8.8.8.8' }, 45001, 53, dnsQuery(7, 'x.example'), dnsResponse(7, 'x.example', 'A', []));
  });
  vendorCapture(second, 1_780_100_000, [['c.vendor.com', '203.0.113.5'], ['vendor.net', '203.0.113.99']]);

  const learned = learn([first, '--policy', skel]);
  t.equal(segwatch(['policy', 'check', learned]).code, 0, 'the draft passes policy check');
  const text = readFileSync(learned, 'utf8');
  t.match(text, /to: "\*\.vendor\.com", ports: \[ "?443\/tcp"? \]/, 'the two names grouped under their registrable domain');
  t.match(text, /not learned: segment\.crossing: to 192\.168\.1\.10 445\/tcp/, 'the crossing listed, not learned');
  t.match(text, /not learned: dns\.bypass: DNS to 8\.8\.8\.8 53\/udp/, 'the bypass listed, not learned');
  t.notMatch(text, /192\.168\.1\.10"?,? ports|8\.8\.8\.8"?, ports/, 'neither is a rule');
  const doc = parse(text);
  t.ok(doc.devices.some((d: { mac?: string; profile: string }) => d.mac === cam.mac && d.profile === d.profile), 'the camera added by its exact MAC');
  t.ok(doc.profiles[doc.devices.find((d: { mac?: string }) => d.mac === cam.mac).profile], 'with its own profile');

  const r = segwatch(['replay', second, '--policy', learned, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const flows = anomalies(r.stdout).filter((a) => a.kind !== 'device.new');
  t.same(flows.map((a) => `${a.kind} ${a.peer} ${a.peerName}`), ['policy.violation 203.0.113.99 vendor.net'], 'c.vendor.com allowed, vendor.net reported');
});

t.test('alexa capture: at most 8 rules a device, every rule commented, pinned by a golden file', async (t) => {
  const learned = learn([capture('iot/ndpi-alexa-app.pcapng')]);
  t.equal(segwatch(['policy', 'check', learned]).code, 0, 'the draft passes policy check');
  const text = readFileSync(learned, 'utf8');
  const doc = parse(text);
  const profiles = Object.entries(doc.profiles as Record<string, { allow: { comment?: string }[]; allow_in?: { comment?: string }[] }>)
    .filter(([name]) => name !== 'quarantine');
  t.ok(profiles.length >= 2, `${profiles.length} learned profiles`);
  for (const [name, p] of profiles) {
    const rules = [...p.allow, ...(p.allow_in ?? [])];
    t.ok(rules.length <= 8, `${name}: ${rules.length} rules`);
    t.same(rules.filter((r) => !/^learned: \d+ flows?, \d{4}-\d\d-\d\d \d\d:\d\d - /.test(r.comment ?? '')), [], `${name}: every rule says how often and when`);
  }
  if (process.env.SEGWATCH_UPDATE_GOLDEN) writeFileSync(golden, text);
  t.ok(existsSync(golden), `${golden} exists`);
  t.equal(text, readFileSync(golden, 'utf8'), `the draft is ${golden} (SEGWATCH_UPDATE_GOLDEN=1 rewrites it)`);
});
