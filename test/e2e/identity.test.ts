// One physical device, one identity, in every sink (DESIGN.md "Data model"): a capture made
// for the case runs through the real pipeline into anomalies, device_traffic, device points
// and the API (/api/v1/devices through app.ts inject).
//
// - Three TP-Link plugs matched by one `vendor:` entry get three names, <entry>-<MAC tail>.
// - A laptop (IoT-23's addresses: a8:60:b6:10:52:90, 192.168.100.102) whose first frame is a
//   reply, the SYN-ACK of a telnet session an outside host opened, is keyed by its MAC from
//   that frame on: never first by IP, then by MAC. Its DHCP hostname is a field, not its name.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pipeline } from '../../collector/pipeline.js';
import { loadPolicyText } from '../../collector/policy/load.js';
import { runCapture } from '../../collector/cli/capture.js';
import { AnomalyRing, type CollectorFacade } from '../../collector/api/facade.js';
import { buildApp } from '../../collector/api/app.js';
import type { Anomaly, Device, DeviceTraffic } from '../../collector/types.js';
import { sendTcp, sendUdp, type Host } from '../fixtures/synth/conversation.js';
import { ACK, PSH, SYN } from '../fixtures/synth/frames.js';
import { DHCP, dhcp } from '../fixtures/synth/dhcp.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';

const T0 = Date.UTC(2026, 10, 3, 9, 0, 0);
const SEC = 1_000_000;
const GW: Host = { mac: '24:5a:4c:64:00:01', ip: '192.168.100.1' };
// TP-LINK's OUI 14:75:90
const PLUGS: Host[] = [1, 2, 3].map((i) => ({ mac: `14:75:90:0a:00:0${i}`, ip: `192.168.100.8${i}` }));
const LAPTOP: Host = { mac: 'a8:60:b6:10:52:90', ip: '192.168.100.102' };
/** hosts beyond the router carry its MAC on this link */
const remote = (ip: string): Host => ({ mac: GW.mac, ip });
const OUTSIDE = remote('203.0.113.9');
const FORBIDDEN = remote('198.51.100.7');

const POLICY = `version: 1
segments:
  iot: ["192.168.100.0/24"]
watch: [iot]
resolvers: ["192.168.100.1"]
devices:
  - { name: gateway, mac: "${GW.mac}", profile: open }
  - { name: plugs, vendor: "TP-LINK*", profile: smart-plug }
default_profile: quarantine
profiles:
  open:
    allow: [ { to: "0.0.0.0/0" } ]
  smart-plug:
    allow: [ { to: "*.tplinkcloud.com", ports: ["443/tcp"] }, { service: dns } ]
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
`;

function writeCapture(path: string): void {
  const w = new PcapWriter(path);
  const wire = { sink: w };
  let at = T0 * 1000;
  // the laptop's first frame: the SYN-ACK of a telnet session the outside host opened (its SYN not captured)
  sendTcp(wire, at, LAPTOP, OUTSIDE, { sport: 23, dport: 51000, seq: 1000, ack: 5001, flags: SYN | ACK });
  sendTcp(wire, at + 20_000, OUTSIDE, LAPTOP, { sport: 51000, dport: 23, seq: 5001, ack: 1001, flags: ACK });
  sendTcp(wire, at + 40_000, LAPTOP, OUTSIDE, { sport: 23, dport: 51000, seq: 1001, ack: 5001, flags: PSH | ACK }, Buffer.from('login: '));
  at += 2 * SEC;
  // each plug opens a flow its profile does not allow, twice, a minute apart
  for (const round of [0, 1]) {
    PLUGS.forEach((p, i) => {
      const ts = at + round * 60 * SEC + i * SEC;
      sendTcp(wire, ts, p, FORBIDDEN, { sport: 40000 + i + round * 10, dport: 8443, seq: 1, flags: SYN });
      sendTcp(wire, ts + 30_000, FORBIDDEN, p, { sport: 8443, dport: 40000 + i + round * 10, seq: 9, ack: 2, flags: SYN | ACK });
      sendTcp(wire, ts + 60_000, p, FORBIDDEN, { sport: 40000 + i + round * 10, dport: 8443, seq: 2, ack: 10, flags: PSH | ACK }, Buffer.alloc(200 + i));
    });
  }
  at += 10 * SEC;
  // then the laptop asks DHCP for its address with a hostname, and opens flows of its own
  sendUdp(wire, at, { mac: LAPTOP.mac, ip: '0.0.0.0' }, { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255' }, 68, 67,
    dhcp({ msgType: DHCP.REQUEST, xid: 7, clientMac: LAPTOP.mac, requestedIp: LAPTOP.ip, hostname: 'kali-laptop' }));
  sendTcp(wire, at + SEC, LAPTOP, FORBIDDEN, { sport: 45000, dport: 8443, seq: 1, flags: SYN });
  sendTcp(wire, at + SEC + 30_000, FORBIDDEN, LAPTOP, { sport: 8443, dport: 45000, seq: 9, ack: 2, flags: SYN | ACK });
  w.close();
}

const dir = mkdtempSync(join(tmpdir(), 'segwatch-identity-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cap = join(dir, 'identity.pcap');
writeCapture(cap);
const policy = loadPolicyText(POLICY, 'identity.yaml').policy!;

const anomalies: Anomaly[] = [];
const traffic: DeviceTraffic[] = [];
const devicePoints: Device[] = [];
const ring = new AnomalyRing();
const pipeline = new Pipeline({
  policy: () => policy,
  source: 'file:identity.pcap',
  trafficIntervalMs: 60_000,
  sinks: [ring, {
    name: 'recorder',
    anomaly: (a) => { anomalies.push(a); },
    deviceTraffic: (x) => { traffic.push(x); },
    device: (d) => { devicePoints.push(d); },
    flush: async () => {}, close: async () => {},
  }],
});
const run = await runCapture(cap, pipeline);
if (run.error) throw run.error;
await pipeline.close();

const facade: CollectorFacade = {
  devices: () => pipeline.inventory.devices(),
  recentAnomalies: (limit) => ring.last(limit),
  counters: () => ({
    packets: 0, bytes: 0, decodeErrors: 0, flows: 0, flowsActive: 0, anomalies: 0, anomaliesByKind: {},
    drops: 0, spoolBytes: 0, startedAt: T0, source: 'file:identity.pcap', policy: 'identity.yaml',
  }),
};
const TOKEN = 'identity-token-0123456789abcdef';
const app = buildApp(facade, { token: TOKEN });
t.teardown(() => app.close());
const apiDevices = async (): Promise<Device[]> => {
  const res = await app.inject({ method: 'GET', url: '/api/v1/devices', headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.statusCode, 200);
  return (res.json() as { devices: Device[] }).devices;
};

const PLUG_NAMES = ['plugs-0a0001', 'plugs-0a0002', 'plugs-0a0003'];

t.test('one vendor entry, three plugs: three names in anomalies, device_traffic, device points and the API', async (t) => {
  const violations = anomalies.filter((a) => a.kind === 'policy.violation' && a.mac.startsWith('14:75:90'));
  t.same([...new Set(violations.map((a) => `${a.device} ${a.mac}`))].sort(), PLUG_NAMES.map((n, i) => `${n} ${PLUGS[i].mac}`),
    'each plug its own name, from its first anomaly on');
  t.ok(violations.every((a) => a.profile === 'smart-plug'), 'all placed by the one entry');

  const plugTraffic = traffic.filter((x) => x.device.startsWith('plugs'));
  t.same([...new Set(plugTraffic.map((x) => x.device))].sort(), PLUG_NAMES, 'device_traffic: one series per plug');
  for (const [i, n] of PLUG_NAMES.entries()) {
    // one flow a round, two rounds: 2 x (SYN 40 + data 240 + i) bytes out
    const out = plugTraffic.filter((x) => x.device === n).reduce((s, x) => s + x.bytesOut, 0);
    t.equal(out, 2 * (40 + 240 + i), `${n}: only its own bytes`);
  }

  const points = devicePoints.filter((d) => d.mac.startsWith('14:75:90'));
  t.same([...new Set(points.map((d) => `${d.name} ${d.mac}`))].sort(), PLUG_NAMES.map((n, i) => `${n} ${PLUGS[i].mac}`), 'device points');

  const api = (await apiDevices()).filter((d) => d.mac.startsWith('14:75:90'));
  t.same(api.map((d) => [d.name, d.mac, d.known, d.profile]).sort(),
    PLUG_NAMES.map((n, i) => [n, PLUGS[i].mac, true, 'smart-plug']), '/api/v1/devices');
});

t.test('the laptop, first seen answering, has one identity: its MAC, from its first frame on', async (t) => {
  const mine = anomalies.filter((a) => a.mac === LAPTOP.mac || a.ip === LAPTOP.ip);
  t.ok(mine.some((a) => a.kind === 'protocol.plaintext' && a.time === new Date(T0).toISOString()), 'the telnet answer, at its first frame');
  t.ok(mine.some((a) => a.kind === 'policy.violation'), 'and a flow of its own, later');
  t.same([...new Set(mine.map((a) => `${a.device} ${a.mac}`))], [`${LAPTOP.mac} ${LAPTOP.mac}`], 'every anomaly: the MAC, never the address');

  const inv = pipeline.inventory;
  t.equal(inv.deviceByIp(LAPTOP.ip)?.id, LAPTOP.mac, 'keyed by its MAC');
  t.equal(inv.deviceByIp(LAPTOP.ip)?.hostname, 'kali-laptop', 'the DHCP hostname is a field');
  t.equal(inv.deviceByIp(LAPTOP.ip)?.firstSeen, T0, 'seen from its first frame');
  t.same(traffic.filter((x) => x.device === LAPTOP.ip || x.device === 'kali-laptop'), [], 'no device_traffic under its address or hostname');
  t.ok(traffic.some((x) => x.device === LAPTOP.mac), 'device_traffic under its MAC');
  t.same([...new Set(devicePoints.filter((d) => d.ips.includes(LAPTOP.ip) || d.mac === LAPTOP.mac).map((d) => `${d.id} ${d.name}`))],
    [`${LAPTOP.mac} ${LAPTOP.mac}`], 'device points: one id, one name');
  const api = (await apiDevices()).filter((d) => d.ips.includes(LAPTOP.ip) || d.id === LAPTOP.ip || d.mac === LAPTOP.mac);
  t.same(api.map((d) => [d.id, d.name, d.hostname]), [[LAPTOP.mac, LAPTOP.mac, 'kali-laptop']], '/api/v1/devices: one device');
});

t.test('every name in every sink is one physical device', async (t) => {
  const byName = new Map<string, Set<string>>();
  const add = (name: string, mac: string) => { if (mac) byName.set(name, (byName.get(name) ?? new Set()).add(mac)); };
  for (const a of anomalies) add(a.device, a.mac);
  for (const d of devicePoints) add(d.name, d.mac);
  for (const d of await apiDevices()) add(d.name, d.mac);
  t.same([...byName].filter(([, s]) => s.size > 1).map(([n, s]) => `${n}: ${[...s].join(' ')}`), [], 'no name shared by two MACs');
  const names = (await apiDevices()).map((d) => d.name);
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [], 'API names unique');
  t.ok(names.every((n) => n !== ''), 'every device has a name');
});
