// The decoded-packet ring on one thread: every carried field survives the trip, only payloads
// that name a server cross, and positions wrap correctly lap after lap.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { manifest, capture, repoRoot } from '../../helpers/paths.js';
import { eachPacket } from '../decode/frames.js';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo, L3 } from '../../../collector/decode/packet.js';
import { MIN_RING_BYTES, RingReader, RingWriter, ringMemory } from '../../../collector/sources/packet-ring.js';
import { tlsSni } from '../../../collector/decode/tls.js';
import { httpHost } from '../../../collector/decode/http.js';


/** What a record must carry, as plain values (addresses as text, the name a payload gives). */
function facts(p: PacketInfo): Record<string, unknown> {
  const addr = (off: number): string => (p.l3 === L3.IPv6 ? p.buf.subarray(off, off + 16).toString('hex') : '');
  const tcpPayload = p.proto === 6 && p.payloadLength > 0;
  return {
    ts: p.ts, wirelen: p.wirelen, error: p.error, l3: p.l3, vlan: p.vlan, proto: p.proto, ipLen: p.ipLen,
    src4: p.src4, dst4: p.dst4, src6: addr(p.srcOff), dst6: addr(p.dstOff), srcMac: p.srcMac, dstMac: p.dstMac,
    sport: p.sport, dport: p.dport, hasL4: p.hasL4, tcpFlags: p.tcpFlags, isFragment: p.isFragment,
    fragOffset: p.fragOffset, moreFragments: p.moreFragments, fragId: p.fragId, icmpType: p.icmpType, icmpCode: p.icmpCode,
    sni: tcpPayload ? tlsSni(p.buf, p.payloadOffset, p.payloadLength) : null,
    host: tcpPayload ? httpHost(p.buf, p.payloadOffset, p.payloadLength) : null,
  };
}

async function decoded(file: string): Promise<Record<string, unknown>[]> {
  const p = new PacketInfo();
  const out: Record<string, unknown>[] = [];
  await openCapture(file).run((b, o, c, w, ts, lt) => { decodeFrame(b, o, c, w, ts, lt, p); out.push(facts(p)); });
  return out;
}

/** Writes every frame of file to a ring, draining after each `batch` records. */
async function throughRing(file: string, batch: number, bytes: number): Promise<Record<string, unknown>[]> {
  const mem = ringMemory(bytes);
  const writer = new RingWriter(mem);
  const reader = new RingReader(mem);
  const src = new PacketInfo(), dst = new PacketInfo();
  const out: Record<string, unknown>[] = [];
  let n = 0;
  await openCapture(file).run((b, o, c, w, ts, lt) => {
    decodeFrame(b, o, c, w, ts, lt, src);
    writer.write(src);
    if (++n % batch === 0) { writer.publish(); reader.drain(dst, (p) => out.push(facts(p))); }
  });
  writer.end();
  reader.drain(dst, (p) => out.push(facts(p)));
  t.ok(reader.finished, 'reader sees the end');
  return out;
}

// every shared capture small enough to read twice quickly: all link types, fragments, IPv6
// extension headers, VLAN stacks, broken headers, TLS and HTTP
const files = manifest().filter((r) => r.bytes < 8_000_000).map((r) => r.file);

t.test('every carried field arrives as decoded, across wraps', async (t) => {
  let checked = 0;
  for (const rel of files) {
    const file = capture(rel);
    let want: Record<string, unknown>[];
    try { want = await decoded(file); } catch { continue; } // corrupt on purpose: threaded-file.test covers those
    const got = await throughRing(file, 1000, MIN_RING_BYTES);
    t.same(got, want, rel);
    checked++;
  }
  t.ok(checked >= 100, `${checked} captures compared`);
});

t.test('only payloads that name a server cross, whole', async (t) => {
  let hello: Buffer | null = null;
  eachPacket(capture('iot/ndpi-sonos.pcapng'), (p) => {
    if (!hello && p.hasL4 && p.proto === 6 && p.payloadLength > 0 && tlsSni(p.buf, p.payloadOffset, p.payloadLength)) {
      hello = Buffer.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength));
    }
  });
  t.ok(hello, 'a real ClientHello with SNI');
  const payloads: [string, Buffer, boolean][] = [
    ['a TLS ClientHello with SNI', hello!, true],
    ['an HTTP request with Host', Buffer.from('GET / HTTP/1.1\r\nHost: cam.example\r\n\r\n', 'latin1'), true],
    ['an HTTP request without Host', Buffer.from('GET / HTTP/1.0\r\nAccept: */*\r\n\r\n', 'latin1'), false],
    ['an HTTP response', Buffer.from('HTTP/1.1 200 OK\r\nHost: x\r\n\r\n', 'latin1'), false],
    ['a TLS ServerHello', Buffer.from('\x16\x03\x03\x00\x10\x02\x00\x00\x0c\x03\x03abcdefghij', 'latin1'), false],
    ['TLS application data', Buffer.from('\x17\x03\x03\x00\x10xyz', 'latin1'), false],
    ['other bytes', Buffer.from('abcdefgh', 'latin1'), false],
  ];
  const mem = ringMemory();
  const writer = new RingWriter(mem), reader = new RingReader(mem);
  const p = new PacketInfo();
  for (const [, payload] of payloads) {
    const frame = Buffer.alloc(54 + payload.length);
    frame.set([0x08, 0x00], 12);
    frame.set([0x45, 0, (40 + payload.length) >> 8, (40 + payload.length) & 255, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
    frame.set([0x30, 0x39, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0], 34);
    payload.copy(frame, 54);
    decodeFrame(frame, 0, frame.length, frame.length, 1000, 1, p);
    writer.write(p);
  }
  writer.end();
  const got: Buffer[] = [];
  reader.drain(new PacketInfo(), (q) => got.push(Buffer.from(q.buf.subarray(q.payloadOffset, q.payloadOffset + q.payloadLength))));
  payloads.forEach(([what, payload, crosses], i) => {
    t.same(got[i], crosses ? payload : Buffer.alloc(0), `${what}: ${crosses ? 'its bytes' : 'nothing'}`);
  });
});

t.test('tryWrite never waits: a full ring refuses the record, and what it took arrives whole and in order', async (t) => {
  // the shared capture with the most frames (of those read above)
  const biggest = manifest().filter((r) => r.bytes < 8_000_000).sort((a, b) => b.packets - a.packets)[0];
  const file = capture(biggest.file);
  const want = await decoded(file);
  const mem = ringMemory(MIN_RING_BYTES);
  const writer = new RingWriter(mem), reader = new RingReader(mem);
  const src = new PacketInfo(), dst = new PacketInfo();
  const got: Record<string, unknown>[] = [];
  const kept: Record<string, unknown>[] = [];
  let refused = 0, n = 0;
  const LAPS = 5;
  for (let lap = 0; lap < LAPS; lap++) {
    await openCapture(file).run((b, o, c, w, ts, lt) => {
      decodeFrame(b, o, c, w, ts, lt, src);
      if (writer.tryWrite(src)) kept.push(facts(src));
      else refused++;
      // the consumer falls behind: it drains only every 6,001 frames, more than the small ring
      // holds, so it fills, and the writer wraps while the reader is mid-ring
      if (++n % 6001 === 0) { writer.publish(); reader.drain(dst, (p) => got.push(facts(p))); }
    });
  }
  writer.end();
  reader.drain(dst, (p) => got.push(facts(p)));
  t.ok(refused > 0, `records refused while the ring was full (${refused} of ${want.length * LAPS})`);
  t.equal(kept.length + refused, want.length * LAPS, 'every frame either written or refused');
  t.same(got, kept, `the ${kept.length} written arrive as written, in order`);
  t.ok(reader.finished, 'the reader sees the end');
});

t.test('raw frames (live capture) cross whole: bytes, lengths, time and link type, across wraps, refused when full', async (t) => {
  const biggest = manifest().filter((r) => r.bytes < 8_000_000).sort((a, b) => b.packets - a.packets)[0];
  const file = capture(biggest.file);
  const mem = ringMemory(MIN_RING_BYTES);
  const writer = new RingWriter(mem), reader = new RingReader(mem);
  const kept: string[] = [], got: string[] = [];
  const fact = (b: Buffer, o: number, c: number, w: number, ts: number, l: number) => `${b.subarray(o, o + c).toString('hex')}|${c}|${w}|${ts}|${l}`;
  let refused = 0, n = 0;
  for (let lap = 0; lap < 3; lap++) {
    await openCapture(file).run((b, o, c, w, ts, l) => {
      if (writer.tryWriteFrame(b, c, w, ts, l, o)) kept.push(fact(b, o, c, w, ts, l));
      else refused++;
      if (++n % 1500 === 0) { writer.publish(); reader.drainFrames((...a) => { got.push(fact(...a)); }); }
    });
  }
  writer.end();
  reader.drainFrames((...a) => { got.push(fact(...a)); });
  t.ok(refused > 0, `frames refused while the ring was full (${refused})`);
  t.equal(got.length, kept.length, `${kept.length} frames written, as many read`);
  t.ok(got.every((g, i) => g === kept[i]), 'each arrives as written, in order');
  t.ok(reader.finished, 'the reader sees the end');
});

t.test('waitForData keeps the process alive until data comes or its timeout (child process, 20 s bound)', async (t) => {
  // A pending Atomics.waitAsync alone does not: when the producer's thread ended between the
  // reader's check and its wait (its last notify missed), the process exited with the run unfinished.
  const url = pathToFileURL(join(repoRoot, 'dist', 'collector', 'sources', 'packet-ring.js')).href;
  const script = `
    const { RingReader, ringMemory } = await import(${JSON.stringify(url)});
    const r = new RingReader(ringMemory());
    await r.waitForData(200);
    process.stdout.write('woke');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  t.equal(r.signal, null, `finished within 20 s (${r.signal ?? 'not killed'})`);
  t.equal(r.stdout, 'woke', `the wait ended by its timeout, not by the process exiting (status ${r.status}) ${r.stderr}`);
});
