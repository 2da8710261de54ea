// The capture-file FrameSource: opens a pcap or pcapng file (told apart by its magic number,
// never its name) and streams its frames through one reused chunk with bounded memory.

import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { CaptureError, type FrameHandler, type FrameStamp, type FrameSource, type SourceStats } from './source.js';
import { ChunkReader, DEFAULT_CHUNK_BYTES } from './chunk-reader.js';
import { classicKind, readClassicPcap, type ReadState } from './pcap-classic.js';
import { PCAPNG_MAGIC, readPcapng } from './pcapng.js';

export interface CaptureOptions {
  /** Read chunk size, bytes (default 1 MiB); grows for a larger record up to 16 MiB. */
  chunkBytes?: number;
  /** Read on the calling thread (see ChunkReader): for the decode thread. */
  syncReads?: boolean;
}

export type CaptureFormat = 'pcap' | 'pcapng';

export class PcapFileSource implements FrameSource {
  readonly name: string;
  private readonly st: ReadState = { stopped: false, packets: 0, bytes: 0 };
  private reader: ChunkReader | undefined;
  private fileSize = -1;
  private fmt: CaptureFormat | undefined;
  private started = false;

  constructor(readonly path: string, private readonly opts: CaptureOptions = {}) {
    this.name = `file:${basename(path)}`;
    try {
      this.fileSize = statSync(path).size;
    } catch {
      // run() reports the missing or unreadable file.
    }
  }

  /** Delivers every frame; with a stamp, each frame's timestamp goes there and ts is 0 (see FrameStamp). */
  async run(onFrame: FrameHandler, stamp?: FrameStamp): Promise<void> {
    if (this.started) throw new Error(`${this.name}: run() may be called once`);
    this.started = true;
    const file = this.path;
    const r = new ChunkReader(file, this.opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, this.opts.syncReads);
    try {
      await r.open();
    } catch (e) {
      throw new CaptureError(file, 0, 'open', `cannot open: ${(e as Error).message}`);
    }
    this.reader = r;
    if (this.st.stopped) r.abort();
    try {
      const p = await r.need(0, 4);
      if (p < 0) {
        if (r.end === 0) throw new CaptureError(file, 0, 'empty', 'empty file');
        throw new CaptureError(file, 0, 'truncated_header', `file of ${r.end} bytes is too short for a capture header`);
      }
      const magic = r.buf.readUInt32LE(0);
      if (magic === PCAPNG_MAGIC) {
        this.fmt = 'pcapng';
        await readPcapng(r, file, this.st, onFrame, stamp);
      } else if (classicKind(magic)) {
        this.fmt = 'pcap';
        await readClassicPcap(r, file, this.st, onFrame, stamp);
      } else {
        throw new CaptureError(file, 0, 'bad_magic', `not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, '0')})`);
      }
    } catch (e) {
      // a stop ends a pipe's input wherever it is, mid-record or before the header: not a fault
      if (!(this.st.stopped && e instanceof CaptureError)) throw e;
    } finally {
      await r.close();
    }
  }

  /**
   * Stops delivery after the current frame; run() then resolves, at once also when a FIFO's
   * writer is quiet (its wait for data ends).
   */
  stop(): void {
    this.st.stopped = true;
    this.reader?.abort();
  }

  stats(): SourceStats {
    return { packets: this.st.packets, bytes: this.st.bytes, drops: 0, ifDrops: 0 };
  }

  /** Bytes of the file consumed so far (updated once per chunk), for a progress bar. */
  position(): number {
    const r = this.reader;
    return r ? r.offsetOf(r.pos) : 0;
  }

  /** File size in bytes at open, 0 when it could not be read. */
  size(): number {
    return Math.max(0, this.fileSize);
  }

  /** The file's format once run() has read its magic number. */
  format(): CaptureFormat | undefined {
    return this.fmt;
  }
}

/** The FrameSource for a pcap or pcapng file. Errors (missing file included) surface from run(). */
export function openCapture(path: string, opts?: CaptureOptions): PcapFileSource {
  return new PcapFileSource(path, opts);
}
