// Test-only capture reader: classic pcap (both byte orders, µs/ns) and pcapng (SHB, IDB, EPB,
// SPB, OPB), whole file in memory. The collector's own reader is collector/sources/pcap-file.ts.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo } from '../../../collector/decode/packet.js';

export interface Frame {
  /** the file's bytes; the frame is data[offset, offset + caplen) */
  data: Buffer;
  offset: number;
  caplen: number;
  wirelen: number;
  /** ms since epoch */
  ts: number;
  linkType: number;
}

/** /work/shared/captures, found from the repo root (the directory holding package.json). */
export const CAPTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/captures');

export function capture(rel: string): string {
  return path.join(CAPTURES, rel);
}

export function readFrames(file: string): Frame[] {
  const d = readFileSync(file);
  if (d.length < 4) return [];
  const magic = d.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return readPcapng(d);
  return readPcap(d);
}

function readPcap(d: Buffer): Frame[] {
  const m = d.readUInt32BE(0);
  let le: boolean, nano: boolean;
  if (m === 0xa1b2c3d4) { le = false; nano = false; }
  else if (m === 0xd4c3b2a1) { le = true; nano = false; }
  else if (m === 0xa1b23c4d) { le = false; nano = true; }
  else if (m === 0x4d3cb2a1) { le = true; nano = true; }
  else throw new Error('not a pcap file');
  const u32 = (o: number) => (le ? d.readUInt32LE(o) : d.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const out: Frame[] = [];
  let o = 24;
  while (o + 16 <= d.length) {
    const sec = u32(o), frac = u32(o + 4), incl = u32(o + 8), orig = u32(o + 12);
    if (o + 16 + incl > d.length) break;
    out.push({ data: d, offset: o + 16, caplen: incl, wirelen: orig, ts: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3), linkType });
    o += 16 + incl;
  }
  return out;
}

function readPcapng(d: Buffer): Frame[] {
  const out: Frame[] = [];
  let le = true;
  let ifaces: { linkType: number; div: number }[] = [];
  let o = 0;
  while (o + 12 <= d.length) {
    const typeLE = d.readUInt32LE(o);
    if (typeLE === 0x0a0d0d0a) {
      le = d.readUInt32LE(o + 8) === 0x1a2b3c4d;
      ifaces = [];
    }
    const u32 = (x: number) => (le ? d.readUInt32LE(x) : d.readUInt32BE(x));
    const u16 = (x: number) => (le ? d.readUInt16LE(x) : d.readUInt16BE(x));
    const type = u32(o), len = u32(o + 4);
    if (len < 12 || o + len > d.length) break;
    if (type === 1) {
      let div = 1e6;
      // if_tsresol option (9)
      let q = o + 16;
      while (q + 4 <= o + len - 4) {
        const code = u16(q), olen = u16(q + 2);
        if (code === 0) break;
        if (code === 9 && olen >= 1) { const r = d[q + 4]; div = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r; }
        q += 4 + ((olen + 3) & ~3);
      }
      ifaces.push({ linkType: u16(o + 8), div });
    } else if (type === 6 || type === 2) {
      const ifc = type === 6 ? u32(o + 8) : u16(o + 8);
      const hi = u32(o + 12), lo = u32(o + 16);
      const incl = u32(o + 20), orig = u32(o + 24);
      const i = ifaces[ifc] ?? { linkType: 1, div: 1e6 };
      out.push({ data: d, offset: o + 28, caplen: Math.min(incl, len - 32), wirelen: orig, ts: ((hi * 4294967296 + lo) / i.div) * 1000, linkType: i.linkType });
    } else if (type === 3) {
      const orig = u32(o + 8);
      const i = ifaces[0] ?? { linkType: 1, div: 1e6 };
      out.push({ data: d, offset: o + 12, caplen: Math.min(orig, len - 16), wirelen: orig, ts: 0, linkType: i.linkType });
    }
    o += len;
  }
  return out;
}

/** tshark -T fields output for a file: one string[] per frame (opts: extra tshark arguments such as -o prefs). */
export function tsharkFields(file: string, fields: string[], filter?: string, opts: string[] = []): string[][] {
  const args = [...opts, '-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  if (filter) args.push('-Y', filter);
  for (const f of fields) args.push('-e', f);
  const text = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000, maxBuffer: 64 << 20 });
  return text.split('\n').slice(0, -1).map((l) => l.split('\t'));
}

/** Decodes every frame of a capture into one reused PacketInfo; fn gets it and the 1-based frame number. */
export function eachPacket(file: string, fn: (p: PacketInfo, frameNo: number) => void): number {
  const p = new PacketInfo();
  const frames = readFrames(file);
  frames.forEach((f, i) => {
    decodeFrame(f.data, f.offset, f.caplen, f.wirelen, f.ts, f.linkType, p);
    fn(p, i + 1);
  });
  return frames.length;
}
