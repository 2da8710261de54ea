// The NetFlow bench's input: NetFlow v9 and IPFIX export datagrams as a router would send them
// (a typical IPv4 5-tuple template re-sent every 64 datagrams, 30 records a datagram,
// increasing sequence numbers, varied addresses, ports and counters, each conversation as two
// records: the opener's and its reverse, as exporters write them), and the capture that
// `softflowd -r` turns into its export burst. Deterministic for a seed.

import { PcapWriter } from '../test/fixtures/synth/pcap-writer.js';
import { Prng } from '../test/fixtures/synth/prng.js';
import { ethernet, ipv4, tcp, udp, ACK, FIN, PSH, SYN, ETH_IPV4, IPPROTO_UDP } from '../test/fixtures/synth/frames.js';

export type ExportVersion = 9 | 10;

export interface ExportStreamOptions {
  /** data records in the whole stream. */
  records: number;
  /** data records a datagram; default 30 (1,076 bytes of v9, 1,314 of IPFIX). */
  perDatagram?: number;
  /** the template goes out in the first datagram and then every this many; default 64. */
  templateEvery?: number;
  seed?: number;
  /** v9 source ID / IPFIX observation domain; default 1. */
  domain?: number;
  /** export time, ms since epoch; default now. */
  now?: number;
}

/** The template: (information element, length), the same IEs in v9 and IPFIX but for the times. */
const FIELDS_COMMON: Array<[number, number]> = [
  [8, 4], // sourceIPv4Address
  [12, 4], // destinationIPv4Address
  [7, 2], // sourceTransportPort
  [11, 2], // destinationTransportPort
  [4, 1], // protocolIdentifier
  [5, 1], // ipClassOfService
  [6, 1], // tcpControlBits
  [10, 2], // ingressInterface
  [14, 2], // egressInterface
  [2, 4], // packetDeltaCount
  [1, 4], // octetDeltaCount
];
/** v9: FIRST_SWITCHED / LAST_SWITCHED (sysUptime ms); IPFIX: flowStart/EndMilliseconds. */
const FIELDS_V9: Array<[number, number]> = [...FIELDS_COMMON, [22, 4], [21, 4]];
const FIELDS_IPFIX: Array<[number, number]> = [...FIELDS_COMMON, [152, 8], [153, 8]];
const TEMPLATE_ID = 256;

export function recordLength(version: ExportVersion): number {
  return (version === 9 ? FIELDS_V9 : FIELDS_IPFIX).reduce((s, [, l]) => s + l, 0);
}

const DPORTS = [443, 443, 443, 443, 80, 53, 123, 8883, 1883, 22, 5353, 3478, 8080, 993];
const SERVER_NETS = [3, 13, 18, 34, 35, 52, 54, 104, 142, 151, 172, 185];

/**
 * The stream's export datagrams (UDP payloads), one at a time; the returned Buffer is reused,
 * so a caller that keeps it must copy it. Templates: in the first datagram and every
 * templateEvery-th. v9 numbers export packets, IPFIX numbers data records (RFC 7011 3.1).
 */
export function* exportDatagrams(version: ExportVersion, o: ExportStreamOptions): Generator<Buffer> {
  const per = o.perDatagram ?? 30;
  const every = o.templateEvery ?? 64;
  const rnd = new Prng(o.seed ?? 12);
  const domain = o.domain ?? 1;
  const fields = version === 9 ? FIELDS_V9 : FIELDS_IPFIX;
  const recLen = recordLength(version);
  const hdrLen = version === 9 ? 20 : 16;
  const tmplLen = 4 + 4 + fields.length * 4;
  const buf = Buffer.alloc(hdrLen + tmplLen + 4 + per * recLen + 4);
  const nowMs = o.now ?? Date.now();
  const bootMs = nowMs - 86_400_000; // the router came up a day ago
  let left = o.records;
  let seq = 0;
  let recordsSent = 0;
  const conv = { src: 0, dst: 0, sport: 0, dport: 0, proto: 0, pkts: 0, start: 0, end: 0 };
  for (let d = 0; left > 0; d++) {
    const n = Math.min(per, left);
    const withTemplate = d % every === 0;
    let off = hdrLen;
    const exportMs = nowMs + Math.floor(d / 50); // 50 datagrams a ms of export time
    if (withTemplate) {
      buf.writeUInt16BE(version === 9 ? 0 : 2, off); // template (flow)set id
      buf.writeUInt16BE(tmplLen, off + 2);
      buf.writeUInt16BE(TEMPLATE_ID, off + 4);
      buf.writeUInt16BE(fields.length, off + 6);
      let f = off + 8;
      for (const [ie, len] of fields) { buf.writeUInt16BE(ie, f); buf.writeUInt16BE(len, f + 2); f += 4; }
      off += tmplLen;
    }
    const setStart = off;
    buf.writeUInt16BE(TEMPLATE_ID, off);
    off += 4;
    for (let i = 0; i < n; i++) {
      // conversations as exporters write them: the opener's record, then its reverse
      const reverse = (recordsSent + i) % 2 === 1;
      if (!reverse) {
        const dport = rnd.pick(DPORTS);
        const udpPort = dport === 53 || dport === 123 || dport === 5353 || dport === 3478;
        const proto = udpPort ? 17 : rnd.u32() % 50 === 0 ? 1 : rnd.u32() % 10 < 9 ? 6 : 17;
        conv.src = (0xc0a83200 | rnd.int(10, 250)) >>> 0; // 192.168.50.x
        conv.dst = ((rnd.pick(SERVER_NETS) << 24) | (rnd.u32() & 0xffffff)) >>> 0;
        conv.sport = proto === 1 ? 0 : rnd.int(32768, 60999);
        conv.dport = proto === 1 ? 0x0800 : dport;
        conv.proto = proto;
        conv.pkts = 1 + Math.floor(-Math.log(1 - rnd.float()) * 30);
        conv.end = exportMs - rnd.int(0, 30_000);
        conv.start = conv.end - rnd.int(0, 60_000);
      }
      const pkts = reverse ? Math.max(1, conv.pkts + rnd.int(-2, 2)) : conv.pkts;
      buf.writeUInt32BE(reverse ? conv.dst : conv.src, off);
      buf.writeUInt32BE(reverse ? conv.src : conv.dst, off + 4);
      buf.writeUInt16BE(reverse ? (conv.proto === 1 ? 0 : conv.dport) : conv.sport, off + 8);
      buf.writeUInt16BE(reverse ? (conv.proto === 1 ? 0 : conv.sport) : conv.dport, off + 10);
      buf[off + 12] = conv.proto;
      buf[off + 13] = 0;
      buf[off + 14] = conv.proto === 6 ? (reverse ? 0x1a : 0x1b) : 0; // SYN ACK PSH (FIN on the opener's side)
      buf.writeUInt16BE(reverse ? 1 : 2, off + 15);
      buf.writeUInt16BE(reverse ? 2 : 1, off + 17);
      buf.writeUInt32BE(pkts, off + 19);
      buf.writeUInt32BE(pkts * rnd.int(reverse ? 200 : 40, reverse ? 1500 : 600), off + 23);
      const startMs = reverse ? conv.start + rnd.int(0, 50) : conv.start;
      const endMs = conv.end;
      if (version === 9) {
        buf.writeUInt32BE((startMs - bootMs) >>> 0, off + 27);
        buf.writeUInt32BE((endMs - bootMs) >>> 0, off + 31);
      } else {
        buf.writeBigUInt64BE(BigInt(startMs), off + 27);
        buf.writeBigUInt64BE(BigInt(endMs), off + 35);
      }
      off += recLen;
    }
    while ((off - setStart) % 4) buf[off++] = 0; // padding to a 4-byte boundary
    buf.writeUInt16BE(off - setStart, setStart + 2);
    if (version === 9) {
      buf.writeUInt16BE(9, 0);
      buf.writeUInt16BE(n + (withTemplate ? 1 : 0), 2); // records of every kind in the packet
      buf.writeUInt32BE((exportMs - bootMs) >>> 0, 4);
      buf.writeUInt32BE(Math.floor(exportMs / 1000), 8);
      buf.writeUInt32BE(seq >>> 0, 12);
      buf.writeUInt32BE(domain, 16);
      seq++;
    } else {
      buf.writeUInt16BE(10, 0);
      buf.writeUInt16BE(off, 2);
      buf.writeUInt32BE(Math.floor(exportMs / 1000), 4);
      buf.writeUInt32BE(recordsSent >>> 0, 8);
      buf.writeUInt32BE(domain, 12);
    }
    recordsSent += n;
    left -= n;
    yield buf.subarray(0, off);
  }
}

export interface ExportPcap {
  path: string;
  version: ExportVersion;
  datagrams: number;
  records: number;
  perDatagram: number;
  /** the file's size, bytes. */
  bytes: number;
  /** UDP payload bytes of the whole stream. */
  payloadBytes: number;
}

/**
 * Writes the stream as Ethernet frames of UDP/IPv4 datagrams 127.0.0.1:exporterPort ->
 * 127.0.0.1:port, MACs all zero (what `lo` takes as its own) and UDP checksum 0 (none), so
 * `tcpreplay -i lo` hands them to the receiving socket as if sent locally.
 */
export function writeExportPcap(path: string, version: ExportVersion, port: number, o: ExportStreamOptions & { exporterPort?: number }): ExportPcap {
  const w = new PcapWriter(path, { snaplen: 65535, chunkBytes: 8 << 20 });
  const zero = '00:00:00:00:00:00';
  let datagrams = 0, payloadBytes = 0;
  let t = (o.now ?? Date.now()) * 1000;
  for (const p of exportDatagrams(version, o)) {
    const u = Buffer.alloc(8 + p.length);
    u.writeUInt16BE(o.exporterPort ?? 9995, 0);
    u.writeUInt16BE(port, 2);
    u.writeUInt16BE(8 + p.length, 4);
    // checksum 0: none (RFC 768), which the kernel accepts without computing one
    p.copy(u, 8);
    const frame = ethernet({ src: zero, dst: zero }, ETH_IPV4, ipv4({ src: '127.0.0.1', dst: '127.0.0.1', proto: IPPROTO_UDP, id: datagrams }, u));
    w.write(t, frame);
    t += 15;
    datagrams++;
    payloadBytes += p.length;
  }
  w.close();
  return { path, version, datagrams, records: o.records, perDatagram: o.perDatagram ?? 30, bytes: w.bytes, payloadBytes };
}

export interface FlowCapture {
  path: string;
  packets: number;
  /** conversations, each with packets both ways: softflowd exports two records for each. */
  conversations: number;
}

/**
 * A capture of `conversations` short conversations of 192.168.50.0/24 devices with servers
 * (TCP: SYN, SYN-ACK, data, FIN; UDP: one query, one answer), each with packets both ways and
 * a 5-tuple of its own, a few ms apart: what `softflowd -r` turns into one export burst of
 * 2 x conversations records (one a direction) at EOF and on its way.
 */
export function writeFlowCapture(path: string, conversations: number, seed = 7): FlowCapture {
  const rnd = new Prng(seed);
  const w = new PcapWriter(path, { snaplen: 65535, chunkBytes: 8 << 20 });
  const devMac = (i: number) => `14:75:90:50:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const gw = '24:5a:4c:50:00:01';
  let t = Date.UTC(2026, 10, 1, 12, 0, 0) * 1000;
  const frame = (src: string, dst: string, smac: string, dmac: string, seg: Buffer, proto: number) =>
    ethernet({ src: smac, dst: dmac }, ETH_IPV4, ipv4({ src, dst, proto }, seg));
  const payload = Buffer.alloc(400, 0x61);
  for (let c = 0; c < conversations; c++) {
    const d = c % 240;
    const ip = `192.168.50.${10 + d}`;
    const mac = devMac(d);
    // the 5-tuple: a server of its own for each block of 40,000 source ports
    const srv = `${rnd.pick(SERVER_NETS)}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`;
    const sport = 20000 + (c % 40000);
    if (c % 4 === 3) {
      const q = udp({ src: ip, dst: srv, sport, dport: 53 }, payload.subarray(0, 40));
      w.write(t, frame(ip, srv, mac, gw, q, IPPROTO_UDP));
      const a = udp({ src: srv, dst: ip, sport: 53, dport: sport }, payload.subarray(0, 120));
      w.write(t + 800, frame(srv, ip, gw, mac, a, IPPROTO_UDP));
    } else {
      const o = { src: ip, dst: srv, sport, dport: 443 };
      const r = { src: srv, dst: ip, sport: 443, dport: sport };
      const seq = rnd.u32(), sseq = rnd.u32();
      w.write(t, frame(ip, srv, mac, gw, tcp({ ...o, seq, flags: SYN }), 6));
      w.write(t + 300, frame(srv, ip, gw, mac, tcp({ ...r, seq: sseq, ack: seq + 1, flags: SYN | ACK }), 6));
      w.write(t + 600, frame(ip, srv, mac, gw, tcp({ ...o, seq: seq + 1, ack: sseq + 1, flags: ACK | PSH }, payload), 6));
      w.write(t + 900, frame(ip, srv, mac, gw, tcp({ ...o, seq: seq + 401, ack: sseq + 1, flags: FIN | ACK }), 6));
    }
    t += 200;
  }
  w.close();
  return { path, packets: w.packets, conversations };
}
