// Fuzz: a million random and mutated real frames through decodeFrame and the app decoders.
// Nothing may throw, every offset handed back must lie inside the frame, and the run is bounded.
import t from 'tap';
import fc from 'fast-check';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo, L3 } from '../../../collector/decode/packet.js';
import { decodeDns } from '../../../collector/decode/dns.js';
import { decodeDhcp } from '../../../collector/decode/dhcp.js';
import { tlsSni } from '../../../collector/decode/tls.js';
import { httpHost, httpBasicAuth } from '../../../collector/decode/http.js';
import { decodeNdp, NdpInfo } from '../../../collector/decode/ndp.js';
import { CAPTURES, readFrames } from './frames.js';

const FRAMES = Number(process.env.SEGWATCH_FUZZ_FRAMES ?? 1_000_000);
const LINK_TYPES = [1, 113, 276, 101, 228, 229, 12, 14, 0, 108, 239, 9999];

function walk(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const q = path.join(d, f);
    return statSync(q).isDirectory() ? walk(q) : /\.pcap(ng)?$/.test(f) ? [q] : [];
  });
}

interface Seed { bytes: Buffer; linkType: number }

function corpus(): Seed[] {
  const seeds: Seed[] = [];
  for (const file of walk(CAPTURES).sort()) {
    const frames = readFrames(file);
    // Cap each capture so a big one does not crowd out the edge cases.
    const step = Math.max(1, Math.floor(frames.length / 150));
    for (let i = 0; i < frames.length; i += step) {
      const f = frames[i];
      seeds.push({ bytes: Buffer.from(f.data.subarray(f.offset, f.offset + f.caplen)), linkType: f.linkType });
    }
  }
  return seeds;
}

// xorshift32: seeded, so a failure is repeatable from the printed seed.
let state = 0;
function rnd(): number {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state;
}
const below = (n: number) => rnd() % n;

t.test(`${FRAMES} mutated and random frames`, async (tt) => {
  const seed = Number(process.env.SEGWATCH_FUZZ_SEED ?? 0x5e9a7c11);
  state = seed >>> 0 || 1;
  tt.comment(`seed ${seed}`);
  const seeds = corpus();
  tt.ok(seeds.length > 1000, `${seeds.length} seed frames from the captures`);
  const scratch = Buffer.alloc(70_000);
  const p = new PacketInfo();
  const nd = new NdpInfo();
  let fed = 0, appCalls = 0, decodedIp = 0, violations = 0, firstViolation = '';
  let maxCallMs = 0;
  const started = performance.now();
  for (let i = 0; i < FRAMES; i++) {
    const s = seeds[below(seeds.length)];
    const off = below(64);
    const kind = below(8);
    let len = s.bytes.length;
    let linkType = s.linkType;
    if (kind === 6) {
      // random bytes of random length
      len = below(300);
      for (let j = 0; j < len; j++) scratch[off + j] = rnd() & 255;
    } else {
      s.bytes.copy(scratch, off);
      if (kind === 1 || kind === 7) {
        const flips = 1 + below(8);
        for (let j = 0; j < flips && len > 0; j++) scratch[off + below(len)] ^= 1 << below(8);
      } else if (kind === 2) {
        len = below(len + 1);
      } else if (kind === 3 && len > 2) {
        // corrupt a 16-bit field in the headers: lengths, counts, EtherTypes, offsets
        const at = below(Math.min(len - 1, 120));
        const v = below(4) === 0 ? 0 : below(4) === 0 ? 0xffff : rnd() & 0xffff;
        scratch[off + at] = v >> 8; scratch[off + at + 1] = v & 255;
      } else if (kind === 4) {
        linkType = LINK_TYPES[below(LINK_TYPES.length)];
      } else if (kind === 5 && len > 0) {
        // splice: the tail of another frame at a random point
        const o = seeds[below(seeds.length)].bytes;
        const at = below(len);
        const n = Math.min(o.length, scratch.length - off - at);
        o.copy(scratch, off + at, 0, n);
        len = at + n;
      }
      if (kind === 7) linkType = LINK_TYPES[below(LINK_TYPES.length)];
    }
    // Sometimes claim more captured bytes than the buffer holds past the frame.
    const caplen = below(16) === 0 ? len + below(5000) : len;
    const end = Math.min(off + caplen, scratch.length);
    // Bytes past the frame are poison: a decoder that reads them may still not throw.
    for (let j = off + len; j < off + len + 8 && j < scratch.length; j++) scratch[j] = 0xff;
    const t0 = performance.now();
    decodeFrame(scratch, off, caplen, caplen, i, linkType, p);
    fed++;
    // Offsets handed out must lie inside the frame.
    if (p.payloadLength < 0 || (p.payloadLength > 0 && (p.payloadOffset < off || p.payloadOffset + p.payloadLength > end)) ||
      (p.l3 === L3.IPv6 && (p.srcOff < off || p.dstOff + 16 > end)) || (p.l3 === L3.IPv4 && p.dstOff + 4 > end) ||
      (p.hasL4 && p.l3 !== L3.IPv4 && p.l3 !== L3.IPv6)) {
      violations++;
      if (!firstViolation) firstViolation = `frame ${i} kind ${kind} link ${linkType}: ${scratch.subarray(off, off + len).toString('hex')}`;
    }
    if (p.l3 === L3.IPv4 || p.l3 === L3.IPv6) decodedIp++;
    if (p.payloadLength > 0) {
      const po = p.payloadOffset, pl = p.payloadLength;
      decodeDns(scratch, po, pl);
      decodeDhcp(scratch, po, pl);
      tlsSni(scratch, po, pl);
      httpHost(scratch, po, pl);
      httpBasicAuth(scratch, po, pl);
      if (p.proto === 58 && decodeNdp(scratch, po, pl, p.icmpType, nd) && nd.hasTarget && nd.targetOff + 16 > end) violations++;
      appCalls++;
    }
    const dt = performance.now() - t0;
    if (dt > maxCallMs) maxCallMs = dt;
  }
  const elapsed = (performance.now() - started) / 1000;
  tt.equal(fed, FRAMES, `${fed} frames fed`);
  tt.equal(violations, 0, firstViolation || 'no offset outside the frame');
  tt.ok(decodedIp > FRAMES / 4, `${decodedIp} frames still decoded as IP`);
  tt.ok(appCalls > FRAMES / 10, `${appCalls} payloads through dns, dhcp, tls, http, ndp`);
  tt.comment(`${elapsed.toFixed(1)} s, ${(FRAMES / elapsed / 1e6).toFixed(2)} M frames/s with app decoders, slowest frame ${maxCallMs.toFixed(2)} ms`);
  // A hang guard, not a speed assertion: a million frames take a few seconds here.
  tt.ok(elapsed < 240, `finished in ${elapsed.toFixed(1)} s`);
});

t.test('app decoders on arbitrary bytes at arbitrary offsets (fast-check)', async (tt) => {
  const nd = new NdpInfo();
  let runs = 0;
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(700), fc.nat(700), fc.integer({ min: 128, max: 140 }), (bytes, o, l, type) => {
    runs++;
    decodeDns(bytes, o, l); decodeDhcp(bytes, o, l); tlsSni(bytes, o, l);
    httpHost(bytes, o, l); httpBasicAuth(bytes, o, l); decodeNdp(bytes, o, l, type, nd);
    decodeDns(bytes, 0, bytes.length); tlsSni(bytes, 0, bytes.length); decodeDhcp(bytes, 0, bytes.length);
    return true;
  }), { numRuns: 50_000, seed: 42 });
  tt.equal(runs, 50_000);
  // Negative and non-integer arguments are refused, not thrown on.
  const b = new Uint8Array(64);
  tt.equal(decodeDns(b, -5, 20), null);
  tt.equal(tlsSni(b, Number.NaN, 20), null);
  tt.equal(decodeDhcp(b, 0, -1), null);
  tt.equal(httpHost(b, 10, Number.NaN), null);
});
