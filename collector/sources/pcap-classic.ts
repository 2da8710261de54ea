// The classic libpcap file format: 24-byte global header, then 16-byte record headers
// (24 for the old Kuznetzov "modified" variant), micro- or nanosecond timestamps, either byte order.

import { CaptureError, type FrameHandler, type FrameStamp } from './source.js';
import { ChunkReader } from './chunk-reader.js';
import { u32 } from './read-int.js';

/** Largest caplen accepted, bytes (libpcap's MAXIMUM_SNAPLEN). */
export const PCAP_MAX_CAPLEN = 262144;

/** Counters and the stop flag a reader shares with its FrameSource. */
export interface ReadState {
  stopped: boolean;
  packets: number;
  bytes: number;
}

interface ClassicKind { le: boolean; nano: boolean; recHdr: number }

/** The classic pcap flavour a magic number (read little-endian) names, or undefined. */
export function classicKind(magicLE: number): ClassicKind | undefined {
  switch (magicLE) {
    case 0xa1b2c3d4: return { le: true, nano: false, recHdr: 16 };
    case 0xd4c3b2a1: return { le: false, nano: false, recHdr: 16 };
    case 0xa1b23c4d: return { le: true, nano: true, recHdr: 16 };
    case 0x4d3cb2a1: return { le: false, nano: true, recHdr: 16 };
    case 0xa1b2cd34: return { le: true, nano: false, recHdr: 24 };
    case 0x34cdb2a1: return { le: false, nano: false, recHdr: 24 };
    default: return undefined;
  }
}

/** Reads a whole classic pcap file from r (positioned at byte 0), delivering every frame (see FrameStamp). */
export async function readClassicPcap(r: ChunkReader, file: string, st: ReadState, onFrame: FrameHandler, stamp?: FrameStamp): Promise<void> {
  let pos = await r.need(0, 24);
  if (pos < 0) {
    throw new CaptureError(file, 0, 'truncated_header', `pcap file header cut short (${r.available(r.pos)} of 24 bytes)`);
  }
  let b = r.buf;
  // record header fields read through a view of the chunk: one load each, not four byte loads
  let v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const kind = classicKind(b.readUInt32LE(pos));
  if (!kind) throw new CaptureError(file, 0, 'bad_magic', 'not a pcap file');
  const { le, nano, recHdr } = kind;
  // The upper bits of the link-type field carry FCS information (LT_LINKTYPE in libpcap).
  const linkType = u32(b, pos + 20, le) & 0x03ffffff;
  const fracDiv = nano ? 1e6 : 1e3;
  pos += 24;
  let packets = st.packets;
  let bytes = st.bytes;
  try {
    while (!st.stopped) {
      if (pos + recHdr > r.end) {
        st.packets = packets; st.bytes = bytes;
        pos = await r.need(pos, recHdr);
        if (pos < 0) {
          const left = r.available(r.pos);
          if (left === 0) return;
          throw new CaptureError(file, r.offsetOf(r.pos), 'truncated',
            `record header cut short (${left} of ${recHdr} bytes before end of file)`);
        }
        if (r.buf !== b) { b = r.buf; v = new DataView(b.buffer, b.byteOffset, b.byteLength); }
      }
      const caplen = v.getUint32(pos + 8, le);
      if (caplen > PCAP_MAX_CAPLEN) {
        throw new CaptureError(file, r.offsetOf(pos), 'bad_caplen',
          `record caplen ${caplen} exceeds the ${PCAP_MAX_CAPLEN}-byte cap (corrupt file?)`);
      }
      const recLen = recHdr + caplen;
      if (pos + recLen > r.end) {
        st.packets = packets; st.bytes = bytes;
        pos = await r.need(pos, recLen);
        if (pos < 0) {
          throw new CaptureError(file, r.offsetOf(r.pos), 'truncated',
            `record of ${caplen} captured bytes cut short (${r.available(r.pos) - recHdr} present)`);
        }
        if (r.buf !== b) { b = r.buf; v = new DataView(b.buffer, b.byteOffset, b.byteLength); }
      }
      const ts = v.getUint32(pos, le) * 1000 + v.getUint32(pos + 4, le) / fracDiv;
      packets++;
      bytes += caplen;
      if (stamp) {
        stamp.ts = ts;
        onFrame(b, pos + recHdr, caplen, v.getUint32(pos + 12, le), 0, linkType);
      } else onFrame(b, pos + recHdr, caplen, v.getUint32(pos + 12, le), ts, linkType);
      pos += recLen;
    }
  } finally {
    st.packets = packets;
    st.bytes = bytes;
    r.pos = pos < 0 ? r.pos : pos;
  }
}
