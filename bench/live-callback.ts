// What node-pcap's once-per-packet call into JavaScript costs (issue 14): the same IMIX capture
// read by libpcap through node-pcap (one native-to-JS call, one EventEmitter emit and one
// PacketWithHeader object per packet) with an empty handler, with decode and a ring write (what
// the capture thread does per packet), by segwatch's own file reader with an empty handler, and
// decode plus the whole pipeline on one thread (what the main thread would do without a second
// thread). Figures in ns a packet, best of `runs`. libpcap's offline read is the same
// pcap_dispatch/callback path as its live read (TPACKET_V3's ring replaces the file's read()).
//
//   node dist/bench/live-callback.js [packets=1000000]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateBenchCapture } from './gen-capture.js';
import { linkTypeNumber, loadPcap, loadPcapBinding, deliverPacket, type PcapBindingSession, type PcapPacket } from '../collector/sources/libpcap.js';
import { openCapture } from '../collector/sources/pcap-file.js';
import { decodeFrame } from '../collector/decode/frame.js';
import { PacketInfo } from '../collector/decode/packet.js';
import { RingReader, RingWriter, ringMemory } from '../collector/sources/packet-ring.js';
import { assemble } from '../collector/assemble.js';
import { loadPolicyText } from '../collector/policy/load.js';
import { POLICY } from './live.js';


export interface CallbackCost { case: string; packets: number; nsPerPacket: number; packetsPerSecond: number }

async function libpcapPass(path: string, onPacket: (p: PcapPacket, linkType: number) => void): Promise<number> {
  const pcap = await loadPcap();
  const s = pcap.createOfflineSession(path);
  const lt = linkTypeNumber(s.link_type);
  let n = 0;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    s.on('packet', (p: PcapPacket) => { n++; onPacket(p, lt); });
    s.once('complete', () => resolve());
  });
  const ns = Number(process.hrtime.bigint() - t0);
  try { s.close(); } catch { /* closed */ }
  return ns / n;
}

/** The capture thread's way: the binding's own session, one plain callback per packet, dispatch in a loop. */
function bindingPass(path: string, onPacket: (buf: Buffer, header: Buffer, linkType: number) => void): number {
  const b = loadPcapBinding();
  const s = new b.PcapSession() as PcapBindingSession & { open_offline: PcapBindingSession['open_live'] };
  const buf = Buffer.alloc(65535), header = Buffer.alloc(16);
  let n = 0;
  let lt = -1;
  lt = linkTypeNumber(s.open_offline(path, '', 0, 65535, '', () => { n++; onPacket(buf, header, lt); }, false, 0, () => {}, false));
  const t0 = process.hrtime.bigint();
  while (s.dispatch(buf, header) > 0) { /* to the end */ }
  return Number(process.hrtime.bigint() - t0) / n;
}

async function filePass(path: string, onFrame: (buf: Buffer, off: number, caplen: number, wirelen: number, ts: number, lt: number) => void): Promise<number> {
  const src = openCapture(path, { syncReads: true });
  let n = 0;
  const t0 = process.hrtime.bigint();
  await src.run((b, o, c, w, ts, lt) => { n++; onFrame(b, o, c, w, ts, lt); });
  return Number(process.hrtime.bigint() - t0) / n;
}

export async function measureCallbackCost(packets = 1_000_000, runs = 3): Promise<CallbackCost[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'segwatch-bench-cb-'));
  try {
    const file = join(tmp, 'imix.pcap');
    generateBenchCapture(file, { packets });
    const p = new PacketInfo();
    const mem = ringMemory();
    const writer = new RingWriter(mem), reader = new RingReader(mem);
    const q = new PacketInfo();
    const frameMem = ringMemory();
    const frameWriter = new RingWriter(frameMem), frameReader = new RingReader(frameMem);
    let sink = 0;
    const drainNow = () => { reader.drain(q, (x) => { sink += x.wirelen; }); };
    const counts = { packets: 0, bytes: 0 };
    const cases: Array<[string, () => Promise<number>]> = [
      ['node-pcap, empty handler', () => libpcapPass(file, () => { sink++; })],
      ['node-pcap, decode + ring write', () => libpcapPass(file, (pk, lt) => {
        deliverPacket(pk, lt, counts, (b, o, c, w, ts, l) => { decodeFrame(b, o, c, w, ts, l, p); if (!writer.tryWrite(p)) drainNow(); });
      })],
      ['node-pcap binding direct, empty handler', async () => bindingPass(file, () => { sink++; })],
      // what the capture thread does: the frame copied whole into the ring (its raw-frame form)
      ['binding direct, frame copied into the ring', async () => bindingPass(file, (b, h, lt) => {
        const ts = h.readUInt32LE(0) * 1000 + h.readUInt32LE(4) / 1000;
        if (!frameWriter.tryWriteFrame(b, h.readUInt32LE(8), h.readUInt32LE(12), ts, lt)) { frameWriter.publish(); frameReader.drainFrames(() => { sink++; }); }
      })],
      ['segwatch file reader, empty handler', () => filePass(file, () => { sink++; })],
      ['segwatch file reader, decode + ring write', () => filePass(file, (b, o, c, w, ts, l) => { decodeFrame(b, o, c, w, ts, l, p); if (!writer.tryWrite(p)) drainNow(); })],
      // the main thread's share: frames from the ring into `run`'s decode and whole pipeline
      // (flows, inventory, policy, detectors), here on one thread with the copy into the ring
      ['file reader, frame copy + ring drain into decode and the whole pipeline', async () => {
        const pol = loadPolicyText(POLICY, 'bench.yaml').policy!;
        const { pipeline } = await assemble({ mode: 'run', policy: () => pol });
        const drainToPipeline = () => { frameReader.drainFrames(pipeline.handleFrame); };
        const ns = await filePass(file, (b, o, c, w, ts, l) => {
          if (!frameWriter.tryWriteFrame(b, c, w, ts, l, o)) { frameWriter.publish(); drainToPipeline(); frameWriter.tryWriteFrame(b, c, w, ts, l, o); }
        });
        frameWriter.publish();
        drainToPipeline();
        await pipeline.close();
        return ns;
      }],
    ];
    const out: CallbackCost[] = [];
    for (const [name, fn] of cases) {
      let best = Infinity;
      for (let i = 0; i < runs; i++) { best = Math.min(best, await fn()); drainNow(); }
      out.push({ case: name, packets, nsPerPacket: Math.round(best), packetsPerSecond: Math.round(1e9 / best) });
    }
    if (sink < 0) console.log(sink);
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function printCallbackCost(rows: CallbackCost[]): void {
  console.log(`per-packet cost, ${rows[0]?.packets ?? 0} IMIX packets, best of 3:`);
  for (const r of rows) console.log(`  ${r.case.padEnd(72)} ${String(r.nsPerPacket).padStart(6)} ns/packet  ${r.packetsPerSecond.toLocaleString('en-US').padStart(10)} packets/s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 1_000_000);
  printCallbackCost(await measureCallbackCost(n));
}
