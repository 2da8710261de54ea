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
 * A capture file being read and decoded on a worker thread from the moment this is made, so
 * the thread starts up while the caller still prepares (loads its modules, builds its pipeline).
 * run() then takes its packets; a thread whose packets are not wanted after all must be cancel()ed.
 */
export class DecodeThread {
  private readonly ring: RingReader;
  private readonly worker: Worker;
  private ended: DecodeThreadEnd | undefined;
  private crashed: Error | undefined;
  private exited = false;
  private readonly done: Promise<void>;

  constructor(readonly path: string, ringBytes?: number) {
    const mem = ringMemory(ringBytes);
    this.ring = new RingReader(mem);
    const data: DecodeThreadData = { path, mem };
    const entry = threadEntry();
    // A built entry needs no loader: without the parent's execArgv (a test runner's TypeScript
    // loader) the thread starts in milliseconds.
    this.worker = new Worker(entry, { workerData: data, ...(entry.pathname.endsWith('.js') ? { execArgv: [] } : {}) });
    this.done = new Promise<void>((resolve) => {
      this.worker.once('message', (m: DecodeThreadEnd) => { this.ended = m; });
      this.worker.once('error', (e) => { this.crashed = e; });
      this.worker.once('exit', () => { this.exited = true; resolve(); });
    });
  }

  /**
   * Calls onPacket for every frame in file order. Rejects like a file source does: a
   * CaptureError after every packet before the fault.
   */
  async run(onPacket: (p: PacketInfo) => void, onProgress?: (position: number) => void): Promise<void> {
    const ring = this.ring;
    const p = new PacketInfo();
    let batches = 0;
    try {
      for (;;) {
        if (ring.drain(p, onPacket) > 0) {
          if ((++batches & 63) === 0) {
            onProgress?.(ring.position());
            // let output streams and timers run between batches
            await new Promise<void>((r) => setImmediate(r));
          }
          continue;
        }
        if (ring.finished) break;
        if (this.exited) { ring.drain(p, onPacket); break; }
        await ring.waitForData(100);
      }
    } catch (err) {
      // the consumer failed: the thread may be waiting on a full ring, so stop it
      await this.worker.terminate();
      throw err;
    } finally {
      await this.done;
    }
    onProgress?.(ring.position());
    if (this.crashed) throw this.crashed;
    const e = this.ended?.error;
    if (e) {
      if (e.name === 'CaptureError' && e.file !== undefined) {
        const err = new CaptureError(e.file, e.offset ?? 0, e.code ?? 'error', '');
        err.message = e.message;
        throw err;
      }
      throw new Error(e.message);
    }
    if (!this.ended) throw new Error(`${this.path}: the decode thread ended without finishing the file`);
  }

  /** Stops the thread (it may be waiting on a full ring that nobody will drain). */
  async cancel(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Read and decode `path` on a worker thread, calling onPacket for every frame in file order.
 * Rejects like a file source does: a CaptureError after every packet before the fault.
 */
export async function runThreadedCapture(path: string, onPacket: (p: PacketInfo) => void, opts: ThreadedRunOptions = {}): Promise<void> {
  return new DecodeThread(path, opts.ringBytes).run(onPacket, opts.onProgress);
}
