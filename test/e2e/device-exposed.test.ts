// Issue 13, "Must show" (device.exposed): `segwatch replay` of a capture this test writes. An
// Internet host opening to the camera's RTSP port is device.exposed; the camera's own cloud
// session (its SYN out, the SYN-ACK and data back) raises nothing; a LAN phone that the
// profile's allow_in allows raises nothing, another phone is a policy.violation of the
// camera; an Internet ping is reported as "ICMP echo-request", and a policy that allows it
// (reloaded) closes the anomaly.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segwatch } from '../helpers/paths.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';
import { ping, tcpConversation, type Host } from '../fixtures/synth/conversation.js';

type A = Record<string, unknown>;
const parse = (out: string): A[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as A);

const T0_US = Date.UTC(2026, 10, 20, 9, 0, 0) * 1000;
const GW_MAC = '02:00:00:00:00:01';
const CAM: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
const CLOUD: Host = { mac: GW_MAC, ip: '198.51.100.10' };
const ATTACKER: Host = { mac: GW_MAC, ip: '203.0.113.7' };
const PINGER: Host = { mac: GW_MAC, ip: '203.0.113.9' };
// the LAN is another segment behind the router: its frames come with the router's MAC
const PHONE: Host = { mac: GW_MAC, ip: '192.168.1.20' };
const OTHER_PHONE: Host = { mac: GW_MAC, ip: '192.168.1.30' };

const POLICY = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
devices:
  - { name: camera-1, mac: "${CAM.mac}", profile: camera }
default_profile: camera
profiles:
  camera:
    allow:
      - { to: "198.51.100.10", ports: ["443/tcp"], comment: "its cloud" }
    allow_in:
      - { from: "192.168.1.20", ports: ["554/tcp"], comment: "the owner's phone watches the stream" }
`;

function writeCapture(file: string): void {
  const w = new PcapWriter(file);
  const wire = { sink: w };
  let t0 = T0_US;
  // the camera's own session: it opens, the cloud answers with SYN-ACK and data
  tcpConversation(wire, { client: CAM, server: CLOUD, sport: 40001, dport: 443, t0Us: t0, close: 'fin',
    exchanges: [{ from: 'c', data: Buffer.alloc(300, 1) }, { from: 's', data: Buffer.alloc(4000, 2) }] });
  t0 += 1_000_000;
  // a port forward: an Internet host opens RTSP on the camera
  tcpConversation(wire, { client: ATTACKER, server: CAM, sport: 51000, dport: 554, t0Us: t0, close: 'fin',
    exchanges: [{ from: 'c', data: Buffer.from('OPTIONS rtsp://192.168.50.21/ RTSP/1.0\r\nCSeq: 1\r\n\r\n') }, { from: 's', data: Buffer.alloc(200, 3) }] });
  t0 += 1_000_000;
  // the allowed phone, then one that is not allowed
  tcpConversation(wire, { client: PHONE, server: CAM, sport: 52000, dport: 554, t0Us: t0, close: 'fin', exchanges: [{ from: 's', data: Buffer.alloc(500, 4) }] });
  t0 += 1_000_000;
  tcpConversation(wire, { client: OTHER_PHONE, server: CAM, sport: 53000, dport: 554, t0Us: t0, close: 'fin', exchanges: [{ from: 's', data: Buffer.alloc(500, 5) }] });
  t0 += 1_000_000;
  // an Internet host pings the camera (request and reply: one flow, opened by the pinger)
  ping(wire, t0, PINGER, CAM, 7, 1);
  w.close();
}

t.test('device.exposed through segwatch replay: the Internet opening in, not the camera\'s own sessions, allow_in for the LAN', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-exposed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'exposed.pcap');
  const policy = join(dir, 'policy.yaml');
  writeCapture(file);
  writeFileSync(policy, POLICY);

  const r = segwatch(['replay', file, '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const as = parse(r.stdout).filter((a) => a.kind !== 'device.new');
  const brief = [...new Set(as.map((a) => `${String(a.kind)} ${String(a.device)} <- ${String(a.peer)}:${String(a.peerPort)}/${String(a.proto)}`))].sort();
  t.same(brief, [
    'device.exposed camera-1 <- 203.0.113.7:554/tcp',
    'device.exposed camera-1 <- 203.0.113.9:2048/icmp',
    'policy.violation camera-1 <- 192.168.1.30:554/tcp',
  ], 'the Internet host, the ping and the phone not allowed; not the cloud session, not the allowed phone');

  const rtsp = as.find((a) => a.kind === 'device.exposed' && a.peer === ATTACKER.ip)!;
  t.match(rtsp, { severity: 'high', ip: CAM.ip, rule: 'profiles.camera.allow_in' });
  t.match(String(rtsp.message), /^a port forward or UPnP mapping exposes camera-1 \(192\.168\.50\.21\) port 554\/tcp to 203\.0\.113\.7/);
  const icmp = as.find((a) => a.kind === 'device.exposed' && a.peer === PINGER.ip)!;
  t.match(String(icmp.message), /exposes camera-1 \(192\.168\.50\.21\) ICMP echo-request to 203\.0\.113\.9/, 'ICMP named by its type, not a port number');
  const lan = as.find((a) => a.kind === 'policy.violation')!;
  t.match(lan, { severity: 'high', rule: 'profiles.camera.allow_in' });
  t.match(String(lan.message), /^192\.168\.1\.30 opened port 554\/tcp on camera-1 \(192\.168\.50\.21\), which the allow_in rules of profile camera do not allow/);
});

t.test('a profile without allow_in: the LAN is not judged, the Internet still is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-exposed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'exposed.pcap');
  const policy = join(dir, 'policy.yaml');
  writeCapture(file);
  writeFileSync(policy, POLICY.replace(/    allow_in:\n.*\n/, '').replace('      - { to: "198.51.100.10"', '      - { icmp: [echo-reply] }\n      - { to: "198.51.100.10"'));

  const r = segwatch(['replay', file, '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const as = parse(r.stdout).filter((a) => a.kind !== 'device.new');
  t.same([...new Set(as.map((a) => `${String(a.kind)} ${String(a.peer)}`))].sort(), [
    'device.exposed 203.0.113.7',
    'device.exposed 203.0.113.9',
  ]);
});
