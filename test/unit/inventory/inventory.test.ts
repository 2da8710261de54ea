import t from 'tap';
import { Inventory, type InventoryOptions } from '../../../collector/inventory/inventory.js';
import { isLocalIp, isLocalIp4, isBindableIp } from '../../../collector/inventory/addresses.js';
import { addrKey } from '../../../collector/inventory/addr-key.js';
import { vendorOf } from '../../../collector/inventory/oui.js';
import { PacketInfo, L3 } from '../../../collector/decode/packet.js';
import { parseIp4 } from '../../../collector/decode/addr.js';
import { DNS_A, DNS_AAAA, DNS_CNAME, type DnsMessage, type DnsRecord } from '../../../collector/decode/dns.js';
import type { DhcpMessage } from '../../../collector/decode/dhcp.js';
import type { BindingConflict } from '../../../collector/inventory/types.js';
import type { Device, FlowStart } from '../../../collector/types.js';

const T0 = 1_700_000_000_000;
const macNum = (m: string) => parseInt(m.replace(/:/g, ''), 16);

function inv(opts: InventoryOptions = {}) {
  const events: { d: Device; change: string }[] = [];
  const conflicts: BindingConflict[] = [];
  const i = new Inventory(opts, { onDevice: (d, change) => events.push({ d, change }), onConflict: (c) => conflicts.push(c) });
  const p = new PacketInfo();
  const arp = (mac: string, ip: string, ts: number) => {
    p.reset(); p.l3 = L3.ARP; p.ts = ts; p.arpOp = 2; p.arpSenderMac = macNum(mac); p.arpSenderIp = parseIp4(ip);
    p.srcMac = macNum(mac);
    i.observeArp(p);
  };
  return { i, events, conflicts, arp };
}

function flow(src: string, srcMac: string, time: number, dst = '1.1.1.1', dstMac = ''): FlowStart {
  return { id: 1, time, proto: 'udp', src, sport: 1000, dst, dport: 53, srcMac, dstMac, vlan: 0, tcpFlags: 0, bytes: 60, origin: 'pcap', exporter: '', sureInitiator: false };
}

const rr = (name: string, type: number, data: string, ttl: number): DnsRecord => ({ name, type, class: 1, ttl, data, cacheFlush: false });
const dns = (answers: DnsRecord[], additional: DnsRecord[] = []): DnsMessage => ({
  id: 1, qr: true, opcode: 0, rcode: 0, aa: false, tc: false, questions: [], answers, authority: [], additional, incomplete: false,
});

t.test('ARP binds; a second MAC claiming the gateway address is a conflict', async (t) => {
  const { i, conflicts, arp } = inv();
  arp('00:b5:6d:06:08:ba', '10.10.10.1', T0);
  arp('00:b5:6d:06:08:ba', '10.10.10.1', T0 + 1000); // same device again: nothing
  t.same(conflicts, []);
  arp('5c:cf:7f:06:d9:02', '10.10.10.1', T0 + 2000);
  t.same(conflicts, [{ time: T0 + 2000, ip: '10.10.10.1', oldMac: '00:b5:6d:06:08:ba', newMac: '5c:cf:7f:06:d9:02', source: 'arp' }]);
  t.equal(i.deviceByIp('10.10.10.1')?.mac, '5c:cf:7f:06:d9:02', 'rebound to the new claimant');
  t.same(i.deviceByMac('00:b5:6d:06:08:ba')?.ips, []);
  // ARP probe (sender 0.0.0.0) binds nothing
  arp('5c:cf:7f:00:00:01', '0.0.0.0', T0 + 3000);
  t.same(i.deviceByMac('5c:cf:7f:00:00:01')?.ips, []);
  t.equal(conflicts.length, 1);
});

t.test('a binding nobody confirmed for bindingStaleMs moves silently', async (t) => {
  const { i, conflicts, arp } = inv({ bindingStaleMs: 60_000 });
  arp('02:00:00:00:00:01', '192.168.50.10', T0);
  arp('02:00:00:00:00:01', '192.168.50.10', T0 + 50_000);
  arp('02:00:00:00:00:02', '192.168.50.10', T0 + 109_999);
  t.equal(conflicts.length, 1, 'confirmed 59.999 s earlier: conflict');
  arp('02:00:00:00:00:01', '192.168.50.10', T0 + 169_999 + 1);
  t.equal(conflicts.length, 1, 'stale: moves without a conflict');
  t.equal(i.deviceByIp('192.168.50.10')?.mac, '02:00:00:00:00:01');
});

t.test('DHCP: hostname, ACK binds yiaddr, ciaddr; device events only on change', async (t) => {
  const { i, events } = inv({ place: (f) => ({ name: f.hostname === 'plug' ? 'kitchen-plug' : '', profile: 'smart-plug', known: f.hostname === 'plug', segment: 'iot' }) });
  const base: DhcpMessage = { op: 1, htype: 1, xid: 1, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: '50:c7:bf:00:fc:a3', chaddrNum: 0, cookie: true, messageType: 1, incomplete: false };
  i.observeDhcp({ ...base, hostname: 'plug', requestedIp: '192.168.1.77' }, T0);
  t.same(i.deviceByMac('50:c7:bf:00:fc:a3')?.ips, [], 'a DISCOVER\'s requested address is not bound');
  i.observeDhcp({ ...base, op: 2, messageType: 5, yiaddr: '192.168.50.23' }, T0 + 10);
  const d = i.deviceByMac('50:c7:bf:00:fc:a3')!;
  t.match(d, { id: '50:c7:bf:00:fc:a3', hostname: 'plug', ips: ['192.168.50.23'], name: 'kitchen-plug', profile: 'smart-plug', known: true, segment: 'iot', firstSeen: T0, lastSeen: T0 + 10 });
  t.match(d.vendor, /TP-LINK/i);
  t.same(events.map((e) => e.change), ['new', 'updated']);
  i.observeFlowStart(flow('192.168.50.23', '50:c7:bf:00:fc:a3', T0 + 5000));
  t.equal(events.length, 2, 'lastSeen alone raises no event');
  t.equal(i.deviceByIp('192.168.50.23')!.lastSeen, T0 + 5000);
  i.observeDhcp({ ...base, fqdn: 'plug2.home.arpa', messageType: 3, ciaddr: '192.168.50.24' }, T0 + 6000);
  t.equal(i.deviceByMac('50:c7:bf:00:fc:a3')?.hostname, 'plug2', 'option 81 first label when no option 12');
  t.same(i.deviceByMac('50:c7:bf:00:fc:a3')?.ips, ['192.168.50.23', '192.168.50.24']);
  t.equal(events.length, 3);
});

t.test('traffic binds local sources only, never multicast/unspecified; no MAC keys by IP', async (t) => {
  const { i, conflicts } = inv();
  i.observeFlowStart(flow('192.168.50.30', '02:aa:00:00:00:01', T0));
  i.observeFlowStart(flow('8.8.8.8', '02:aa:00:00:00:02', T0));
  i.observeFlowStart(flow('0.0.0.0', '02:aa:00:00:00:03', T0, '255.255.255.255'));
  i.observeFlowStart(flow('fe80::1', '02:aa:00:00:00:04', T0, 'ff02::fb'));
  t.same(i.deviceByMac('02:aa:00:00:00:01')?.ips, ['192.168.50.30']);
  t.same(i.deviceByMac('02:aa:00:00:00:02')?.ips, [], 'public source not bound (a router forwarding)');
  t.same(i.deviceByMac('02:aa:00:00:00:03')?.ips, []);
  t.same(i.deviceByMac('02:aa:00:00:00:04')?.ips, ['fe80::1']);
  t.equal(i.deviceByMac('02:aa:00:00:00:04')?.vendor, '', 'locally administered MAC has no vendor');
  // a router forwarding a local host's packets claims nothing by traffic alone
  i.observeFlowStart(flow('192.168.50.30', '02:aa:00:00:00:02', T0 + 1));
  t.same(conflicts, []);
  t.equal(i.deviceByIp('192.168.50.30')?.mac, '02:aa:00:00:00:01');
  // NetFlow: no MAC
  i.observeFlowStart(flow('192.168.50.99', '', T0 + 2));
  t.match(i.deviceByIp('192.168.50.99'), { id: '192.168.50.99', mac: '', ips: ['192.168.50.99'] });
  t.same(i.devices().map((d) => d.id), ['02:aa:00:00:00:01', '02:aa:00:00:00:02', '02:aa:00:00:00:03', '02:aa:00:00:00:04', '192.168.50.99']);
  const strict = inv({ trafficConflicts: true });
  strict.i.observeFlowStart(flow('192.168.50.30', '02:aa:00:00:00:01', T0));
  strict.i.observeFlowStart(flow('192.168.50.30', '02:aa:00:00:00:02', T0 + 1));
  t.equal(strict.conflicts[0]?.source, 'traffic');
});

t.test('DNS: names per client and address, CNAME chains, TTL plus grace', async (t) => {
  const { i } = inv({ dnsGraceMs: 60_000 });
  i.observeDns('192.168.50.5', dns([
    rr('www.example.com', DNS_CNAME, 'edge.cdn.net', 300),
    rr('edge.cdn.net', DNS_CNAME, 'e1.cdn.net', 300),
    rr('e1.cdn.net', DNS_A, '93.184.216.34', 20),
  ], [rr('ns1.cdn.net', DNS_A, '192.0.2.53', 3600)]), T0);
  t.same([...i.namesFor('192.168.50.5', '93.184.216.34', T0 + 1000)].sort(), ['e1.cdn.net', 'edge.cdn.net', 'www.example.com']);
  t.same(i.namesFor('192.168.50.5', '192.0.2.53', T0), [], 'additional-section glue is not an answer');
  t.same(i.namesFor('192.168.50.6', '93.184.216.34', T0), [], 'per client');
  t.equal(i.namesFor('192.168.50.5', '93.184.216.34', T0 + 20_000 + 60_000).length, 3, 'valid through TTL + grace');
  t.same(i.namesFor('192.168.50.5', '93.184.216.34', T0 + 20_000 + 60_001), [], 'expired after');
  i.observeDns('192.168.50.5', dns([rr('other.example.org', DNS_A, '93.184.216.34', 600)]), T0 + 5000);
  t.equal(i.namesFor('192.168.50.5', '93.184.216.34', T0 + 6000)[0], 'other.example.org', 'newest first');
});

t.test('DNS: a dual-stack device asks over one family and connects over the other', async (t) => {
  const { i } = inv();
  const mac = '02:aa:00:00:00:21';
  i.observeFlowStart(flow('192.168.50.21', mac, T0));
  i.observeFlowStart(flow('fd00::21', mac, T0 + 1, 'fd00::1'));
  // the AAAA answer reached the device's IPv4 address; the flow to it leaves from its IPv6 one
  i.observeDns('192.168.50.21', dns([rr('tv.example.com', DNS_AAAA, '2001:db8::80', 600)]), T0 + 2);
  t.same(i.namesFor('fd00::21', '2001:db8::80', T0 + 3), ['tv.example.com'], 'the device resolved it');
  t.same(i.namesFor('192.168.50.22', '2001:db8::80', T0 + 3), [], 'another device did not');
});

t.test('DNS: total names bounded, least recently updated pair evicted', async (t) => {
  const { i } = inv({ dnsMaxEntries: 3 });
  for (let k = 0; k < 5; k++) i.observeDns('10.0.0.1', dns([rr(`h${k}.example`, DNS_A, `203.0.113.${k}`, 600)]), T0 + k);
  t.same(i.namesFor('10.0.0.1', '203.0.113.0', T0 + 10), []);
  t.same(i.namesFor('10.0.0.1', '203.0.113.1', T0 + 10), []);
  t.same(i.namesFor('10.0.0.1', '203.0.113.4', T0 + 10), ['h4.example']);
  t.same(i.namesFor('10.0.0.1', '203.0.113.2', T0 + 10), ['h2.example']);
});

t.test('mDNS self-announcement names a device unless DHCP did', async (t) => {
  const { i } = inv();
  i.observeMdns('192.168.50.40', '02:bb:00:00:00:01', dns([rr('Living-Room.local', DNS_A, '192.168.50.40', 120), rr('other.local', DNS_A, '192.168.50.41', 120)]), T0);
  t.equal(i.deviceByMac('02:bb:00:00:00:01')?.hostname, 'Living-Room');
  i.observeMdns('192.168.50.41', '02:bb:00:00:00:02', dns([rr('printer._ipp._tcp.local', DNS_A, '192.168.50.41', 120)]), T0);
  t.equal(i.deviceByMac('02:bb:00:00:00:02')?.hostname, '', 'service instance names are not hostnames');
});

t.test('address classes and OUI', async (t) => {
  for (const ip of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.50.1', '100.64.0.1', '169.254.1.1', 'fe80::1', 'fd00:50::1']) t.ok(isLocalIp(ip), ip);
  for (const ip of ['172.32.0.1', '8.8.8.8', '100.128.0.1', '2001:db8::1', 'ff02::1']) t.notOk(isLocalIp(ip), ip);
  // the same answer from the address's addrKey() (int32: 128.0.0.0 and up are negative)
  let differ = 0;
  for (let a = 0; a < 256; a++) for (const rest of ['0.0.1', '16.0.1', '31.255.255', '32.0.0', '64.0.0', '127.255.255', '128.0.0', '168.1.1', '254.9.9', '255.255.255']) {
    const ip = `${a}.${rest}`;
    if (isLocalIp4(addrKey(ip) as number) !== isLocalIp(ip)) differ++;
  }
  t.equal(differ, 0, 'isLocalIp4 = isLocalIp over 2,560 addresses at the ranges\' edges');
  for (const ip of ['0.0.0.0', '255.255.255.255', '224.0.0.251', '::', 'ff02::fb', '127.0.0.1', '::1']) t.notOk(isBindableIp(ip), ip);
  t.equal(vendorOf('00:17:88:24:76:ff'), 'Philips Lighting BV');
  t.equal(vendorOf('02:17:88:24:76:ff'), '');
});

t.test('a frame to an address someone holds claims nothing for its MAC; once the holder is gone, it does', async (t) => {
  // trafficConflicts: a claim by traffic would take the address over, so one made wrongly shows
  const { i, conflicts, arp } = inv({ maxDevices: 3, trafficConflicts: true });
  const A = '02:aa:00:00:00:0a', B = '02:aa:00:00:00:0b', C = '02:aa:00:00:00:0c';
  arp(A, '192.168.50.30', T0);
  i.observeFlowStart(flow('192.168.50.40', C, T0 + 1));
  // C sends to A's address in a frame for B (a stale neighbour entry, a spoof): A keeps it
  i.observeFlowStart(flow('192.168.50.40', C, T0 + 2, '192.168.50.30', B));
  t.equal(i.deviceByIp('192.168.50.30')?.mac, A, 'still the holder\'s');
  t.same(i.deviceByMac(B)?.ips, [], 'B is a device, holding nothing');
  t.same(conflicts, []);
  // a fourth device at the cap of 3 pushes A (the first) out, and its binding with it
  i.observeFlowStart(flow('192.168.50.50', '02:aa:00:00:00:0d', T0 + 600_000));
  t.equal(i.deviceByMac(A), undefined, 'A evicted');
  i.observeFlowStart(flow('192.168.50.40', C, T0 + 600_001, '192.168.50.30', B));
  t.equal(i.deviceByIp('192.168.50.30')?.mac, B, 'the free address is the responder\'s from its first frame');
});
