// Capture-reader benchmark: segwatch's TypeScript pcap reader against libpcap (node-pcap's
// offline session) and `tcpdump -r FILE -w /dev/null`, on a generated IMIX pcap.
// Run: node --import=@tapjs/typescript/import bench/readers.ts [--packets N] [--file F] [--runs R]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openCapture } from '../collector/sources/pcap-file.js';
import { openLibpcapFile } from './libpcap-file.js';
import { PcapWriter } from '../test/fixtures/synth/pcap-writer.js';
import type { FrameSource } from '../collector/sources/source.js';

/** Simple IMIX: 7 x 64, 4 x 576, 1 x 1500 bytes (frame sizes without FCS). */
const IMIX = [64, 64, 64, 64, 64, 64, 64, 576, 576, 576, 576, 1500];

/**
 * Writes a deterministic Ethernet/IPv4 pcap of `packets` frames (UDP and TCP, IMIX sizes,
 * 2,000 hosts talking to 200 servers, 10 us apart). Returns the file size in bytes.
 */
export function generateImixPcap(path: string, packets: number, seed = 1): number {
  const w = new PcapWriter(path);
  const frame = Buffer.alloc(1500);
  // Ethernet: dst, src, type IPv4
  frame.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    // xorshift32: fast, deterministic, good enough to vary sizes and addresses
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
  let tsUs = 1_700_000_000_000_000;
  for (let i = 0; i < packets; i++) {
    const r = rnd();
    const size = IMIX[r % IMIX.length];
    const tcp = (r >>> 8) % 4 !== 0;
    const ipLen = size - 14;
    frame[14] = 0x45; frame[15] = 0;
    frame.writeUInt16BE(ipLen, 16);
    frame.writeUInt16BE(i & 0xffff, 18);
    frame.writeUInt16BE(0x4000, 20);
    frame[22] = 64; frame[23] = tcp ? 6 : 17;
    frame.writeUInt16BE(0, 24);
    const host = (r >>> 12) % 2000;
    frame.writeUInt32BE(0xc0a83200 + (host & 0xff), 26); // 192.168.50.x
    frame.writeUInt32BE(0x0a000000 + ((r >>> 20) % 200), 30); // 10.0.0.x
    frame.writeUInt16BE(1024 + (host * 7) % 60000, 34);
    frame.writeUInt16BE(tcp ? 443 : 53, 36);
    if (tcp) {
      frame.writeUInt32BE(i, 38); frame.writeUInt32BE(0, 42);
      frame[46] = 0x50; frame[47] = 0x18; frame.writeUInt16BE(65535, 48);
      frame.writeUInt32BE(0, 50);
    } else {
      frame.writeUInt16BE(ipLen - 20, 38); frame.writeUInt16BE(0, 40);
    }
    w.write(tsUs, frame.subarray(0, size));
    tsUs += 10 + (r % 7);
  }
  w.close();
  return w.bytes;
}

export interface ReaderResult {
  reader: string;
  packets: number;
  wireBytes: number;
  seconds: number;
  packetsPerSec: number;
  mbPerSec: number;
}

async function timeSource(label: string, make: () => FrameSource, fileBytes: number): Promise<ReaderResult> {
  let packets = 0;
  let wireBytes = 0;
  const src = make();
  const t0 = process.hrtime.bigint();
  await src.run((_b, _o, _c, wirelen) => { packets++; wireBytes += wirelen; });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { reader: label, packets, wireBytes, seconds, packetsPerSec: packets / seconds, mbPerSec: fileBytes / 1e6 / seconds };
}

function timeTcpdump(file: string, packets: number, fileBytes: number): ReaderResult | undefined {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('tcpdump', ['-n', '-r', file, '-w', '/dev/null'], { encoding: 'utf8', timeout: 300_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error || r.status !== 0) return undefined;
  return { reader: 'tcpdump -r -w /dev/null', packets, wireBytes: NaN, seconds, packetsPerSec: packets / seconds, mbPerSec: fileBytes / 1e6 / seconds };
}

/**
 * Times each reader over `file` (best of `runs`): segwatch's TypeScript reader, libpcap via
 * node-pcap (skipped when the optional package is missing), and tcpdump (skipped when absent).
 */
export async function benchReaders(file: string, runs = 3): Promise<ReaderResult[]> {
  const fileBytes = statSync(file).size;
  const best = async (label: string, make: () => FrameSource): Promise<ReaderResult> => {
    let b: ReaderResult | undefined;
    for (let i = 0; i < runs; i++) {
      const r = await timeSource(label, make, fileBytes);
      if (!b || r.seconds < b.seconds) b = r;
    }
    return b!;
  };
  const out: ReaderResult[] = [];
  const ts = await best('segwatch pcap-file (TypeScript)', () => openCapture(file));
  out.push(ts);
  try {
    out.push(await best('libpcap via node-pcap', () => openLibpcapFile(file)));
  } catch (e) {
    process.stderr.write(`libpcap reader skipped: ${(e as Error).message}\n`);
  }
  let td: ReaderResult | undefined;
  for (let i = 0; i < runs; i++) {
    const r = timeTcpdump(file, ts.packets, fileBytes);
    if (r && (!td || r.seconds < td.seconds)) td = r;
  }
  if (td) out.push(td);
  return out;
}

function table(results: ReaderResult[]): string {
  const base = results[0].packetsPerSec;
  const rows = results.map((r) => [
    r.reader, String(r.packets), r.seconds.toFixed(3), Math.round(r.packetsPerSec).toLocaleString('en-US'),
    r.mbPerSec.toFixed(0), (r.packetsPerSec / base).toFixed(2),
  ]);
  const head = ['reader', 'packets', 'seconds', 'packets/s', 'MB/s', 'vs TS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const packets = Number(arg('--packets') ?? 1_500_000);
  const runs = Number(arg('--runs') ?? 3);
  let file = arg('--file');
  let dir: string | undefined;
  try {
    if (!file) {
      dir = mkdtempSync(join(tmpdir(), 'segwatch-bench-'));
      file = join(dir, 'imix.pcap');
      const t0 = Date.now();
      const bytes = generateImixPcap(file, packets);
      process.stderr.write(`generated ${packets} packets, ${(bytes / 1e6).toFixed(0)} MB in ${Date.now() - t0} ms\n`);
    }
    const results = await benchReaders(file, runs);
    process.stdout.write(table(results) + '\n');
    const outPath = fileURLToPath(new URL('./readers-results.json', import.meta.url));
    writeFileSync(outPath, JSON.stringify({
      date: new Date().toISOString(), node: process.version, packets: results[0].packets,
      fileBytes: statSync(file).size, runs, results,
    }, null, 2) + '\n');
    process.stderr.write(`wrote ${outPath}\n`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
}
