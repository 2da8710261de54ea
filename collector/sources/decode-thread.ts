// Worker-thread entry of the threaded file source: reads the capture and decodes every frame
// on this thread, handing the decoded packets to the main thread through the shared ring.

import { parentPort, workerData } from 'node:worker_threads';
import { openCapture } from './pcap-file.js';
import { threadError, type RingThreadEnd } from './threaded-file.js';
import { decodeStampedFrame } from '../decode/frame.js';
import { PacketInfo } from '../decode/packet.js';
import { RingWriter, type RingMemory } from './packet-ring.js';

export interface DecodeThreadData {
  path: string;
  mem: RingMemory;
}

/** What the thread posts once, after its last record is in the ring. */
export interface DecodeThreadEnd extends RingThreadEnd {
  packets: number;
}

async function main(): Promise<void> {
  const { path, mem } = workerData as DecodeThreadData;
  const ring = new RingWriter(mem);
  const source = openCapture(path, { syncReads: true });
  const p = new PacketInfo();
  let n = 0;
  let end: DecodeThreadEnd;
  try {
    // p is the stamp: the reader writes each timestamp into it (see FrameStamp)
    await source.run((buf, off, caplen, wirelen, _ts, linkType) => {
      decodeStampedFrame(buf, off, caplen, wirelen, linkType, p);
      ring.write(p);
      if ((++n & 0xffff) === 0) ring.setProgress(source.position());
    }, p);
    end = { packets: n };
  } catch (err) {
    const e = err as Error;
    end = { packets: n, error: threadError(e) };
  }
  ring.setProgress(source.position());
  ring.end();
  parentPort?.postMessage(end);
}

void main();
