// A capture file read and decoded on a worker thread: the calling thread receives decoded
// packets (a reused PacketInfo) and spends its time on flows and output, so a listing of a big
// file uses both cores. Same packets, same order, same fields as decoding on one thread; the
// frames' bytes do not cross, only what flow counting and the name search read (see packet-ring).

import { Worker } from 'node:worker_threads';
import { existsSync, statSync } from 'node:fs';
import { PacketInfo } from '../decode/packet.js';
import { CaptureError } from './source.js';
import { RingReader, ringMemory } from './packet-ring.js';
import type { DecodeThreadData, DecodeThreadEnd } from './decode-thread.js';

export interface ThreadedRunOptions {
  /** called now and then with the bytes of the file read so far. */
  onProgress?: (position: number) => void;
  /** ring size, bytes (tests use a small one to make both sides wrap and wait). */
  ringBytes?: number;
}

/** File size in bytes, -1 when it cannot be read (the run then reports why). */
export function captureSize(path: string): number {
  try { return statSync(path).size; } catch { return -1; }
}

/**
 * The thread's module. Run from the TypeScript sources (the tests), it is the built copy, which
 * `npm test` builds first from the same sources: a new thread would otherwise transpile every
 * module it loads again, seconds per thread.
 */
function threadEntry(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./decode-thread.js', here);
  const built = new URL('../../dist/collector/sources/decode-thread.js', here);
  return existsSync(built) ? built : new URL('./decode-thread.ts', here);
}

/**
 * Read and decode `path` on a worker thread, calling onPacket for every frame in file order.
 * Rejects like a file source does: a CaptureError after every packet before the fault.
 */
export async function runThreadedCapture(path: string, onPacket: (p: PacketInfo) => void, opts: ThreadedRunOptions = {}): Promise<void> {
  const mem = ringMemory(opts.ringBytes);
  const ring = new RingReader(mem);
  const data: DecodeThreadData = { path, mem };
  const entry = threadEntry();
  // A built entry needs no loader: without the parent's execArgv (a test runner's TypeScript
  // loader) the thread starts in milliseconds.
  const worker = new Worker(entry, { workerData: data, ...(entry.pathname.endsWith('.js') ? { execArgv: [] } : {}) });
  let ended: DecodeThreadEnd | undefined;
  let crashed: Error | undefined;
  let exited = false;
  const done = new Promise<void>((resolve) => {
    worker.once('message', (m: DecodeThreadEnd) => { ended = m; });
    worker.once('error', (e) => { crashed = e; });
    worker.once('exit', () => { exited = true; resolve(); });
  });
  const p = new PacketInfo();
  let batches = 0;
  try {
    for (;;) {
      if (ring.drain(p, onPacket) > 0) {
        if ((++batches & 63) === 0) {
          opts.onProgress?.(ring.position());
          // let output streams and timers run between batches
          await new Promise<void>((r) => setImmediate(r));
        }
        continue;
      }
      if (ring.finished) break;
      if (exited) { ring.drain(p, onPacket); break; }
      await ring.waitForData(100);
    }
  } catch (err) {
    // the consumer failed: the thread may be waiting on a full ring, so stop it
    await worker.terminate();
    throw err;
  } finally {
    await done;
  }
  opts.onProgress?.(ring.position());
  if (crashed) throw crashed;
  const e = ended?.error;
  if (e) {
    if (e.name === 'CaptureError' && e.file !== undefined) {
      const err = new CaptureError(e.file, e.offset ?? 0, e.code ?? 'error', '');
      err.message = e.message;
      throw err;
    }
    throw new Error(e.message);
  }
  if (!ended) throw new Error(`${path}: the decode thread ended without finishing the file`);
}
