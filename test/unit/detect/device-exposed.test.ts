// device.exposed and inbound rules (allow_in), through the detection engine: who opened a flow
// to a watched device, from the Internet or from inside the site.

import t from 'tap';
import { DOORBELL_IP, DOORBELL_MAC, POLICY, T0, harness, kinds, loadPolicy, recordOf, standardInventory } from './helpers.js';
import { isLinkScoped } from '../../../collector/detect/device-exposed.js';

const NET_MAC = '02:00:00:00:00:fe';
/** an Internet host (behind the router) opens tcp to the doorbell */
let nextId = 1_000_000;
const inbound = (o: Record<string, unknown> = {}) => ({
  id: nextId++, time: T0, proto: 'tcp' as const, src: '203.0.113.7', sport: 51000, dst: DOORBELL_IP, dport: 554,
  srcMac: NET_MAC, dstMac: DOORBELL_MAC, vlan: 0, tcpFlags: 0x02, bytes: 60, origin: 'pcap' as const, exporter: '', sureInitiator: true, ...o,
});

/** POLICY with allow_in rules for the camera profile. */
const WITH_IN = POLICY.replace(`    limits: { bytes_per_hour: 500MB }
  smart-plug:`, `    limits: { bytes_per_hour: 500MB }
    allow_in:
      - { from: "192.168.1.20", ports: ["554/tcp"] }
      - { from: "segment:lan", ports: ["80/tcp"], from_ports: ["1024-65535/tcp"] }
      - { from: same-manufacturer, proto: 17 }
  smart-plug:`);

t.test('an Internet host opening to a watched device is device.exposed, with what to do and the bytes moved', async (t) => {
  const h = harness();
  const s = inbound();
  h.engine.flowStart(s);
  h.engine.flowRecord(recordOf(s, { bytes: 2000, bytesRev: 500_000, packets: 20, packetsRev: 400 }));
  h.engine.flush();
  t.same(kinds(h.out), ['device.exposed']);
  t.match(h.out[0], {
    kind: 'device.exposed', severity: 'high', device: 'doorbell', ip: DOORBELL_IP, peer: '203.0.113.7', peerPort: 554, proto: 'tcp',
    rule: 'profiles.camera.allow_in', bytes: 502_000, packets: 420,
  });
  t.match(h.out[0].message, /^a port forward or UPnP mapping exposes doorbell \(192\.168\.50\.10\) port 554\/tcp to 203\.0\.113\.7.*remove the forward/);
});

t.test('near misses: the device\'s own sessions, answers, link-local and group sources are not inbound', async (t) => {
  const h = harness();
  // the doorbell's own session to its cloud: opened by it
  h.engine.flowStart(inbound({ src: DOORBELL_IP, srcMac: DOORBELL_MAC, sport: 40000, dst: '52.94.1.1', dstMac: NET_MAC, dport: 443 }));
  // mid-flow: the cloud's answer came first (443 is the server's port): the doorbell opened it
  h.engine.flowStart(inbound({ src: '52.94.1.1', sport: 443, dport: 40001, tcpFlags: 0x18, sureInitiator: false }));
  // UDP answers from a server's port whose request was not seen (STUN, NTP)
  h.engine.flowStart(inbound({ proto: 'udp', src: '52.94.1.1', sport: 3478, dport: 3478, tcpFlags: 0 }));
  h.engine.flowStart(inbound({ proto: 'udp', src: '198.51.100.1', sport: 123, dport: 40123, tcpFlags: 0 }));
  // an ICMP echo reply first: the doorbell's ping, its request not seen
  h.engine.flowStart(inbound({ proto: 'icmp', sport: 0, dport: 0, tcpFlags: 0 }));
  // link-local and multicast sources never came through the router
  h.engine.flowStart(inbound({ src: '169.254.10.10' }));
  h.engine.flowStart(inbound({ src: 'fe80::1234', dst: 'fd00:50::10' }));
  h.engine.flowStart(inbound({ proto: 'udp', src: '224.0.0.251', sport: 5353, dport: 5353, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('ICMP and UDP from the Internet: named by type, opened from a client port', async (t) => {
  const h = harness();
  h.engine.flowStart(inbound({ proto: 'icmp', sport: 0, dport: 8 << 8, tcpFlags: 0 }));
  h.engine.flowStart(inbound({ proto: 'udp', src: '203.0.113.8', sport: 50000, dport: 5000, tcpFlags: 0 }));
  h.engine.flush();
  t.same(kinds(h.out), ['device.exposed', 'device.exposed']);
  const icmp = h.out.find((a) => a.proto === 'icmp')!;
  t.match(icmp, { peerPort: 2048 });
  t.match(icmp.message, /exposes doorbell \(192\.168\.50\.10\) ICMP echo-request to 203\.0\.113\.7/);
  t.match(h.out.find((a) => a.proto === 'udp')!.message, /port 5000\/udp to 203\.0\.113\.8/);
});

t.test('from inside the site: judged only when the profile has allow_in', async (t) => {
  const without = harness();
  without.engine.flowStart(inbound({ src: '192.168.1.40', dport: 8554 }));
  without.engine.flush();
  t.same(without.out, [], 'no allow_in section: a LAN host opening to the doorbell is not judged');

  const h = harness({ policy: loadPolicy(WITH_IN) });
  h.engine.flowStart(inbound({ src: '192.168.1.20' }));                       // allow_in[0]
  h.engine.flowStart(inbound({ src: '192.168.1.40', dport: 80, sport: 40000 })); // allow_in[1]: from the LAN, from a client port
  h.engine.flowStart(inbound({ src: '192.168.1.40', dport: 80, sport: 80 }));    // near miss: from_ports
  h.engine.flowStart(inbound({ src: '192.168.1.21' }));                       // near miss: another host
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation', 'policy.violation']);
  const v = h.out.find((a) => a.peer === '192.168.1.21')!;
  t.match(v, { device: 'doorbell', ip: DOORBELL_IP, peerPort: 554, rule: 'profiles.camera.allow_in' });
  t.match(v.message, /^192\.168\.1\.21 opened port 554\/tcp on doorbell \(192\.168\.50\.10\), which the allow_in rules of profile camera do not allow/);
  t.ok(h.out.some((a) => a.peer === '192.168.1.40' && a.peerPort === 80), 'the flow from port 80 is not allowed by from_ports');
});

t.test('a watched opener is still judged as the opener (outbound) and named in the inbound message', async (t) => {
  const h = harness({ policy: loadPolicy(WITH_IN) });
  // the plug opens telnet to the doorbell: its own violation, and the doorbell's allow_in denies it
  h.engine.flowStart(inbound({ src: '192.168.50.11', srcMac: 'aa:bb:cc:00:00:02', sport: 40000, dport: 8554 }));
  h.engine.flush();
  t.same(h.out.map((a) => `${a.kind} ${a.device} ${a.rule}`).sort(), [
    'policy.violation doorbell profiles.camera.allow_in',
    'policy.violation plug profiles.smart-plug',
  ]);
  t.match(h.out.find((a) => a.device === 'doorbell')!.message, /^plug \(192\.168\.50\.11\) opened port 8554\/tcp on doorbell/);
});

t.test('same-manufacturer through the inventory\'s MUD URLs', async (t) => {
  const inv = standardInventory();
  inv.byIp.get(DOORBELL_IP)!.mudUrl = 'https://MUD.example.com/doorbell.json';
  inv.add({ mac: 'aa:bb:cc:00:00:09', ips: ['192.168.50.19'], name: 'chime', mudUrl: 'https://mud.example.com/chime.json', segment: 'iot', known: false });
  inv.add({ mac: 'aa:bb:cc:00:00:0a', ips: ['192.168.50.20'], name: 'other', mudUrl: 'https://mud.other.org/x.json', segment: 'iot', known: false });
  const h = harness({ policy: loadPolicy(WITH_IN), inv });
  h.engine.flowStart(inbound({ proto: 'udp', src: '192.168.50.19', srcMac: 'aa:bb:cc:00:00:09', sport: 50000, dport: 9000, tcpFlags: 0 }));
  h.engine.flowStart(inbound({ proto: 'udp', src: '192.168.50.20', srcMac: 'aa:bb:cc:00:00:0a', sport: 50000, dport: 9000, tcpFlags: 0 }));
  h.engine.flush();
  const inboundOnes = h.out.filter((a) => a.device === 'doorbell');
  t.same(inboundOnes.map((a) => a.peer), ['192.168.50.20'], 'the chime (same MUD URL host) is allowed, the other is not');
});

t.test('a reloaded policy that allows the opener closes device.exposed', async (t) => {
  let policy = loadPolicy();
  const h = harness({ policyFn: () => policy });
  h.engine.tick(T0);
  h.engine.flowStart(inbound());
  h.engine.flowStart(inbound({ src: '203.0.113.99' }));
  policy = loadPolicy(POLICY.replace(`    limits: { bytes_per_hour: 500MB }
  smart-plug:`, `    limits: { bytes_per_hour: 500MB }
    allow_in:
      - { from: "203.0.113.7", ports: ["554/tcp"], comment: "the installer's remote view" }
  smart-plug:`));
  h.engine.tick(T0 + 1000);
  const closed = h.events.filter(([e]) => e === 'closed').map(([, a]) => `${a.peer} ${a.closeReason}`);
  t.same(closed, ['203.0.113.7 allowed'], 'the allowed opener closes; the other stays open');
});

t.test('isLinkScoped', async (t) => {
  for (const ip of ['169.254.1.1', 'fe80::1', 'FE80::1', '::', '::1', '127.0.0.1', '0.0.0.0']) t.ok(isLinkScoped(ip), ip);
  for (const ip of ['203.0.113.7', '2001:db8::1', 'fec0::1', 'ff02::1']) t.notOk(isLinkScoped(ip), ip);
});
