// The NetFlow v5/v9 and IPFIX receiver (`--netflow`, `--ipfix`): UDP sockets on a worker
// thread copy datagrams into a shared ring (the bounded queue, its drops counted); this thread
// decodes, filters and joins them into FlowRecords (flow-export-ingest).
//
// Why a thread: the main thread judges every record (policy, detectors, sinks) and now and then
// spends tens of ms on a tick or a policy reload; a socket not read meanwhile overflows in the
// kernel, silently. The thread only moves bytes, so it keeps up with any burst the ring can
// hold. Decoding stays here, beside the records' consumer: templates and sequence numbers need
// one owner, and passing decoded records across would copy more than the datagrams themselves
// (a v9 record is ~45 bytes on the wire and ~20 fields decoded).

import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FlowRecord, Log } from '../types.js';
import { silentLog } from '../types.js';
import type { RecordSource, RecordSourceStats } from './source.js';
import { DatagramRingReader, datagramRingMemory, DATAGRAM_RING_BYTES } from './datagram-ring.js';
import { FlowExportIngest, type FlowExportIngestOptions } from './flow-export-ingest.js';
import type { FlowExportThreadData, FlowExportThreadReady } from './flow-export-thread.js';

/** Receive buffer asked of the kernel by default, bytes (the `netflow_rcvbuf_mb` setting). */
export const DEFAULT_RCVBUF_BYTES = 8 << 20;

export interface FlowListen {
  address: string;
  port: number;
}

/**
 * `[ADDR:]PORT`: "2055" (loopback: 127.0.0.1), "0.0.0.0:2055", "192.0.2.10:2055", "[::]:2055",
 * "[::1]:4739". Throws an Error saying what was expected.
 */
export function parseFlowListen(text: string): FlowListen {
  const s = text.trim();
  let address = '127.0.0.1', port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) { address = v6[1]; port = v6[2]; }
  else if (/^\d+$/.test(s)) port = s;
  else {
    const i = s.lastIndexOf(':');
    if (i <= 0 || s.indexOf(':') !== i) throw new Error(`expected [ADDR:]PORT such as 2055, 0.0.0.0:2055 or [::]:2055, got ${JSON.stringify(text)}`);
    address = s.slice(0, i); port = s.slice(i + 1);
  }
  if (!/^\d+$/.test(port) || Number(port) > 65535) throw new Error(`expected a port 0-65535 in ${JSON.stringify(text)}`);
  if (isIP(address) === 0) throw new Error(`expected an IPv4 or [IPv6] address in ${JSON.stringify(text)}`);
  return { address, port: Number(port) };
}

export interface FlowExportUdpOptions extends FlowExportIngestOptions {
  listen: readonly FlowListen[];
  /** SO_RCVBUF to ask for, bytes (default 8 MiB); the kernel may grant less. */
  recvBufferSize?: number;
  /** the queue between the sockets and the decoder, bytes (default 64 MiB). */
  ringBytes?: number;
  log?: Log;
  /** source tag; default "netflow:ADDR:PORT[,...]". */
  name?: string;
}

/** The thread's module: the built copy when run from the TypeScript sources (see threaded-file.ts). */
function threadEntry(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./flow-export-thread.js', here);
  const built = new URL('../../dist/collector/sources/flow-export-thread.js', here);
  return existsSync(built) ? built : new URL('./flow-export-thread.ts', here);
}

export class FlowExportUdpSource implements RecordSource {
  readonly name: string;
  private readonly reader: DatagramRingReader;
  private readonly mem;
  private worker: Worker | null = null;
  private started: Promise<Array<{ address: string; port: number; recvBufferSize: number }>> | null = null;
  private ingest: FlowExportIngest | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly log: Log;
  private threadExited = false;
  private threadError: Error | null = null;

  constructor(private readonly opts: FlowExportUdpOptions) {
    this.name = opts.name ?? `netflow:${opts.listen.map((l) => l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`).join(',')}`;
    this.mem = datagramRingMemory(opts.ringBytes ?? DATAGRAM_RING_BYTES);
    this.reader = new DatagramRingReader(this.mem);
    this.log = opts.log ?? silentLog;
  }

  /**
   * Binds every socket (on the thread) and resolves with what each got: its port (for port 0)
   * and its effective receive buffer. Rejects when one cannot be bound. Datagrams are queued
   * from here on; run() takes them.
   */
  start(): Promise<Array<{ address: string; port: number; recvBufferSize: number }>> {
    if (this.started) return this.started;
    const asked = this.opts.recvBufferSize ?? DEFAULT_RCVBUF_BYTES;
    const data: FlowExportThreadData = { mem: this.mem, listen: this.opts.listen.map((l) => ({ ...l })), recvBufferSize: asked };
    const entry = threadEntry();
    const w = new Worker(entry, { workerData: data, ...(entry.pathname.endsWith('.js') ? { execArgv: [] } : {}) });
    this.worker = w;
    this.started = new Promise((resolve, reject) => {
      w.once('message', (m: FlowExportThreadReady) => {
        if (!m.ok) { reject(new Error(`${this.name}: cannot listen: ${m.error}`)); return; }
        for (const s of m.sockets) {
          // Linux reports twice what it grants (the rest is its bookkeeping)
          const granted = process.platform === 'linux' ? s.recvBufferSize / 2 : s.recvBufferSize;
          const where = s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
          if (granted < asked) {
            this.log.warn({ listen: where, askedBytes: asked, grantedBytes: granted },
              `NetFlow/IPFIX receive buffer capped by the kernel at ${granted} bytes (asked ${asked}): a burst may be lost; raise it with sysctl -w net.core.rmem_max=${asked} (and in /etc/sysctl.d/ to keep it)`);
          } else {
            this.log.info({ listen: where, recvBufferBytes: granted }, 'NetFlow/IPFIX receiver listening');
          }
        }
        resolve(m.sockets);
      });
      w.once('error', (e) => { this.threadError = e; reject(e); });
      w.once('exit', () => {
        this.threadExited = true;
        this.wake?.();
        reject(new Error(`${this.name}: the receiver thread ended before listening`));
      });
    });
    return this.started;
  }

  async run(onRecord: (r: FlowRecord) => void): Promise<void> {
    await this.start();
    const ingest = this.ingest = new FlowExportIngest(onRecord, this.opts);
    const reader = this.reader;
    let now = Date.now(), lastTick = now;
    const handle = (buf: Buffer, off: number, len: number, addr: string) => ingest.datagram(buf, off, len, addr, now);
    try {
      while (!this.stopped) {
        // the sockets are gone: say so (run ends with an error) rather than wait for nothing
        if (this.threadExited) throw new Error(`${this.name}: the receiver thread ended: ${this.threadError?.message ?? 'no reason given'}`);
        now = Date.now();
        const n = reader.drain(handle, 2048);
        if (now - lastTick >= 250) { ingest.tick(now); lastTick = now; }
        // let timers (the live tick), sinks and signals run between batches
        if (n > 0) await new Promise<void>((r) => setImmediate(r));
        else await Promise.race([reader.waitForData(200), new Promise<void>((r) => { this.wake = r; })]);
      }
      now = Date.now();
      reader.drain(handle);
    } finally {
      ingest.flush();
      await this.close();
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Stops the thread and closes the sockets (run() does it when it ends). */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    if (this.threadExited) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage('stop');
    const t = setTimeout(() => { void w.terminate(); }, 1000);
    await exited;
    clearTimeout(t);
  }

  stats(): RecordSourceStats {
    const s = this.ingest?.stats();
    return {
      datagrams: this.reader.received, records: s?.records ?? 0, drops: this.reader.dropped, refused: s?.refused ?? 0,
      filtered: s?.filtered ?? 0, malformed: s?.malformed ?? 0, lost: s?.lost ?? 0, queue: this.reader.queued(),
    };
  }

  /** Everything the ingest counted (join figures included), for tests and the summary. */
  detail() {
    return this.ingest?.stats() ?? null;
  }
}
