// One device, one identity: the inventory keys a device by its MAC from its first frame on,
// also when that frame answers someone, and names it through the policy: an entry that can
// match several devices names each <entry>-<MAC tail>; an unlisted device is named by its MAC,
// never by its hostname.

import t from 'tap';
import { Inventory } from '../../../collector/inventory/inventory.js';
import type { Placement } from '../../../collector/inventory/types.js';
import { sameSubnet } from '../../../collector/inventory/addresses.js';
import { loadPolicyText } from '../../../collector/policy/load.js';
import type { BindingConflict } from '../../../collector/inventory/types.js';
import type { Device, FlowStart } from '../../../collector/types.js';
import { deviceLabel } from '../../../collector/types.js';

const T0 = 1_700_000_000_000;
const GW = '24:5a:4c:64:00:01';
const LAPTOP = { mac: 'a8:60:b6:10:52:90', ip: '192.168.100.102' };

const policy = loadPolicyText(`version: 1
segments:
  iot: ["192.168.100.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
devices:
  - { name: gateway, mac: "${GW}", profile: q }
  - { name: plugs, vendor: "TP-LINK*", profile: q }
  - { name: tv, hostname: "LGwebOSTV*", profile: q }
  - { name: hub, ip: "192.168.100.60", profile: q }
  - { name: cams, ip: "192.168.100.64/28", profile: q }
default_profile: q
profiles:
  q:
    allow: [ { service: ntp } ]
`, 'identity.yaml').policy!;

function rig() {
  const events: Device[] = [];
  const conflicts: BindingConflict[] = [];
  const i = new Inventory({
    isLocal: (ip) => policy.segmentOf(ip) !== '',
    place: (facts): Placement => {
      const p = policy.place(facts);
      return { name: p.name, profile: p.profile, known: p.known, segment: policy.segmentOf(facts.ip) };
    },
  }, { onDevice: (d) => events.push(d), onConflict: (c) => conflicts.push(c) });
  return { i, events, conflicts };
}

function flow(src: string, srcMac: string, dst: string, dstMac: string, time: number, tcpFlags = 0x02): FlowStart {
  return { id: 1, time, proto: 'tcp', src, sport: 23, dst, dport: 51000, srcMac, dstMac, vlan: 0, tcpFlags, bytes: 60, origin: 'pcap', exporter: '', sureInitiator: true };
}

t.test('a device whose first frame is a reply is keyed by its MAC from that frame on', async (t) => {
  const { i, events } = rig();
  // the laptop's SYN-ACK seen first: the flow table makes the outside host the initiator
  i.observeFlowStart(flow('203.0.113.9', GW, LAPTOP.ip, LAPTOP.mac, T0, 0x12));
  const d = i.deviceByIp(LAPTOP.ip);
  t.equal(d?.id, LAPTOP.mac, 'by its MAC at its first frame');
  t.equal(d?.name, LAPTOP.mac, 'unlisted: named by its MAC');
  t.equal(d?.firstSeen, T0);
  // later it opens flows of its own and gets a DHCP hostname: still the same device and name
  i.observeFlowStart(flow(LAPTOP.ip, LAPTOP.mac, '198.51.100.7', GW, T0 + 60_000));
  i.observeDhcp({ op: 1, messageType: 3, chaddr: LAPTOP.mac, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', requestedIp: LAPTOP.ip, hostname: 'kali-laptop' } as never, T0 + 90_000);
  t.equal(i.deviceByIp(LAPTOP.ip)?.hostname, 'kali-laptop');
  t.equal(deviceLabel(i.deviceByIp(LAPTOP.ip)!), LAPTOP.mac, 'a hostname is a field, never the name');
  t.same([...new Set(events.filter((e) => e.mac === LAPTOP.mac || e.ips.includes(LAPTOP.ip)).map((e) => `${e.id} ${e.name}`))],
    [`${LAPTOP.mac} ${LAPTOP.mac}`], 'every device event: one id, one name');
  t.same(i.devices().filter((x) => x.id === LAPTOP.ip), [], 'never a device keyed by its address');
});

t.test('a responder on the same link or reached from outside is bound; a routed one is not', async (t) => {
  const { i, conflicts } = rig();
  i.observeFlowStart(flow('192.168.100.10', '02:00:00:00:00:10', '192.168.100.20', '02:00:00:00:00:20', T0));
  t.equal(i.deviceByIp('192.168.100.20')?.mac, '02:00:00:00:00:20', 'same subnet: the frame carries its MAC');
  // iot -> lan goes through the router: the destination MAC is the router's, not 192.168.1.5's
  i.observeFlowStart(flow('192.168.100.10', '02:00:00:00:00:10', '192.168.1.5', GW, T0 + 1000));
  t.equal(i.deviceByIp('192.168.1.5'), undefined, 'a routed frame binds nothing to the router');
  t.ok(i.deviceByMac(GW), 'the router is a device all the same');
  // an address someone holds is not taken by a frame sent to it
  i.observeBinding('192.168.100.30', '02:00:00:00:00:30', T0, 'arp');
  i.observeFlowStart(flow('192.168.100.10', '02:00:00:00:00:10', '192.168.100.30', '02:00:00:00:00:31', T0 + 2000));
  t.equal(i.deviceByIp('192.168.100.30')?.mac, '02:00:00:00:00:30');
  t.same(conflicts, [], 'no conflict from a frame sent to an address');
  // a flow record's MACs are the exporter's view (its own interface MAC as destination): no responder learned
  i.observeFlowStart({ ...flow('203.0.113.9', GW, '192.168.100.120', '02:00:00:00:01:20', T0 + 3000, 0x12), origin: 'ipfix' });
  t.equal(i.deviceByMac('02:00:00:00:01:20'), undefined, 'records teach no responder');
  t.ok(sameSubnet('fd00:50::1', 'fd00:50::ffff:1') && !sameSubnet('fd00:50::1', 'fd00:51::1') && !sameSubnet('10.0.1.1', '10.0.2.1'));
});

t.test('names: one per device, from the first match on', async (t) => {
  const { i } = rig();
  const macs = ['14:75:90:c3:00:41', '14:75:90:c3:00:42', '14:75:90:c3:00:43'];
  macs.forEach((m, k) => i.observeBinding(`192.168.100.4${k + 1}`, m, T0 + k, 'arp'));
  t.same(macs.map((m) => i.deviceByMac(m)?.name), ['plugs-c30041', 'plugs-c30042', 'plugs-c30043'], 'a vendor entry: entry-MAC tail');
  t.same(macs.map((m) => i.deviceByMac(m)?.known), [true, true, true]);
  i.observeBinding('192.168.100.60', '02:00:00:00:00:60', T0, 'arp');
  t.equal(i.deviceByMac('02:00:00:00:00:60')?.name, 'hub', 'ip: with one address names one device');
  i.observeBinding('192.168.100.66', '02:00:00:00:00:66', T0, 'arp');
  t.equal(i.deviceByMac('02:00:00:00:00:66')?.name, 'cams-000066', 'ip: with a CIDR can match several');
  i.observeDhcp({ op: 1, messageType: 3, chaddr: '20:17:42:d4:00:50', ciaddr: '192.168.100.50', yiaddr: '0.0.0.0', hostname: 'LGwebOSTV' } as never, T0);
  t.equal(i.deviceByMac('20:17:42:d4:00:50')?.name, 'tv-d40050', 'hostname: can match several');
  // a NetFlow record without MACs: known by its address until a frame shows its MAC
  i.observeFlowStart({ ...flow('192.168.100.90', '', '198.51.100.7', '', T0), origin: 'netflow' });
  t.equal(i.deviceByIp('192.168.100.90')?.name, '192.168.100.90');
  i.observeBinding('192.168.100.90', '02:00:00:00:00:90', T0 + 5000, 'arp');
  t.same([i.deviceByIp('192.168.100.90')?.id, i.deviceByIp('192.168.100.90')?.name], ['02:00:00:00:00:90', '02:00:00:00:00:90']);
  const names = i.devices().map((d) => d.name);
  t.same(names.filter((n, k) => names.indexOf(n) !== k), [], 'no two devices share a name');
});

t.test('devices restored from the state: no "new" event, same names, addresses bound', async (t) => {
  const first = rig();
  const plug = '14:75:90:c3:00:42';
  first.i.observeBinding('192.168.100.42', plug, T0, 'arp');
  first.i.observeBinding(LAPTOP.ip, LAPTOP.mac, T0 + 10, 'arp');
  const saved = first.i.devices().map((d) => ({ ...d, ips: [...d.ips] }));
  t.equal(saved.length, 2);

  const second = rig();
  second.i.restore(saved);
  t.same(second.events, [], 'nothing reported as new or changed');
  t.same(second.i.devices().map((d) => [d.id, deviceLabel(d)]), saved.map((d) => [d.id, deviceLabel(d)]), 'same ids and names');
  t.equal(second.i.deviceByIp('192.168.100.42')?.mac, plug, 'its address is bound to it before any packet');
  // the device speaks again: known, so not new
  second.i.observeBinding('192.168.100.42', plug, T0 + 60_000, 'arp');
  t.same(second.events.map((e) => e.id), [], 'a restored device seen again is not new');
  t.equal(second.i.deviceByMac(plug)?.lastSeen, T0 + 60_000);
});
