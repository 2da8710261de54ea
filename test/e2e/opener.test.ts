// Who opened a flow, through the whole pipeline: real captures from ../shared/captures (the
// discoveries of TP-Link plugs, an SSDP search to a subnet's broadcast, IPv6 mDNS) followed by
// synthetic answers, and synthetic conversations (a late TLS alert after close, mid-flow TCP,
// an ICMP error quoting a UDP flow, `device:` rules before any ARP). Every case has a near miss
// that must still be reported.

import t from 'tap';
import { Pipeline } from '../../collector/pipeline.js';
import { openCapture } from '../../collector/sources/pcap-file.js';
import { loadPolicyText } from '../../collector/policy/load.js';
import type { Anomaly } from '../../collector/types.js';
import { capture } from '../helpers/paths.js';
import { sendTcp, sendUdp, tcpConversation, ping, ipFrame, type Host, type Wire } from '../fixtures/synth/conversation.js';
import { clientHello } from '../fixtures/synth/tls.js';
import { ACK, FIN, IPPROTO_ICMP, PSH, RST, checksum, ip, udp } from '../fixtures/synth/frames.js';

function policyOf(text: string) {
  const r = loadPolicyText(text, 'opener-test.yaml');
  if (!r.policy) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

/** A pipeline with the policy, recording anomalies as they closed, and a Wire that feeds it. */
function rig(policyText: string) {
  const policy = policyOf(policyText);
  const out: Anomaly[] = [];
  const pipeline = new Pipeline({
    policy: () => policy,
    sinks: [{ name: 'recorder', anomaly: (a, e) => { if (e === 'closed') out.push(a); }, flush: async () => {}, close: async () => {} }],
  });
  const wire: Wire = {
    sink: { write: (tsUs, frame, wireLen) => pipeline.handleFrame(Buffer.from(frame), 0, frame.length, wireLen ?? frame.length, tsUs / 1000, 1) },
  };
  return { pipeline, out, wire };
}

/** anomalies about flows (device.new is about devices, and every device here is new) */
const brief = (as: Anomaly[]) => as.filter((a) => a.kind !== 'device.new').map((a) => `${a.kind} ${a.ip} -> ${a.peer}:${a.peerPort}/${a.proto}`).sort();

t.test('TP-Link plugs (real capture): answering a discovery opens nothing; sending from 9999 unasked does', async (t) => {
  const { pipeline, out, wire } = rig(`version: 1
segments: { iot: ["192.168.242.0/24"] }
watch: [iot]
default_profile: plug
profiles:
  plug:
    allow:
      - { to: "255.255.255.255", ports: ["9999/udp"] }
`);
  await openCapture(capture('iot/ndpi-tplink_shp.pcap')).run(pipeline.handleFrame);
  const lastOf41 = 1671482107022; // 192.168.242.41's last broadcast from port 9999 (tshark)
  const plug40: Host = { mac: 'e4:f0:42:5d:dd:3a', ip: '192.168.242.40' };
  const plug38: Host = { mac: 'a4:77:33:cf:eb:c1', ip: '192.168.242.38' };
  const asker: Host = { mac: '20:df:b9:b4:ba:b1', ip: '192.168.242.41' };
  const stranger: Host = { mac: '02:00:00:00:02:00', ip: '192.168.242.200' };
  const json = Buffer.from('{"system":{"get_sysinfo":{}}}');
  // 25 s after .41's discovery: .40 answers it
  sendUdp(wire, (lastOf41 + 25_000) * 1000, plug40, asker, 9999, 9999, json);
  // near misses: .40 sends from 9999 to a host that asked nothing; .38 answers 31 s late
  sendUdp(wire, (lastOf41 + 26_000) * 1000, plug40, stranger, 9999, 9999, json);
  sendUdp(wire, (lastOf41 + 31_100) * 1000, plug38, asker, 9999, 9999, json);
  await pipeline.finish();
  t.same(brief(out), [
    'policy.violation 192.168.242.38 -> 192.168.242.41:9999/udp',
    'policy.violation 192.168.242.40 -> 192.168.242.200:9999/udp',
  ], 'only the near misses: the real broadcasts are allowed and the answer in time is no flow of .40\'s');
});

t.test('SSDP search to a subnet\'s broadcast and IPv6 mDNS (real captures): unicast answers are replies', async (t) => {
  const { pipeline, out, wire } = rig(`version: 1
segments: { iot: ["192.168.242.0/24", "10.0.2.0/24", "fd52:429e:c03c:8235::/64"] }
watch: [iot]
default_profile: quiet
profiles:
  quiet:
    allow:
      - { to: "192.168.242.255", ports: ["32412/udp"] }
      - { service: mdns }
      - { service: icmp }
`);
  await openCapture(capture('proto/ndpi-ssdp-m-search.pcap')).run(pipeline.handleFrame);
  const searcher: Host = { mac: '00:08:9b:c9:d0:8c', ip: '192.168.242.8' };
  const tv: Host = { mac: '02:00:00:00:02:09', ip: '192.168.242.9' };
  const lastSearch = 1532054735809; // the search's last send (tshark)
  sendUdp(wire, (lastSearch + 2_000) * 1000, tv, searcher, 32412, 42253, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
  // near miss: to another port of the searcher
  sendUdp(wire, (lastSearch + 2_100) * 1000, tv, searcher, 32412, 42254, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
  await pipeline.finish();

  const m = rig(`version: 1
segments: { iot: ["10.0.2.0/24", "fd52:429e:c03c:8235::/64"] }
watch: [iot]
default_profile: quiet
profiles:
  quiet:
    allow:
      - { service: mdns }
      - { service: icmp }
      - { to: "224.0.0.22" }
`);
  await openCapture(capture('proto/zeek-dns_mdns.pcap')).run(m.pipeline.handleFrame);
  const mac: Host = { mac: '8a:3c:d6:e1:4d:c4', ip: 'fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4' };
  const printer: Host = { mac: '02:00:00:00:02:99', ip: 'fd52:429e:c03c:8235::99' };
  const lastQuery = 1738667763287;
  const answer = Buffer.alloc(12);
  answer.writeUInt16BE(0x8400, 2);
  // a legacy unicast answer: from 5353 to the asker's 5353, straight to its address
  sendUdp(m.wire, (lastQuery + 500) * 1000, printer, mac, 5353, 5353, answer);
  // near miss: the printer sends to the asker's port 5354, which asked nothing
  sendUdp(m.wire, (lastQuery + 600) * 1000, printer, mac, 5353, 5354, answer);
  await m.pipeline.finish();
  t.same(brief([...out, ...m.out]), [
    'policy.violation 192.168.242.9 -> 192.168.242.8:42254/udp',
    'policy.violation fd52:429e:c03c:8235::99 -> fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4:5354/udp',
  ]);
});

const PLUG: Host = { mac: '50:c7:bf:00:00:42', ip: '192.168.50.42' };
const PHONE: Host = { mac: '02:00:00:00:00:77', ip: '192.168.50.77' };
const GW_MAC = '24:5a:4c:50:00:01';
const CLOUD: Host = { mac: GW_MAC, ip: '52.57.10.20' };
const OTHER: Host = { mac: GW_MAC, ip: '203.0.113.9' };
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0) * 1000; // µs

const SITE = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
protected: [lan]
devices:
  - { name: doorbell, mac: "aa:bb:cc:00:00:01", profile: camera }
  - { name: nvr, mac: "aa:bb:cc:00:00:30", profile: camera }
  - { name: lan-nvr, mac: "aa:bb:cc:00:00:31", profile: camera }
  - { name: plug, mac: "${PLUG.mac}", profile: plug }
  - { name: phone, mac: "${PHONE.mac}", profile: phone }
  - { name: gateway, mac: "${GW_MAC}", profile: plug }
default_profile: plug
profiles:
  camera:
    allow:
      - { to: "device:nvr", ports: ["554/tcp"] }
      - { to: "device:lan-nvr", ports: ["554/tcp"] }
  plug:
    allow:
      - { to: "*.tplinkcloud.com", ports: ["443/tcp"] }
  phone:
    allow:
      - { to: "segment:iot", ports: ["9999/udp"] }
`;

t.test('a late TLS alert after close and the RST it draws raise nothing; mid-flow sessions the plug opened do', async (t) => {
  const { pipeline, out, wire } = rig(SITE);
  const end = tcpConversation(wire, { client: PLUG, server: CLOUD, sport: 50123, dport: 443, t0Us: T0, close: 'fin',
    exchanges: [{ from: 'c', data: clientHello({ sni: 'euw1-api.tplinkcloud.com', random: Buffer.alloc(32, 7) }) }, { from: 's', data: Buffer.alloc(900, 2) }] });
  // allowed by its name (the SNI); 20 s after the close (the closed flow is gone after 5 s) the
  // cloud's alert and the plug's RST carry no name: as a new flow of the plug's they were a violation
  sendTcp(wire, end + 20_000_000, CLOUD, PLUG, { sport: 443, dport: 50123, seq: 0x2000_1000, ack: 0x1000_1000, flags: PSH | ACK }, Buffer.from([0x15, 3, 3, 0, 2, 1, 0]));
  sendTcp(wire, end + 20_001_000, PLUG, CLOUD, { sport: 50123, dport: 443, seq: 0x1000_1000, flags: RST });
  // near miss: a session whose start the capture missed, from the plug's ephemeral port to 203.0.113.9:443
  sendTcp(wire, end + 21_000_000, OTHER, PLUG, { sport: 443, dport: 50200, seq: 5, ack: 7, flags: PSH | ACK }, Buffer.alloc(100));
  // and one on two unprivileged ports: nobody is judged, direction_unknown counts it
  sendTcp(wire, end + 22_000_000, PLUG, OTHER, { sport: 50300, dport: 50301, seq: 5, ack: 7, flags: FIN | ACK });
  await pipeline.finish();
  t.same(brief(out), ['policy.violation 192.168.50.42 -> 203.0.113.9:443/tcp']);
  t.equal(pipeline.detect!.stats().directionUnknown, 1, 'direction_unknown');
});

/** ICMP destination unreachable (port unreachable) quoting the first 28 bytes of `quoted`. */
function portUnreachable(quoted: Buffer): Buffer {
  const m = Buffer.alloc(8 + 28);
  m[0] = 3; m[1] = 3;
  quoted.copy(m, 8, 0, 28);
  m.writeUInt16BE(checksum(m), 2);
  return m;
}

t.test('an ICMP error quoting a UDP flow belongs to it; an echo from the same device is its own', async (t) => {
  const { pipeline, out, wire } = rig(SITE);
  // the phone asks the plug on 9999 (allowed for the phone); the plug has nothing there
  const dgram = udp({ src: PHONE.ip, dst: PLUG.ip, sport: 51000, dport: 9999 }, Buffer.from('{}'));
  sendUdp(wire, T0, PHONE, PLUG, 51000, 9999, Buffer.from('{}'));
  const quoted = ip({ src: PHONE.ip, dst: PLUG.ip, proto: 17 }, dgram);
  wire.sink.write(T0 + 1000, ipFrame(wire, PLUG, PHONE, IPPROTO_ICMP, portUnreachable(quoted)));
  // near miss: the plug pings the phone (its profile allows no ICMP)
  ping(wire, T0 + 60_000_000, PLUG, { ...PHONE, ip: '192.168.50.78' }, 1, 1);
  await pipeline.finish();
  t.same(brief(out), ['policy.violation 192.168.50.42 -> 192.168.50.78:2048/icmp']);
});

t.test('device: rules work from the first packet, before any ARP; routed addresses never bind', async (t) => {
  const { pipeline, out, wire } = rig(SITE);
  const doorbell: Host = { mac: 'aa:bb:cc:00:00:01', ip: '192.168.50.10' };
  const nvr: Host = { mac: 'aa:bb:cc:00:00:30', ip: '192.168.50.30' };
  const cam2: Host = { mac: '02:00:00:00:00:31', ip: '192.168.50.31' };
  // the very first frame of the capture: the doorbell's SYN to the NVR (no ARP, no DHCP, the NVR never spoke)
  tcpConversation(wire, { client: doorbell, server: nvr, sport: 40000, dport: 554, t0Us: T0, close: 'fin' });
  // near miss: the same to another host on the link, which is no nvr
  tcpConversation(wire, { client: doorbell, server: cam2, sport: 40001, dport: 554, t0Us: T0 + 1_000_000, close: 'fin' });
  // near miss: lan-nvr is routed (frames carry the gateway's MAC): its address never binds, the flow is reported
  tcpConversation(wire, { client: doorbell, server: { mac: GW_MAC, ip: '192.168.1.31' }, sport: 40002, dport: 554, t0Us: T0 + 2_000_000, close: 'fin' });
  await pipeline.finish();
  t.same(brief(out), [
    'policy.violation 192.168.50.10 -> 192.168.50.31:554/tcp',
    'segment.crossing 192.168.50.10 -> 192.168.1.31:554/tcp',
  ]);
  t.same(pipeline.inventory.deviceByMac(nvr.mac)?.ips, [nvr.ip], 'the NVR has its address from the doorbell\'s first frame to it');
  t.same(pipeline.inventory.deviceByMac(GW_MAC)?.ips ?? [], [], 'the gateway holds no routed address');
  t.equal(pipeline.inventory.deviceByIp('192.168.1.31'), undefined);
});

t.test('/metrics has segwatch_direction_unknown_total', async (t) => {
  const { createMetrics } = await import('../../collector/api/metrics.js');
  const m = createMetrics({
    devices: () => [], recentAnomalies: () => [],
    counters: () => ({ packets: 0, bytes: 0, decodeErrors: 0, flows: 0, flowsActive: 0, anomalies: 0, anomaliesByKind: {}, drops: 0, spoolBytes: 0,
      startedAt: 0, source: 'test', policy: 'p.yaml', directionUnknown: 3 }),
  });
  t.match(await m.scrape(), /^segwatch_direction_unknown_total 3$/m);
});
