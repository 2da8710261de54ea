// The one per-packet structure of the hot path: a reused record of offsets and
// numbers filled in place by decodeFrame(). Nothing here is allocated per packet;
// addresses stay in the frame's Buffer (IPv6) or in a uint32 (IPv4).

/** libpcap LINKTYPE_* values segwatch decodes. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; // raw IPv4 or IPv6, version from the first nibble
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;
/** DLT_RAW as some BSDs number it (12, 14) is treated as LINKTYPE_RAW. */
export const LINKTYPE_RAW_BSD_12 = 12;
export const LINKTYPE_RAW_BSD_14 = 14;
/** BSD loopback: 4-byte address family in the writer's byte order (0) or network order (108). */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_LOOP = 108;
/** Linux NFLOG: TLVs around the IP packet. */
export const LINKTYPE_NFLOG = 239;

/** Why a frame was not fully decoded. 0 = decoded. Index into DECODE_ERROR_NAMES. */
export const enum DecodeError {
  None = 0,
  Truncated = 1,          // a header runs past the captured bytes
  BadLinkType = 2,        // link type segwatch does not decode
  BadIpVersion = 3,
  BadIpHeaderLength = 4,
  BadIpTotalLength = 5,
  BadIpv6ExtHeader = 6,
  BadTcpHeaderLength = 7,
  BadArp = 8,
  TooManyTags = 9,         // more VLAN tags than we follow
  TooManyExtHeaders = 10,
  BadUdpLength = 11,       // UDP length < 8 or past the IP length; ports stay valid (hasL4)
  BadCaptureLength = 12,   // offset/caplen outside the buffer handed in
}
export const DECODE_ERROR_NAMES: readonly string[] = [
  'none', 'truncated', 'bad_link_type', 'bad_ip_version', 'bad_ip_header_length',
  'bad_ip_total_length', 'bad_ipv6_ext_header', 'bad_tcp_header_length', 'bad_arp',
  'too_many_tags', 'too_many_ext_headers', 'bad_udp_length', 'bad_capture_length',
];

/** Layer-3 kind of the frame. */
export const enum L3 {
  None = 0,   // not IP or ARP (LLDP, STP, ...): counted, not an error
  IPv4 = 4,
  IPv6 = 6,
  ARP = 1,
}

export class PacketInfo {
  /**
   * The buffer holding the frame, which may hold other frames too (a source's read chunk):
   * the frame is buf[frameOffset, frameOffset + caplen). Every offset below is absolute in buf.
   * Valid only until the source hands out the next frame.
   */
  buf: Buffer = Buffer.alloc(0);
  frameOffset = 0;
  /** ms since epoch, with fraction. */
  ts = 0;
  /** bytes captured (buf.length) and bytes on the wire. */
  caplen = 0;
  wirelen = 0;
  linkType = LINKTYPE_ETHERNET;

  /** 0 when decoded, else a DecodeError (the frame is counted and skipped by flows). */
  error: DecodeError = DecodeError.None;

  // Link layer. MACs as 48-bit numbers, -1 when the link type has none.
  srcMac = -1;
  dstMac = -1;
  /** outermost 802.1Q / 802.1ad VLAN id, 0 when untagged; inner id of QinQ in vlanInner. */
  vlan = 0;
  vlanInner = 0;
  /** number of VLAN tags followed. */
  vlanTags = 0;
  etherType = 0;

  l3: L3 = L3.None;
  l3Offset = 0;

  // IP. For IPv4 the addresses are in src4/dst4 (uint32, network order value);
  // for IPv6 at srcOff/dstOff in buf (16 bytes each). srcOff/dstOff are set for IPv4 too (4 bytes).
  src4 = 0;
  dst4 = 0;
  srcOff = 0;
  dstOff = 0;
  /** IP length counted for flows: IPv4 total length, IPv6 payload length + 40. From the header, not caplen. */
  ipLen = 0;
  ttl = 0;
  /** Upper-layer protocol number after IPv6 extension headers (6, 17, 1, 58, ...). */
  proto = 0;
  /** true for any fragment (first or later); fragOffset in bytes; fragId = IPv4 id or IPv6 identification. */
  isFragment = false;
  fragOffset = 0;
  moreFragments = false;
  fragId = 0;

  // Transport. l4Offset is where the TCP/UDP/ICMP header starts; ports are 0 for non-first fragments.
  l4Offset = 0;
  /** false for later fragments and truncated transport headers: ports/flags are not known. */
  hasL4 = false;
  sport = 0;
  dport = 0;
  tcpFlags = 0;
  tcpSeq = 0;
  /** ICMP/ICMPv6 type and code. */
  icmpType = 0;
  icmpCode = 0;
  /** Application payload: offset in buf and length actually captured (clamped to caplen and IP length). */
  payloadOffset = 0;
  payloadLength = 0;

  /**
   * The flow table's hash of this packet's flow, when whoever handed the packet over computed it
   * (the decode thread, with flowHashHint); 0 = not known, the flow table computes it.
   */
  flowHash = 0;

  // ARP (Ethernet/IPv4 only): op 1 request, 2 reply.
  arpOp = 0;
  arpSenderMac = -1;
  arpSenderIp = 0;
  arpTargetMac = -1;
  arpTargetIp = 0;

  /** Reset every field decodeFrame() sets; called at the start of each decode. */
  reset(): void {
    this.error = DecodeError.None;
    this.srcMac = -1; this.dstMac = -1;
    this.vlan = 0; this.vlanInner = 0; this.vlanTags = 0; this.etherType = 0;
    this.l3 = L3.None; this.l3Offset = 0;
    this.src4 = 0; this.dst4 = 0; this.srcOff = 0; this.dstOff = 0;
    this.ipLen = 0; this.ttl = 0; this.proto = 0;
    this.isFragment = false; this.fragOffset = 0; this.moreFragments = false; this.fragId = 0;
    this.l4Offset = 0; this.hasL4 = false; this.sport = 0; this.dport = 0; this.tcpFlags = 0; this.tcpSeq = 0;
    this.icmpType = 0; this.icmpCode = 0;
    this.payloadOffset = 0; this.payloadLength = 0; this.flowHash = 0;
    this.arpOp = 0; this.arpSenderMac = -1; this.arpSenderIp = 0; this.arpTargetMac = -1; this.arpTargetIp = 0;
  }
}

/** TCP flag bits. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
