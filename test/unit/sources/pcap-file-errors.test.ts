// openCapture on damaged, empty, re-ordered and generated files: errors name the byte offset
// after every earlier frame was delivered; byte orders and sections; bounded memory.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { CaptureError } from '../../../collector/sources/source.js';
import { generateImixPcap } from '../../../bench/readers.js';

const root = new URL('../../../', import.meta.url);
const captures = fileURLToPath(new URL('../shared/captures/', root));
const dir = mkdtempSync(join(tmpdir(), 'segwatch-sources-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface F { wire: number; cap: number; ts: number; lt: number; first: number }
async function read(file: string, chunkBytes?: number): Promise<{ got: F[]; err?: unknown }> {
  const got: F[] = [];
  try {
    await openCapture(file, { chunkBytes }).run((buf, off, cap, wire, ts, lt) => got.push({ wire, cap, ts, lt, first: buf[off] }));
    return { got };
  } catch (err) {
    return { got, err };
  }
}

/** Byte offsets of each classic pcap record. */
function recordOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let p = 24; p + 16 <= b.length; p += 16 + b.readUInt32LE(p + 8)) out.push(p);
  return out;
}

t.test('0-byte file: CaptureError "empty file"', async (t) => {
  const f = join(dir, 'zero.pcap');
  writeFileSync(f, '');
  const { got, err } = await read(f);
  t.equal(got.length, 0);
  t.type(err, CaptureError);
  t.match((err as CaptureError).message, /empty file/);
  t.equal((err as CaptureError).code, 'empty');
});

t.test('header-only files give 0 frames', async (t) => {
  for (const f of ['decode/zeek-empty.pcap', 'decode/tcpdump-empty.pcapng']) {
    const { got, err } = await read(captures + f);
    t.error(err, f);
    t.equal(got.length, 0, f);
  }
});

t.test('bad magic and a missing file reject clearly', async (t) => {
  const f = join(dir, 'text.pcap');
  writeFileSync(f, 'this is not a capture file at all');
  const { err } = await read(f);
  t.equal((err as CaptureError).code, 'bad_magic');
  t.equal((err as CaptureError).offset, 0);
  const m = await read(join(dir, 'missing.pcap'));
  t.equal((m.err as CaptureError).code, 'open');
});

t.test('classic pcap cut inside a record: frames before, then the offset', async (t) => {
  const src = readFileSync(captures + 'iot/ndpi-nest_log_sink.pcap');
  const offs = recordOffsets(src);
  t.equal(offs.length, 1000);
  const k = 600;
  const cutAt = offs[k] + 16 + 5; // five bytes into record k's data
  const f = join(dir, 'cut.pcap');
  writeFileSync(f, src.subarray(0, cutAt));
  for (const chunk of [undefined, 4096]) {
    const { got, err } = await read(f, chunk);
    t.equal(got.length, k, `every frame before the cut delivered (chunk ${chunk ?? 'default'})`);
    t.type(err, CaptureError);
    t.equal((err as CaptureError).code, 'truncated');
    t.equal((err as CaptureError).offset, offs[k], 'offset of the cut record');
    t.match((err as CaptureError).message, new RegExp(`byte ${offs[k]}:`));
  }
  // cut inside a record header
  writeFileSync(f, src.subarray(0, offs[k] + 7));
  const h = await read(f);
  t.equal(h.got.length, k);
  t.equal((h.err as CaptureError).offset, offs[k]);
});

t.test('classic pcap with an absurd caplen rejects at that record', async (t) => {
  const src = Buffer.from(readFileSync(captures + 'iot/ndpi-tplink_shp.pcap'));
  const offs = recordOffsets(src);
  src.writeUInt32LE(0x7fffffff, offs[10] + 8);
  const f = join(dir, 'caplen.pcap');
  writeFileSync(f, src);
  const { got, err } = await read(f);
  t.equal(got.length, 10);
  t.equal((err as CaptureError).code, 'bad_caplen');
  t.equal((err as CaptureError).offset, offs[10]);
});

/** Walks pcapng blocks (little-endian file): [offset, type, length]. */
function blocks(b: Buffer): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let p = 0; p + 12 <= b.length; p += b.readUInt32LE(p + 4)) out.push([p, b.readUInt32LE(p), b.readUInt32LE(p + 4)]);
  return out;
}

t.test('pcapng: truncated block, bad block length, trailing length mismatch', async (t) => {
  const src = readFileSync(captures + 'iot/ndpi-sonos.pcapng');
  const bl = blocks(src);
  const epbs = bl.filter((x) => x[1] === 6);
  t.equal(epbs.length, 61);
  const target = epbs[30];
  const f = join(dir, 'ng.pcapng');

  writeFileSync(f, src.subarray(0, target[0] + 40));
  let r = await read(f);
  t.equal(r.got.length, 30, 'frames before the cut');
  t.equal((r.err as CaptureError).code, 'truncated');
  t.equal((r.err as CaptureError).offset, target[0]);

  const odd = Buffer.from(src);
  odd.writeUInt32LE(target[2] + 2, target[0] + 4);
  writeFileSync(f, odd);
  r = await read(f);
  t.equal(r.got.length, 30);
  t.equal((r.err as CaptureError).code, 'bad_block_length');
  t.equal((r.err as CaptureError).offset, target[0]);
  t.match((r.err as Error).message, /not a multiple of 4/);

  const longer = Buffer.from(src);
  longer.writeUInt32LE(target[2] + 4, target[0] + 4);
  writeFileSync(f, longer);
  r = await read(f);
  t.equal(r.got.length, 30);
  t.equal((r.err as CaptureError).code, 'length_mismatch');

  const tiny = Buffer.from(src);
  tiny.writeUInt32LE(8, target[0] + 4);
  writeFileSync(f, tiny);
  r = await read(f);
  t.equal((r.err as CaptureError).code, 'bad_block_length');
  t.match((r.err as Error).message, /below the 12-byte minimum/);
});

t.test('big-endian classic pcap reads like its little-endian original', async (t) => {
  for (const name of ['iot/ndpi-tplink_shp.pcap', 'decode/tcpdump-tcp-handshake-nano.pcap']) {
    const le = readFileSync(captures + name);
    const be = Buffer.from(le);
    be.writeUInt32BE(le.readUInt32LE(0), 0);
    be.writeUInt16BE(le.readUInt16LE(4), 4);
    be.writeUInt16BE(le.readUInt16LE(6), 6);
    for (const o of [8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(o), o);
    for (const p of recordOffsets(le)) for (let o = 0; o < 16; o += 4) be.writeUInt32BE(le.readUInt32LE(p + o), p + o);
    const f = join(dir, 'be.pcap');
    writeFileSync(f, be);
    const a = await read(captures + name);
    const b = await read(f);
    t.error(b.err);
    t.ok(a.got.length > 0);
    t.same(b.got, a.got, name);
  }
});

t.test('several pcapng sections with different byte orders in one file', async (t) => {
  const le = readFileSync(captures + 'decode/pcapngtg-le-test001.pcapng');
  const be = readFileSync(captures + 'decode/pcapngtg-be-test006.pcapng');
  const f = join(dir, 'mixed.pcapng');
  writeFileSync(f, Buffer.concat([le, be, le]));
  const a = await read(captures + 'decode/pcapngtg-le-test001.pcapng');
  const b = await read(captures + 'decode/pcapngtg-be-test006.pcapng');
  const m = await read(f);
  t.error(m.err);
  t.same(m.got, [...a.got, ...b.got, ...a.got]);
  t.same(b.got.map((x) => x.lt).sort(), [0, 1, 1, 1, 1], 'per-interface link types in the big-endian section');
});

t.test('stop() from the frame callback ends run() early', async (t) => {
  const src = openCapture(captures + 'iot/ndpi-nest_log_sink.pcap');
  let n = 0;
  await src.run(() => { if (++n === 10) src.stop(); });
  t.equal(n, 10);
  t.equal(src.stats().packets, 10);
});

t.test('a ~100 MB file streams with bounded memory and progress', async (t) => {
  const f = join(dir, 'big.pcap');
  const size = generateImixPcap(f, 280_000, 7);
  t.ok(size > 95e6, `${(size / 1e6).toFixed(0)} MB generated`);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let n = 0;
  let wire = 0;
  const src = openCapture(f);
  t.equal(src.size(), size);
  let lastPos = 0;
  let progressed = 0;
  await src.run((_b, _o, _c, w) => {
    n++;
    wire += w;
    if ((n & 4095) === 0) {
      const rss = process.memoryUsage().rss;
      if (rss > peak) peak = rss;
      const p = src.position();
      if (p > lastPos) progressed++;
      lastPos = p;
    }
  });
  t.equal(n, 280_000);
  t.equal(src.position(), size, 'position reaches the file size');
  t.ok(progressed > 10, 'position advances while reading');
  t.ok(wire > 90e6);
  const growth = (peak - rss0) / 1e6;
  t.ok(growth < 64, `RSS growth ${growth.toFixed(1)} MB < 64 MB`);
});
