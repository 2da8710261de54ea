// Live capture from a network interface through libpcap (the optional `pcap` package):
// BPF filter, snaplen, kernel buffer (TPACKET_V3 on Linux: libpcap's version string says so),
// promiscuous mode, a read timeout rather than immediate mode so the kernel hands packets over in
// blocks; kernel, interface and ring drops polled into stats(). libpcap runs on a capture thread
// (capture-thread.ts) that hands frames over through the packet ring in batches; run() calls
// the FrameHandler on this thread (bench/live-callback.ts for why).

import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import type { FrameHandler, FrameSource, SourceStats } from './source.js';
import { RingReader, ringMemory, type RingMemory } from './packet-ring.js';
import type { CaptureDrops } from '../types.js';

export interface LiveOptions {
  /** interface name, e.g. "eth0" ("any" for all, on Linux) */
  iface: string;
  /** BPF filter expression, "" for everything */
  filter?: string;
  /** bytes kept per frame (default 65535, at most 262144) */
  snaplen?: number;
  /** kernel capture buffer, bytes (default 16 MiB) */
  bufferBytes?: number;
  /** promiscuous mode (default true: a mirror port carries other hosts' frames) */
  promiscuous?: boolean;
  /** how long libpcap may hold packets to batch them, ms (default 100; 0 = immediate mode) */
  bufferTimeoutMs?: number;
  /** drop-counter polling period, ms (default 5000; the capture thread: 1000) */
  statsIntervalMs?: number;
  /** the capture thread's ring, bytes (default LIVE_RING_BYTES) */
  ringBytes?: number;
}

/** SourceStats of a live capture: drops is the sum of the three below. */
export interface LiveStats extends SourceStats, CaptureDrops {}

/** What the capture thread is given. */
export interface CaptureThreadData {
  opts: LiveOptions;
  mem: RingMemory;
  /** Float64Array over it, indexes S_* below. */
  stats: SharedArrayBuffer;
  /** Int32Array over it: [S_STOP] set to 1 by stop() */
  control: SharedArrayBuffer;
}

/** Slots of the capture thread's figures (written there, read here). */
export const S_PACKETS = 0, S_BYTES = 1, S_KERNEL = 2, S_IFACE = 3, S_RING = 4, S_RECV = 5;
const STATS_SLOTS = 6;
export const S_STOP = 0;

/** What the capture thread posts: once started (or failed), and once at its end. */
export type CaptureThreadMessage =
  | { type: 'started'; linkType: number }
  | { type: 'error'; code: string; message: string }
  | { type: 'ended' };

/**
 * The capture thread's ring, bytes: whole frames, about 90,000 IMIX frames, a quarter of a second
 * at 350k packets/s, for the main thread's pauses (a policy reload, a burst of new devices, a
 * garbage collection) that the kernel's buffer would otherwise have to cover alone.
 */
export const LIVE_RING_BYTES = 32 << 20;

/** Kernel capture buffer when none is given, bytes (the CLI's default is its own: buffer_size_mb). */
export const DEFAULT_BUFFER_BYTES = 32 << 20;

/** node-pcap's session options from ours; one place for both ways of running. */
export function sessionOptions(opts: LiveOptions): { filter: string; snap_length: number; buffer_size: number; promiscuous: boolean; buffer_timeout: number } {
  return {
    filter: opts.filter ?? '',
    snap_length: Math.min(Math.max(opts.snaplen ?? 65535, 64), 262144),
    buffer_size: opts.bufferBytes ?? DEFAULT_BUFFER_BYTES,
    promiscuous: opts.promiscuous ?? true,
    // not 0: 0 is immediate mode, one wake-up per packet
    buffer_timeout: opts.bufferTimeoutMs ?? 100,
  };
}

/** The capture thread's module: the built copy when run from sources (see threaded-file.ts). */
function threadEntry(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./capture-thread.js', here);
  const built = new URL('../../dist/collector/sources/capture-thread.js', here);
  return existsSync(built) ? built : new URL('./capture-thread.ts', here);
}

export const CAP_NET_RAW_HELP =
  'capturing needs CAP_NET_RAW: run `sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))` ' +
  'or run segwatch under its systemd unit (AmbientCapabilities=CAP_NET_RAW)';

/** Why a live capture could not start: code is "no_pcap", "no_interface", "permission", "filter" or "open". */
export class LiveCaptureError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'LiveCaptureError';
  }
}

export class PcapLiveSource implements FrameSource {
  readonly name: string;
  private stopped = false;
  private readonly counts: LiveStats = { packets: 0, bytes: 0, drops: 0, ifDrops: 0, kernel: 0, interface: 0, ring: 0 };
  private control: Int32Array | undefined;
  private threadStats: Float64Array | undefined;
  private readonly startedP: Promise<void>;
  private startedResolve!: () => void;
  private startedReject!: (e: Error) => void;

  constructor(private readonly opts: LiveOptions) {
    this.name = `live:${opts.iface}`;
    this.startedP = new Promise<void>((res, rej) => { this.startedResolve = res; this.startedReject = rej; });
    this.startedP.catch(() => {}); // run() reports the same error.
  }

  /** Resolves once the capture is active (packets sent after this are seen); rejects as run() does. */
  started(): Promise<void> {
    return this.startedP;
  }

  private setDrops(kernel: number, iface: number, ring: number): void {
    const c = this.counts;
    c.kernel = kernel; c.interface = iface; c.ring = ring;
    c.ifDrops = iface;
    // everything lost on the way: what collector.degraded and segwatch_drops_total read
    c.drops = kernel + iface + ring;
  }

  /**
   * Reads on a capture thread; onFrame gets every frame on this thread, in batches between
   * which the event loop runs. Resolves after stop(); rejects (LiveCaptureError) when the
   * capture cannot start or libpcap stops reading.
   */
  async run(onFrame: FrameHandler): Promise<void> {
    const control = new SharedArrayBuffer(8);
    this.control = new Int32Array(control);
    if (this.stopped) this.control[S_STOP] = 1;
    const mem = ringMemory(this.opts.ringBytes ?? LIVE_RING_BYTES);
    const reader = new RingReader(mem);
    const stats = new SharedArrayBuffer(STATS_SLOTS * 8);
    this.threadStats = new Float64Array(stats);
    const entry = threadEntry();
    const data: CaptureThreadData = { opts: this.opts, mem, stats, control };
    const worker = new Worker(entry, { workerData: data, ...(entry.pathname.endsWith('.js') ? { execArgv: [] } : {}) });
    let crashed: Error | undefined;
    let exited = false;
    const done = new Promise<void>((resolve) => {
      worker.once('error', (e) => { crashed = e; });
      worker.once('exit', () => { exited = true; resolve(); });
    });
    const first = await new Promise<CaptureThreadMessage | null>((resolve) => {
      worker.once('message', (m: CaptureThreadMessage) => resolve(m));
      void done.then(() => resolve(null));
    });
    if (!first || first.type !== 'started') {
      const err = first?.type === 'error' ? new LiveCaptureError(first.code, first.message)
        : new LiveCaptureError('open', `live capture on ${this.opts.iface}: the capture thread ended: ${crashed?.message ?? 'no reason given'}`);
      await worker.terminate();
      this.startedReject(err);
      throw err;
    }
    this.startedResolve();
    let failed: CaptureThreadMessage | undefined;
    worker.on('message', (m: CaptureThreadMessage) => { if (m.type === 'error') failed = m; });
    let batches = 0;
    try {
      for (;;) {
        if (reader.drainFrames(onFrame) > 0) {
          // let the API, the timers and the sinks run between batches
          if ((++batches & 15) === 0) await new Promise<void>((r) => setImmediate(r));
          continue;
        }
        if (reader.finished) break;
        if (exited) { reader.drainFrames(onFrame); break; }
        await reader.waitForData(100);
      }
    } finally {
      await Promise.race([done, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
      if (!exited) await worker.terminate();
      this.readThreadStats();
    }
    if (crashed) throw crashed;
    const f = failed as CaptureThreadMessage | undefined;
    if (f?.type === 'error') throw new LiveCaptureError(f.code, f.message);
  }

  private readThreadStats(): void {
    const t = this.threadStats;
    if (!t) return;
    this.counts.packets = t[S_PACKETS];
    this.counts.bytes = t[S_BYTES];
    this.setDrops(t[S_KERNEL], t[S_IFACE], t[S_RING]);
  }

  /** Ends the capture; run() resolves once the thread has read its last figures. */
  stop(): void {
    this.stopped = true;
    if (this.control) {
      Atomics.store(this.control, S_STOP, 1);
      Atomics.notify(this.control, S_STOP);
    }
  }

  stats(): LiveStats {
    this.readThreadStats();
    return { ...this.counts };
  }
}

export function classifyOpenError(iface: string, filter: string, msg: string): LiveCaptureError {
  if (/permission|not permitted|EPERM/i.test(msg)) {
    return new LiveCaptureError('permission', `live capture on ${iface}: ${msg}; ${CAP_NET_RAW_HELP}`);
  }
  if (/no such device|doesn't exist|does not exist/i.test(msg)) {
    return new LiveCaptureError('no_interface', `live capture: interface "${iface}" does not exist (${msg})`);
  }
  if (filter && /syntax|filter|expression|parse/i.test(msg)) {
    return new LiveCaptureError('filter', `live capture on ${iface}: bad BPF filter "${filter}": ${msg}`);
  }
  return new LiveCaptureError('open', `live capture on ${iface}: ${msg}`);
}

/** The three drop counters of a live capture, for the collector measurement and /metrics. */
export function captureDrops(s: PcapLiveSource): CaptureDrops {
  const st = s.stats();
  return { kernel: st.kernel, interface: st.interface, ring: st.ring };
}

/** A live-capture FrameSource; nothing is opened until run(). */
export function openLive(opts: LiveOptions): PcapLiveSource {
  return new PcapLiveSource(opts);
}
