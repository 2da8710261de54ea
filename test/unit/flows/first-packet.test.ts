// What a flow's first packet says about who opened it (FlowStart.firstPacket): a late segment
// of a TCP session that closed moments ago, an ICMP error, a reply to a host's broadcast or
// multicast discovery. Each case next to its near miss, which must stay a plain first packet.

import t from 'tap';
import { FlowTable, type FlowTableOptions } from '../../../collector/flows/flow-table.js';
import { PacketInfo, TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST, TCP_PSH } from '../../../collector/decode/packet.js';
import { fill, type Pkt } from './fill.js';
import type { FlowStart } from '../../../collector/types.js';

function table(opts: FlowTableOptions = {}) {
  const starts: FlowStart[] = [];
  const ft = new FlowTable(opts, { onStart: (e) => starts.push(e), onRecord: () => {} });
  const p = new PacketInfo();
  const add = (k: Pkt) => ft.add(fill(p, k));
  const last = () => starts[starts.length - 1];
  return { ft, starts, add, last };
}

const T0 = 1_700_000_000_000;
const PLUG = '192.168.50.42', CLOUD = '52.57.10.20', PHONE = '192.168.50.77';

function closedSession(add: (k: Pkt) => number): void {
  // a TLS session that ends with FIN both ways
  add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_SYN, ts: T0 });
  add({ src: CLOUD, dst: PLUG, sport: 443, dport: 50123, flags: TCP_SYN | TCP_ACK, ts: T0 + 10 });
  add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_ACK | TCP_PSH, ts: T0 + 20 });
  add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_FIN | TCP_ACK, ts: T0 + 1000 });
  add({ src: CLOUD, dst: PLUG, sport: 443, dport: 50123, flags: TCP_FIN | TCP_ACK, ts: T0 + 1010 });
}

t.test('a segment of a session closed moments ago is late, after the closed flow ended', async (t) => {
  const { starts, add, last } = table();
  closedSession(add);
  // the closed flow lingers 5 s; 20 s later the server's late TLS alert, and the plug's RST to it
  const id = add({ src: CLOUD, dst: PLUG, sport: 443, dport: 50123, flags: TCP_ACK | TCP_PSH, ts: T0 + 21_000 });
  add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_RST, ts: T0 + 21_010 });
  t.equal(starts.length, 2, 'the late alert starts a flow of its own');
  t.match(last(), { id, src: CLOUD, sport: 443, firstPacket: 'late', sureInitiator: false });
  // the RST closed that flow too; a second late RST 10 s on is late as well
  add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_RST, ts: T0 + 40_000 });
  t.equal(last().firstPacket, 'late', 'a late segment of a late flow');
});

t.test('near misses of a late segment stay plain', async (t) => {
  const { add, last } = table({ lateTcpMs: 120_000 });
  closedSession(add);
  // a new SYN on the same ports is a new connection
  add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_SYN, ts: T0 + 30_000 });
  t.equal(last().firstPacket, undefined, 'a SYN reusing the ports');
  // mid-flow traffic of a session never seen closing
  add({ src: PLUG, dst: CLOUD, sport: 50999, dport: 443, flags: TCP_ACK | TCP_PSH, ts: T0 + 31_000 });
  t.equal(last().firstPacket, undefined, 'mid-flow, other ports');
  const b = table({ lateTcpMs: 120_000 });
  closedSession(b.add);
  b.add({ src: CLOUD, dst: PLUG, sport: 443, dport: 50123, flags: TCP_ACK, ts: T0 + 1010 + 120_001 });
  t.equal(b.last().firstPacket, undefined, 'after lateTcpMs the session is forgotten');
  const c = table();
  c.add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_SYN, ts: T0 });
  c.add({ src: PLUG, dst: CLOUD, sport: 50123, dport: 443, flags: TCP_ACK, ts: T0 + 10 });
  // idle, not closed: the flow expired after 300 s; a later segment is mid-flow, not late
  c.add({ src: CLOUD, dst: PLUG, sport: 443, dport: 50123, flags: TCP_ACK, ts: T0 + 301_000 });
  t.equal(c.last().firstPacket, undefined, 'a session that went idle without closing');
});

t.test('ICMP and ICMPv6 errors open nothing; echo does', async (t) => {
  const { add, last } = table();
  add({ src: '192.168.50.1', dst: PLUG, proto: 1, icmpType: 3, ts: T0 });
  t.equal(last().firstPacket, 'icmp-error', 'destination unreachable');
  add({ src: '10.9.9.9', dst: PLUG, proto: 1, icmpType: 11, ts: T0 });
  t.equal(last().firstPacket, 'icmp-error', 'time exceeded');
  add({ src: '10.9.9.8', dst: PLUG, proto: 1, icmpType: 12, ts: T0 });
  t.equal(last().firstPacket, 'icmp-error', 'parameter problem');
  for (const type of [1, 2, 3, 4]) {
    add({ src: `fd00:50::${type}`, dst: 'fd00:50::42', proto: 58, icmpType: type, ts: T0 });
    t.equal(last().firstPacket, 'icmp-error', `ICMPv6 type ${type}`);
  }
  add({ src: PLUG, dst: '8.8.8.8', proto: 1, icmpType: 8, ts: T0 });
  t.equal(last().firstPacket, undefined, 'echo request');
  add({ src: 'fd00:50::42', dst: 'fd00:50::99', proto: 58, icmpType: 128, ts: T0 });
  t.equal(last().firstPacket, undefined, 'ICMPv6 echo request');
  add({ src: 'fd00:50::42', dst: 'fd00:50::98', proto: 58, icmpType: 135, ts: T0 });
  t.equal(last().firstPacket, undefined, 'neighbour solicitation');
});

const BCAST_MAC = 0xffffffffffff;

t.test('a datagram to the port a host just sent a discovery from is a reply, whatever its source port', async (t) => {
  const { add, last, starts } = table();
  // the phone asks every plug: from an ephemeral port to the broadcast address, Kasa's 9999
  add({ src: PHONE, dst: '255.255.255.255', sport: 51000, dport: 9999, proto: 17, dstMac: BCAST_MAC, ts: T0 });
  t.equal(last().firstPacket, undefined, 'the discovery itself is the phone\'s flow');
  add({ src: PLUG, dst: PHONE, sport: 9999, dport: 51000, proto: 17, ts: T0 + 40 });
  t.equal(last().firstPacket, 'discovery-reply', 'the plug answers from 9999');
  add({ src: '192.168.50.43', dst: PHONE, sport: 40001, dport: 51000, proto: 17, ts: T0 + 29_000 });
  t.equal(last().firstPacket, 'discovery-reply', 'another answers from any port, 29 s on');
  // SSDP to a group address, mDNS and WS-Discovery over IPv6
  add({ src: PHONE, dst: '239.255.255.250', sport: 52000, dport: 1900, proto: 17, dstMac: 0x01005e7ffffa, ts: T0 + 1000 });
  add({ src: '192.168.50.60', dst: PHONE, sport: 1900, dport: 52000, proto: 17, ts: T0 + 1100 });
  t.equal(last().firstPacket, 'discovery-reply', 'SSDP');
  add({ src: 'fe80::77', dst: 'ff02::fb', sport: 5353, dport: 5353, proto: 17, dstMac: 0x3333000000fb, ts: T0 + 2000 });
  add({ src: 'fe80::60', dst: 'fe80::77', sport: 5353, dport: 5353, proto: 17, ts: T0 + 2100 });
  t.equal(last().firstPacket, 'discovery-reply', 'mDNS unicast answer (IPv6)');
  add({ src: 'fe80::77', dst: 'ff02::c', sport: 58932, dport: 3702, proto: 17, dstMac: 0x33330000000c, ts: T0 + 3000 });
  add({ src: 'fe80::61', dst: 'fe80::77', sport: 3702, dport: 58932, proto: 17, ts: T0 + 3100 });
  t.equal(last().firstPacket, 'discovery-reply', 'WS-Discovery');
  // a subnet's broadcast address is a group by its frame: ff:ff:ff:ff:ff:ff
  add({ src: '192.168.50.8', dst: '192.168.50.255', sport: 42253, dport: 32412, proto: 17, dstMac: BCAST_MAC, ts: T0 + 4000 });
  add({ src: '192.168.50.9', dst: '192.168.50.8', sport: 32412, dport: 42253, proto: 17, ts: T0 + 4100 });
  t.equal(last().firstPacket, 'discovery-reply', 'directed broadcast');
  t.equal(starts.length, 11);
});

t.test('repeated discoveries from one port keep replies fresh: 30 s after the last one, not the first', async (t) => {
  const { add, last } = table();
  for (let i = 0; i < 6; i++) add({ src: '192.168.50.8', dst: '192.168.50.255', sport: 42253, dport: 32412, proto: 17, dstMac: BCAST_MAC, ts: T0 + i * 5000 });
  // one group flow for all six; the last send at +25 s
  add({ src: '192.168.50.9', dst: '192.168.50.8', sport: 32412, dport: 42253, proto: 17, ts: T0 + 25_000 + 29_000 });
  t.equal(last().firstPacket, 'discovery-reply', '54 s after the first send, 29 s after the last');
  add({ src: '192.168.50.10', dst: '192.168.50.8', sport: 32412, dport: 42253, proto: 17, ts: T0 + 25_000 + 31_000 });
  t.equal(last().firstPacket, undefined, '31 s after the last send: not a reply');
});

t.test('near misses of a discovery reply stay plain', async (t) => {
  const { add, last } = table();
  // a plug that really sends from 9999 to a host that sent no discovery
  add({ src: PLUG, dst: PHONE, sport: 9999, dport: 51000, proto: 17, ts: T0 });
  t.equal(last().firstPacket, undefined, 'no discovery from that host');
  add({ src: PHONE, dst: '255.255.255.255', sport: 51001, dport: 9999, proto: 17, dstMac: BCAST_MAC, ts: T0 + 1000 });
  add({ src: PLUG, dst: PHONE, sport: 9999, dport: 51002, proto: 17, ts: T0 + 1100 });
  t.equal(last().firstPacket, undefined, 'to another port than the discovery came from');
  add({ src: PLUG, dst: '192.168.50.78', sport: 9999, dport: 51001, proto: 17, ts: T0 + 1200 });
  t.equal(last().firstPacket, undefined, 'to another host on that port');
  add({ src: '192.168.50.43', dst: PHONE, sport: 9999, dport: 51001, proto: 17, ts: T0 + 1000 + 30_001 });
  t.equal(last().firstPacket, undefined, 'more than 30 s after the discovery');
  add({ src: PHONE, dst: '255.255.255.255', sport: 51003, dport: 9999, proto: 17, dstMac: BCAST_MAC, vlan: 50, ts: T0 + 40_000 });
  add({ src: PLUG, dst: PHONE, sport: 9999, dport: 51003, proto: 17, vlan: 51, ts: T0 + 40_100 });
  t.equal(last().firstPacket, undefined, 'on another VLAN');
  // the reply's own unicast flow to a host is no discovery: a datagram back to its port is plain
  add({ src: PLUG, dst: PHONE, sport: 9999, dport: 51004, proto: 17, ts: T0 + 50_000 });
  add({ src: '192.168.50.44', dst: PLUG, sport: 51004, dport: 9999, proto: 17, ts: T0 + 50_100 });
  t.equal(last().firstPacket, undefined, 'unicast sends teach nothing');
});

t.test('the memory of closed sessions and discoveries is bounded: a collision forgets, never misattributes', async (t) => {
  const { ft, add, last } = table({ rememberSlots: 16 });
  // 200 discoveries from 200 ports into 16 entries
  for (let i = 0; i < 200; i++) add({ src: PHONE, dst: '255.255.255.255', sport: 40000 + i, dport: 9999, proto: 17, dstMac: BCAST_MAC, ts: T0 + i });
  let replies = 0;
  for (let i = 0; i < 200; i++) {
    add({ src: PLUG, dst: PHONE, sport: 9999, dport: 40000 + i, proto: 17, ts: T0 + 1000 + i });
    if (last().firstPacket === 'discovery-reply') replies++;
  }
  t.ok(replies >= 1 && replies <= 16, `at most one remembered discovery per entry (${replies})`);
  add({ src: PLUG, dst: PHONE, sport: 9999, dport: 39999, proto: 17, ts: T0 + 2000 });
  t.equal(last().firstPacket, undefined, 'a port that sent nothing is never a reply');
  t.ok(ft.capacity > 0);
});
