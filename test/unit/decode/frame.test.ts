// decodeFrame against tshark on real captures: link layer, VLAN tags, ARP, IPv4/IPv6, TCP/UDP/ICMP.
import t, { type Test } from 'tap';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo, DECODE_ERROR_NAMES, L3 } from '../../../collector/decode/packet.js';
import { ip4String, ip6String } from '../../../collector/decode/addr.js';
import { macString } from '../../../collector/types.js';
import { readFrames, capture, tsharkFields, type Frame } from './frames.js';

const FIELDS = [
  'eth.src', 'vlan.id', 'ieee8021ad.id',
  'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4',
  'ip.src', 'ip.dst', 'ip.len', 'ip.ttl', 'ip.proto', 'ip.id', 'ip.flags.mf', 'ip.frag_offset',
  'ipv6.src', 'ipv6.dst', 'ipv6.plen', 'ipv6.hlim',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.seq_raw', 'tcp.len',
  'udp.srcport', 'udp.dstport', 'udp.length',
  'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code', 'sll.src.eth',
];
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<string, number>;
const TSHARK_OPTS = ['-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE'];

function tshark(file: string): string[][] {
  return tsharkFields(file, FIELDS, undefined, TSHARK_OPTS);
}

const first = (s: string | undefined): string => (s ?? '').split(',')[0];
const list = (s: string | undefined): string[] => (s ? s.split(',') : []);

/** Compares one capture frame by frame; returns how many frames had IP or ARP fields checked. */
function compareCapture(tt: Test, rel: string, opts: { errorsAllowed?: number } = {}): number {
  const file = capture(rel);
  const frames = readFrames(file);
  const rows = tshark(file);
  tt.equal(frames.length, rows.length, `${rel}: frame count`);
  const p = new PacketInfo();
  let checked = 0, errors = 0;
  const n = Math.min(frames.length, rows.length);
  for (let i = 0; i < n; i++) {
    const f = frames[i], r = rows[i];
    decodeFrame(f.data, f.offset, f.caplen, f.wirelen, f.ts, f.linkType, p);
    if (p.error) { errors++; continue; }
    const where = `${rel} #${i + 1}`;
    const mismatch: string[] = [];
    const eq = (what: string, ours: string | number | boolean, theirs: string) => {
      if (String(ours) !== theirs) mismatch.push(`${what}: ours ${ours} tshark ${theirs}`);
    };
    if (f.linkType === 1) {
      eq('eth.src', macString(p.srcMac), first(r[F['eth.src']]));
      const tags = [...list(r[F['ieee8021ad.id']]), ...list(r[F['vlan.id']])];
      eq('vlanTags', p.vlanTags, String(tags.length));
      eq('vlan', p.vlan, tags[0] ?? '0');
      eq('vlanInner', p.vlanInner, tags[1] ?? '0');
    }
    if (f.linkType === 113 || f.linkType === 276) eq('sll.src', macString(p.srcMac), first(r[F['sll.src.eth']]));
    if (r[F['arp.opcode']]) {
      eq('l3', p.l3, String(L3.ARP));
      eq('arp.op', p.arpOp, r[F['arp.opcode']]);
      eq('arp.sha', macString(p.arpSenderMac), r[F['arp.src.hw_mac']]);
      eq('arp.spa', ip4String(p.arpSenderIp), r[F['arp.src.proto_ipv4']]);
      eq('arp.tha', macString(p.arpTargetMac), r[F['arp.dst.hw_mac']]);
      eq('arp.tpa', ip4String(p.arpTargetIp), r[F['arp.dst.proto_ipv4']]);
      checked++;
    } else if (r[F['ip.src']] && (!r[F['ipv6.src']] || p.l3 === L3.IPv4)) {
      eq('l3', p.l3, String(L3.IPv4));
      eq('ip.src', ip4String(p.src4), first(r[F['ip.src']]));
      eq('ip.dst', ip4String(p.dst4), first(r[F['ip.dst']]));
      eq('ip.len', p.ipLen, first(r[F['ip.len']]));
      eq('ip.ttl', p.ttl, first(r[F['ip.ttl']]));
      eq('ip.proto', p.proto, first(r[F['ip.proto']]));
      eq('ip.mf', p.moreFragments ? '1' : '0', first(r[F['ip.flags.mf']]) === 'True' || first(r[F['ip.flags.mf']]) === '1' ? '1' : '0');
      eq('ip.frag_offset (8-byte units)', p.fragOffset / 8, first(r[F['ip.frag_offset']]));
      if (p.isFragment) eq('ip.id', '0x' + p.fragId.toString(16).padStart(4, '0'), first(r[F['ip.id']]));
      checked++;
    } else if (r[F['ipv6.src']]) {
      eq('l3', p.l3, String(L3.IPv6));
      eq('ipv6.src', ip6String(p.buf, p.srcOff), first(r[F['ipv6.src']]));
      eq('ipv6.dst', ip6String(p.buf, p.dstOff), first(r[F['ipv6.dst']]));
      eq('ipv6.plen', p.ipLen - 40, first(r[F['ipv6.plen']]));
      eq('ipv6.hlim', p.ttl, first(r[F['ipv6.hlim']]));
      checked++;
    } else {
      eq('l3', p.l3, String(L3.None));
    }
    const whole = f.caplen === f.wirelen;
    if (p.hasL4 && p.proto === 6 && r[F['tcp.srcport']]) {
      eq('tcp.srcport', p.sport, first(r[F['tcp.srcport']]));
      eq('tcp.dstport', p.dport, first(r[F['tcp.dstport']]));
      eq('tcp.flags', p.tcpFlags, String(parseInt(first(r[F['tcp.flags']]), 16) & 0xff));
      eq('tcp.seq_raw', p.tcpSeq, first(r[F['tcp.seq_raw']]));
      if (whole && !p.isFragment) eq('tcp.len', p.payloadLength, first(r[F['tcp.len']]));
    } else if (p.hasL4 && p.proto === 17 && r[F['udp.srcport']]) {
      eq('udp.srcport', p.sport, first(r[F['udp.srcport']]));
      eq('udp.dstport', p.dport, first(r[F['udp.dstport']]));
      if (whole && !p.isFragment) eq('udp payload', p.payloadLength, String(Number(first(r[F['udp.length']])) - 8));
    } else if (p.hasL4 && p.proto === 1) {
      eq('icmp.type', p.icmpType, first(r[F['icmp.type']]));
      eq('icmp.code', p.icmpCode, first(r[F['icmp.code']]));
    } else if (p.hasL4 && p.proto === 58) {
      eq('icmpv6.type', p.icmpType, first(r[F['icmpv6.type']]));
      eq('icmpv6.code', p.icmpCode, first(r[F['icmpv6.code']]));
    } else if (p.hasL4) {
      mismatch.push(`hasL4 for proto ${p.proto} but tshark has no such header`);
    }
    if (mismatch.length) tt.fail(`${where}: ${mismatch.join('; ')}`);
  }
  tt.ok(errors <= (opts.errorsAllowed ?? 0), `${rel}: ${errors} decode errors (allowed ${opts.errorsAllowed ?? 0})`);
  return checked;
}

const CLEAN: [string, number][] = [
  // [capture, frames with L3 checked at least]
  ['decode/tcpdump-802.1ad_QinQ.pcap', 2],
  ['decode/zeek-q-in-q.pcap', 4],
  ['decode/zeek-vlan-qinqinq.pcap', 14],
  ['decode/zeek-http-qinq-0.pcap', 14],
  ['decode/zeek-http-vlan-0.pcap', 14],
  ['decode/zeek-icmp_dot1q.pcap', 15],
  ['decode/zeek-vlan-pcp-dei.pcapng', 9],
  ['decode/akvorado-vlan-ipv6.pcap', 1],
  ['decode/lwerdna-simple_http_sll2.pcap', 24],
  ['decode/zeek-linux_dlt_sll2.pcap', 6],
  ['decode/zeek-linuxsll-arp.pcap', 12],
  ['decode/tcpdump-tcp-handshake-nano.pcap', 3],
  ['decode/tcpdump-LINKTYPE_IPV4.pcap', 1],
  ['decode/tcpdump-LINKTYPE_RAW_ipv4.pcap', 1],
  ['decode/tcpdump-LINKTYPE_RAW_ipv6.pcap', 1],
  ['decode/tcpdump-ipv6-routing-header.pcap', 4],
  ['decode/tcpdump-ipv6-srh-ext-header.pcap', 1],
  ['decode/tcpdump-ipv6_no_next_header.pcap', 1],
  ['decode/zeek-ipv6-hbh-routing0.pcap', 1],
  ['decode/zeek-ipv6-http-atomic-frag.pcap', 38],
  ['decode/zeek-ipv4_fragmented-1.pcap', 3],
  ['decode/zeek-ipv4_fragmented-3.pcap', 5],
  ['decode/zeek-ipv6-fragmented-dns.pcap', 8],
  ['decode/ndpi-dns_fragmented.pcap', 66],
  ['decode/zeek-nflog-http.pcap', 13],
  ['decode/pcapngtg-le-test006.pcapng', 2],
  ['proto/zeek-dns_mdns.pcap', 24],
  ['proto/zeek-icmp_icmp6-nd-options.pcap', 20],
  ['proto/ndpi-mqtt.pcap', 9],
  ['proto/zeek-arp-who-has.pcap', 2],
  ['proto/ndpi-synscan.pcap', 2011],
  ['iot/ndpi-xiaomi.pcap', 52],
  ['iot/iotsentinel/HueBridge-Setup-A-1-STA.pcap', 1400],
  ['iot/ndpi-alexa-app.pcapng', 3000],
  ['proto/ndpi-coap_mqtt.pcap', 1082],
];

for (const [rel, min] of CLEAN) {
  t.test(rel, async (tt) => {
    const checked = compareCapture(tt, rel);
    tt.ok(checked >= min, `${rel}: ${checked} frames with L3 compared (want >= ${min})`);
  });
}

/** The error each malformed frame must report, and that it leaves earlier layers decoded. */
function decodeAll(rel: string): { p: PacketInfo; f: Frame; err: string; snap: Record<string, unknown> }[] {
  const p = new PacketInfo();
  return readFrames(capture(rel)).map((f) => {
    decodeFrame(f.data, f.offset, f.caplen, f.wirelen, f.ts, f.linkType, p);
    const snap = { l3: p.l3, hasL4: p.hasL4, proto: p.proto, ipLen: p.ipLen, src4: p.src4, sport: p.sport, dport: p.dport, isFragment: p.isFragment, fragOffset: p.fragOffset, vlanTags: p.vlanTags, icmpType: p.icmpType, etherType: p.etherType };
    return { p, f, err: DECODE_ERROR_NAMES[p.error], snap };
  });
}

t.test('malformed frames report their error and keep what came before', async (tt) => {
  const arp = decodeAll('decode/tcpdump-arp-too-long-tha.pcap');
  tt.equal(arp[0].err, 'bad_arp');
  tt.equal(arp[0].snap.vlanTags, 1, 'the 802.1ad tag before the bad ARP is kept');

  const bogus = decodeAll('decode/zeek-ip-bogus-header-len.pcap');
  tt.equal(bogus[0].err, 'bad_ip_total_length');
  tt.equal(bogus[0].snap.l3, L3.None, 'l3 stays None when the IPv4 header is not good');

  const badver = decodeAll('decode/tcpdump-ipv6-bad-version.pcap');
  tt.same(badver.map((x) => x.err).sort(), ['bad_ip_version', 'bad_ip_version', 'none', 'none']);

  const trh = decodeAll('decode/zeek-tcp_truncated-header.pcap');
  const bad = trh.filter((x) => x.err !== 'none');
  tt.equal(bad.length, 1);
  tt.equal(bad[0].err, 'truncated');
  tt.equal(bad[0].snap.l3, L3.IPv4, 'IP fields stay valid under a truncated TCP header');
  tt.equal(bad[0].snap.proto, 6);
  tt.equal(bad[0].snap.hasL4, true, 'the ports were captured: the packet keeps its conversation');
  tt.same([bad[0].snap.sport, bad[0].snap.dport], [60827, 25]);
  tt.ok((bad[0].snap.ipLen as number) > 0);

  const icmp = decodeAll('decode/zeek-trunc_icmp-header-trunc.pcap');
  for (const x of icmp) { tt.equal(x.err, 'truncated'); tt.equal(x.snap.l3, L3.IPv4); tt.equal(x.snap.hasL4, false); }

  const neg = decodeAll('decode/tcpdump-ipv6_frag6_negative_len.pcap');
  tt.equal(neg[0].err, 'bad_ipv6_ext_header');
  tt.equal(neg[0].snap.l3, L3.IPv6);

  for (const rel of ['decode/zeek-trunc_ip4-trunc.pcap', 'decode/zeek-trunc_ip6-trunc.pcap', 'decode/zeek-trunc_ip6-ext-trunc.pcap',
    'decode/zeek-trunc_ipv4-truncated-broken-header.pcap', 'decode/zeek-trunc_trunc-hdr.pcap', 'decode/tcpdump-ip6_frag_asan.pcap']) {
    tt.same(decodeAll(rel).map((x) => x.err), ['truncated'], rel);
  }

  // A first fragment whose TCP options go on in the next fragment: legal, ports and flags known.
  const syn = decodeAll('decode/zeek-ipv4_fragmented-syn.pcap');
  tt.equal(syn[0].err, 'none');
  tt.equal(syn[0].snap.isFragment, true);
  tt.same([syn[0].snap.sport, syn[0].snap.dport], [12345, 80]);
  tt.equal(syn[1].err, 'none');
  tt.equal(syn[1].snap.hasL4, false, 'a later fragment has no ports');
  tt.ok((syn[1].snap.fragOffset as number) > 0);

  // Short snaplen is not an error while headers are captured: ipLen is from the header.
  const rst = decodeAll('decode/tcpdump-tcp_rst_data-trunc.pcap');
  tt.equal(rst[0].err, 'none');
  tt.ok((rst[0].snap.ipLen as number) >= rst[0].p.caplen - 14, 'ipLen from the header, not caplen');

  const garbage = decodeAll('decode/ndpi-ip_fragmented_garbage.pcap');
  tt.equal(garbage.length, 1252);
  tt.ok(garbage.filter((x) => x.err === 'none').length >= 1240);

  const udpOob = decodeAll('decode/zeek-udp-contents-truncated-oob.pcap');
  tt.equal(udpOob[0].snap.l3, L3.IPv4);
});

t.test('frames embedded at an offset in a larger buffer decode the same', async (tt) => {
  const files = ['decode/zeek-vlan-qinqinq.pcap', 'decode/lwerdna-simple_http_sll2.pcap', 'decode/tcpdump-LINKTYPE_RAW_ipv6.pcap',
    'proto/zeek-dns_mdns.pcap', 'decode/zeek-ipv6-fragmented-dns.pcap', 'proto/zeek-arp-who-has.pcap'];
  const a = new PacketInfo(), b = new PacketInfo();
  let n = 0;
  for (const rel of files) {
    for (const f of readFrames(capture(rel))) {
      decodeFrame(f.data, f.offset, f.caplen, f.wirelen, f.ts, f.linkType, a);
      const pad = 1 + (n * 37) % 251;
      const big = Buffer.alloc(pad + f.caplen + 64, 0xee); // trailing junk must not be read as frame bytes
      f.data.copy(big, pad, f.offset, f.offset + f.caplen);
      decodeFrame(big, pad, f.caplen, f.wirelen, f.ts, f.linkType, b);
      const shift = pad - f.offset;
      const same = a.error === b.error && a.l3 === b.l3 && a.srcMac === b.srcMac && a.vlan === b.vlan && a.src4 === b.src4 &&
        a.dst4 === b.dst4 && a.ipLen === b.ipLen && a.proto === b.proto && a.sport === b.sport && a.dport === b.dport &&
        a.hasL4 === b.hasL4 && a.payloadLength === b.payloadLength && a.arpSenderIp === b.arpSenderIp &&
        (a.payloadLength === 0 || a.payloadOffset + shift === b.payloadOffset) &&
        (a.l3 !== L3.IPv6 || ip6String(a.buf, a.srcOff) === ip6String(b.buf, b.srcOff));
      if (!same) tt.fail(`${rel}: frame at offset ${pad} decodes differently`);
      n++;
    }
  }
  tt.ok(n >= 60, `${n} frames compared at offsets`);
});

t.test('frames shorter than their caplen claims and bad arguments do not throw', async (tt) => {
  const p = new PacketInfo();
  const f = readFrames(capture('decode/zeek-vlan-qinqinq.pcap'))[0];
  const cut = Buffer.from(f.data.subarray(f.offset, f.offset + 30));
  decodeFrame(cut, 0, f.caplen, f.wirelen, 0, 1, p);
  tt.equal(DECODE_ERROR_NAMES[p.error], 'truncated', 'caplen past the buffer is clamped');
  decodeFrame(cut, -1, 10, 10, 0, 1, p);
  tt.equal(DECODE_ERROR_NAMES[p.error], 'bad_capture_length');
  decodeFrame(cut, 0, 30, 30, 0, 9999, p);
  tt.equal(DECODE_ERROR_NAMES[p.error], 'bad_link_type');
  // Five tags: one more than we follow.
  const five = Buffer.alloc(14 + 5 * 4 + 20);
  five.writeUInt16BE(0x8100, 12);
  for (let i = 0; i < 5; i++) { five.writeUInt16BE(100 + i, 14 + i * 4); five.writeUInt16BE(i < 4 ? 0x8100 : 0x0800, 16 + i * 4); }
  decodeFrame(five, 0, five.length, five.length, 0, 1, p);
  tt.equal(DECODE_ERROR_NAMES[p.error], 'too_many_tags');
  tt.equal(p.vlan, 100);
  tt.equal(p.vlanInner, 101);
});
