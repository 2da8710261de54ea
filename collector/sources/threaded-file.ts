// A capture file read and decoded on a worker thread: the calling thread receives decoded
// packets (a reused PacketInfo) and spends its time on flows and output, so a listing of a big
// file uses both cores. Same packets, same order, same fields as decoding on one thread; the
// frames' bytes do not cross, only what flow counting and the name search read (see packet-ring).
// RingThread is what this thread and the flow thread (flow-thread.ts) share: the worker, its end
// message, and draining the ring until the file is done.

import { Worker, type ResourceLimits } from 'node:worker_threads';
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

/** What a ring thread posts once, after its last record is in the ring. */
export interface RingThreadEnd {
  error?: { message: string; name: string; file?: string; offset?: number; code?: string };
}

/** A thread's error as the message posts it (a CaptureError keeps its file, offset and code). */
export function threadError(e: Error): NonNullable<RingThreadEnd['error']> {
  return e instanceof CaptureError
    ? { message: e.message, name: e.name, file: e.file, offset: e.offset, code: e.code }
    : { message: e.message, name: e.name };
}

/**
 * The thread module `name` beside this one. Run from the TypeScript sources (the tests), it is
 * the built copy, which `npm test` builds first from the same sources: a new thread would
 * otherwise transpile every module it loads again, seconds per thread.
 */
function threadEntry(name: string): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL(`./${name}.js`, here);
  const built = new URL(`../../dist/collector/sources/${name}.js`, here);
  return existsSync(built) ? built : new URL(`./${name}.ts`, here);
}

/**
 * A worker thread that reads a capture file and writes what it makes of it to a shared ring,
 * started at once (it starts up while the caller still prepares); the caller drains the ring
 * with consume().
 */
export abstract class RingThread<End extends RingThreadEnd> {
  protected readonly worker: Worker;
  protected ended: End | undefined;
  private crashed: Error | undefined;
  protected exited = false;
  protected readonly done: Promise<void>;

  constructor(readonly path: string, module: string, workerData: unknown, resourceLimits?: ResourceLimits) {
    const entry = threadEntry(module);
    // A built entry needs no loader: without the parent's execArgv (a test runner's TypeScript
    // loader) the thread starts in milliseconds.
    this.worker = new Worker(entry, {
      workerData, ...(resourceLimits ? { resourceLimits } : {}), ...(entry.pathname.endsWith('.js') ? { execArgv: [] } : {}),
    });
    this.done = new Promise<void>((resolve) => {
      this.worker.once('message', (m: End) => { this.ended = m; });
      this.worker.once('error', (e) => { this.crashed = e; });
      this.worker.once('exit', () => { this.exited = true; resolve(); });
    });
  }

  /**
   * Drains the ring with `drain` (returns the records it handed on) until the thread has
   * finished the file. Rejects like a file source does: a CaptureError after every record
   * before the fault; if this side throws, the thread (maybe waiting on a full ring) is stopped.
   */
  protected async consume(ring: RingReader, drain: () => number, onProgress: ((position: number) => void) | undefined, what: string): Promise<void> {
    let batches = 0;
    try {
      for (;;) {
        if (drain() > 0) {
          if ((++batches & 63) === 0) {
            onProgress?.(ring.position());
            // let output streams and timers run between batches
            await new Promise<void>((r) => setImmediate(r));
          }
          continue;
        }
        if (ring.finished) break;
        if (this.exited) { drain(); break; }
        await ring.waitForData(100);
      }
    } catch (err) {
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
    if (!this.ended) throw new Error(`${this.path}: the ${what} ended without finishing the file`);
  }
}

/**
 * A capture file being read and decoded on a worker thread from the moment this is made, so
 * the thread starts up while the caller still prepares (loads its modules, builds its pipeline).
 * run() then takes its packets; a thread whose packets are not wanted after all must be cancel()ed.
 */
export class DecodeThread extends RingThread<DecodeThreadEnd> {
  private readonly ring: RingReader;

  constructor(path: string, ringBytes?: number) {
    const mem = ringMemory(ringBytes);
    const data: DecodeThreadData = { path, mem };
    super(path, 'decode-thread', data);
    this.ring = new RingReader(mem);
  }

  /**
   * Calls onPacket for every frame in file order. Rejects like a file source does: a
   * CaptureError after every packet before the fault.
   */
  async run(onPacket: (p: PacketInfo) => void, onProgress?: (position: number) => void): Promise<void> {
    const ring = this.ring, p = new PacketInfo();
    await this.consume(ring, () => ring.drain(p, onPacket), onProgress, 'decode thread');
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
