// The pcapng file format: sections (SHB, each with its own byte order), interfaces (IDB with
// link type, snaplen, if_tsresol, if_tsoffset), and EPB/SPB/obsolete PB packets; other blocks
// are skipped by their length. Timestamps are converted without BigInt: see ifaceTime().

import { CaptureError, type FrameHandler, type FrameStamp } from './source.js';
import { ChunkReader, MAX_RECORD_BYTES } from './chunk-reader.js';
import { PCAP_MAX_CAPLEN, type ReadState } from './pcap-classic.js';
import { u16, u32 } from './read-int.js';

export const PCAPNG_MAGIC = 0x0a0d0d0a;
const BOM = 0x1a2b3c4d;
const BT_IDB = 1;
const BT_PB = 2;
const BT_SPB = 3;
const BT_EPB = 6;
const OPT_TSRESOL = 9;
const OPT_TSOFFSET = 14;

const enum TsMode { Pow10 = 0, Pow2 = 1, Approx = 2 }

/** One interface of the current section, with its timestamp conversion precomputed. */
export interface PcapngInterface {
  linkType: number;
  /** 0 = no limit */
  snaplen: number;
  mode: TsMode;
  /** timestamp units per second (10^n or 2^n) */
  units: number;
  /** Pow10: 10^(n-3) when n >= 3 (divide the fraction), else 0 and msPerUnit multiplies */
  unitsPerMs: number;
  msPerUnit: number;
  /** Pow2: the exponent */
  shift: number;
  /** if_tsoffset, in ms */
  offsetMs: number;
}

/** An IDB's interface with the timestamp resolution byte (if_tsresol) and if_tsoffset in seconds. */
export function makeInterface(linkType: number, snaplen: number, tsresol = 6, offsetSec = 0): PcapngInterface {
  const pow2 = (tsresol & 0x80) !== 0;
  const n = tsresol & 0x7f;
  const units = pow2 ? 2 ** n : 10 ** n;
  let mode: TsMode;
  if (pow2) mode = n <= 32 ? TsMode.Pow2 : TsMode.Approx;
  else mode = n <= 9 ? TsMode.Pow10 : TsMode.Approx;
  return {
    linkType, snaplen, mode, units,
    unitsPerMs: !pow2 && n >= 3 ? 10 ** (n - 3) : 0,
    msPerUnit: 1000 / units,
    shift: n,
    offsetMs: offsetSec * 1000,
  };
}

/**
 * ms since epoch of a 64-bit timestamp given as two 32-bit halves: whole seconds and the
 * fraction are separated exactly, then combined as sec*1000 + fraction, the same arithmetic
 * as classic pcap, so a microsecond pcapng and its pcap copy give identical numbers.
 */
export function ifaceTime(f: PcapngInterface, hi: number, lo: number): number {
  switch (f.mode) {
    case TsMode.Pow10: {
      const u = f.units;
      let sec = Math.floor((hi * 4294967296 + lo) / u);
      // The quotient may be off by one once hi*2^32+lo exceeds 2^53; the remainder is exact
      // modulo 2^32 and, for u <= 10^9, lies in [-u, 2u), inside the int32 range.
      let rem = (lo - Math.imul(sec, u)) | 0;
      if (rem < 0) { rem += u; sec -= 1; } else if (rem >= u) { rem -= u; sec += 1; }
      const frac = f.unitsPerMs > 0 ? rem / f.unitsPerMs : rem * f.msPerUnit;
      return sec * 1000 + frac + f.offsetMs;
    }
    case TsMode.Pow2: {
      const n = f.shift;
      if (n === 32) return hi * 1000 + lo * f.msPerUnit + f.offsetMs;
      const sec = hi * 2 ** (32 - n) + (n === 0 ? lo : lo >>> n);
      const frac = n === 0 ? 0 : (lo & ((1 << n) - 1)) >>> 0;
      return sec * 1000 + frac * f.msPerUnit + f.offsetMs;
    }
    default:
      return (hi * 4294967296) * f.msPerUnit + lo * f.msPerUnit + f.offsetMs;
  }
}

/** Reads a whole pcapng file from r (positioned at byte 0, which holds an SHB). */
export async function readPcapng(r: ChunkReader, file: string, st: ReadState, onFrame: FrameHandler, stamp?: FrameStamp): Promise<void> {
  let pos = 0;
  let b = r.buf;
  let le = true;
  let ifaces: PcapngInterface[] = [];
  let lastTs = 0;
  let packets = st.packets;
  let bytes = st.bytes;
  const fail = (p: number, code: string, msg: string): never => {
    throw new CaptureError(file, r.offsetOf(p), code, msg);
  };
  try {
    while (!st.stopped) {
      if (pos + 12 > r.end) {
        st.packets = packets; st.bytes = bytes;
        const np = await r.need(pos, 12);
        b = r.buf;
        if (np < 0) {
          pos = r.pos;
          const left = r.available(pos);
          if (left === 0) return;
          // 8 bytes are enough for a block header; the smallest block is 12.
          if (left < 8) fail(pos, 'truncated', `block header cut short (${left} bytes before end of file)`);
        } else pos = np;
      }
      let type = u32(b, pos, le);
      if (type === PCAPNG_MAGIC) {
        if (r.available(pos) < 12) fail(pos, 'truncated', 'section header block cut short');
        const bom = u32(b, pos + 8, true);
        if (bom === BOM) le = true;
        else if (bom === 0x4d3c2b1a) le = false;
        else fail(pos + 8, 'bad_byte_order', `section header byte-order magic 0x${bom.toString(16)} is neither order of 0x1a2b3c4d`);
        type = PCAPNG_MAGIC;
      }
      const len = u32(b, pos + 4, le);
      if (len < 12 || (len & 3) !== 0) {
        fail(pos, 'bad_block_length', `block length ${len} is ${len < 12 ? 'below the 12-byte minimum' : 'not a multiple of 4'} (block type 0x${type.toString(16)})`);
      }
      if (len > MAX_RECORD_BYTES) {
        fail(pos, 'block_too_large', `block length ${len} exceeds the ${MAX_RECORD_BYTES}-byte cap (corrupt file?)`);
      }
      if (pos + len > r.end) {
        st.packets = packets; st.bytes = bytes;
        const np = await r.need(pos, len);
        b = r.buf;
        if (np < 0) {
          fail(r.pos, 'truncated', `block of ${len} bytes (type 0x${type.toString(16)}) cut short: ${r.available(r.pos)} bytes before end of file`);
        }
        pos = np;
      }
      if (u32(b, pos + len - 4, le) !== len) {
        fail(pos + len - 4, 'length_mismatch', `trailing block length ${u32(b, pos + len - 4, le)} differs from the leading ${len} (block type 0x${type.toString(16)})`);
      }
      switch (type) {
        case BT_EPB:
        case BT_PB: {
          if (len < 32) fail(pos, 'bad_block_length', `packet block length ${len} is below the 32-byte minimum`);
          const id = type === BT_EPB ? u32(b, pos + 8, le) : u16(b, pos + 8, le);
          const f = ifaces[id];
          if (f === undefined) fail(pos, 'bad_interface', `packet names interface ${id}, but the section has ${ifaces.length}`);
          const caplen = u32(b, pos + 20, le);
          if (caplen > len - 32 || caplen > PCAP_MAX_CAPLEN) {
            fail(pos, 'bad_caplen', `captured length ${caplen} does not fit the ${len}-byte block`);
          }
          lastTs = ifaceTime(f, u32(b, pos + 12, le), u32(b, pos + 16, le));
          packets++;
          bytes += caplen;
          if (stamp) {
            stamp.ts = lastTs;
            onFrame(b, pos + 28, caplen, u32(b, pos + 24, le), 0, f.linkType);
          } else onFrame(b, pos + 28, caplen, u32(b, pos + 24, le), lastTs, f.linkType);
          break;
        }
        case BT_SPB: {
          if (len < 16) fail(pos, 'bad_block_length', `simple packet block length ${len} is below the 16-byte minimum`);
          const f = ifaces[0];
          if (f === undefined) fail(pos, 'bad_interface', 'simple packet block before any interface description');
          const wirelen = u32(b, pos + 8, le);
          let caplen = Math.min(wirelen, len - 16);
          if (f.snaplen > 0 && caplen > f.snaplen) caplen = f.snaplen;
          packets++;
          bytes += caplen;
          // No timestamp in an SPB: it inherits the previous packet's.
          if (stamp) {
            stamp.ts = lastTs;
            onFrame(b, pos + 12, caplen, wirelen, 0, f.linkType);
          } else onFrame(b, pos + 12, caplen, wirelen, lastTs, f.linkType);
          break;
        }
        case BT_IDB: {
          if (len < 20) fail(pos, 'bad_block_length', `interface description block length ${len} is below the 20-byte minimum`);
          ifaces.push(parseIdb(b, pos, len, le));
          break;
        }
        case PCAPNG_MAGIC: {
          if (len < 28) fail(pos, 'bad_block_length', `section header block length ${len} is below the 28-byte minimum`);
          const major = u16(b, pos + 12, le);
          if (major !== 1) fail(pos + 12, 'bad_version', `pcapng major version ${major} is not 1`);
          ifaces = [];
          break;
        }
        default:
          break; // NRB, ISB, DSB, custom and unknown blocks carry no frames.
      }
      pos += len;
    }
  } finally {
    st.packets = packets;
    st.bytes = bytes;
    r.pos = pos;
  }
}

function parseIdb(b: Buffer, pos: number, len: number, le: boolean): PcapngInterface {
  const linkType = u16(b, pos + 8, le);
  const snaplen = u32(b, pos + 12, le);
  let tsresol = 6;
  let offsetSec = 0;
  // Options are optional and advisory: a malformed one ends option parsing, not the file.
  let p = pos + 16;
  const endOpts = pos + len - 4;
  while (p + 4 <= endOpts) {
    const code = u16(b, p, le);
    const olen = u16(b, p + 2, le);
    if (code === 0 || p + 4 + olen > endOpts) break;
    if (code === OPT_TSRESOL && olen >= 1) tsresol = b[p + 4];
    else if (code === OPT_TSOFFSET && olen >= 8) {
      const hi = u32(b, le ? p + 8 : p + 4, le) | 0; // signed
      const lo = u32(b, le ? p + 4 : p + 8, le);
      offsetSec = hi * 4294967296 + lo;
    }
    p += 4 + ((olen + 3) & ~3);
  }
  return makeInterface(linkType, snaplen, tsresol, offsetSec);
}
