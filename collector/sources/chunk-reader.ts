// Streams a file through two reused chunk buffers so capture parsers read records in place
// with bounded memory, while the next chunk's read is already in flight (read-ahead). A pipe
// or FIFO (`tcpdump -w - | segwatch run --capture /dev/stdin`) is read in order, waiting for
// its writer; it ends when the writer closes it, or at abort(). A FIFO is read through the event
// loop (pipe-read.ts), never by a read blocked on a thread, so a stop is never stuck behind it.

import { readSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { openPipe, type PipeReader } from './pipe-read.js';

/** Default chunk size, bytes. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Largest record (pcapng block) the reader will grow its chunk for, bytes. */
export const MAX_RECORD_BYTES = 16 << 20;
/**
 * Room left in front of each read-ahead for the current chunk's unread tail (a partial record),
 * bytes: covers any 64 KiB frame with its record header; a longer tail takes the slow path.
 */
const MAX_RESERVE_BYTES = 128 << 10;

type ReadResult = { bytesRead: number };

const ignore = (): void => {};

export class ChunkReader {
  /** The chunk. Replaced (not resized) when it grows or the read-ahead is taken, so re-read it after every need(). */
  buf: Buffer;
  /** Valid bytes are buf[0, end); the caller's data starts at the position need() returned. */
  end = 0;
  /** File offset of buf[0]. */
  base = 0;
  /** Parser's position in buf at its last refill, for progress reporting. */
  pos = 0;
  private fh: FileHandle | undefined;
  /** Instead of fh for a FIFO (or /dev/stdin on a pipe). */
  private pipe: PipeReader | undefined;
  /** File offset of buf[end]. */
  private filePos = 0;
  private eof = false;
  /**
   * Read position for the next read: the file offset for a regular file; null (the descriptor's
   * own position) for a pipe, FIFO or character device, which cannot read at an offset. Their
   * reads come back short whenever the writer has written less, so only a read of 0 is the end.
   */
  private seekable = true;
  /** The second buffer: the read-ahead's target, allocated with the first read-ahead. */
  private spare: Buffer | undefined;
  /** The read in flight into spare[reserve, ...) from file offset filePos, if any. */
  private ahead: Promise<ReadResult> | undefined;
  private aheadLen = 0;
  private readonly reserve: number;

  /**
   * syncReads: read on the calling thread instead of libuv's pool. For a thread that does nothing
   * but read and decode (the decode thread): its reads then cost no hand-off to a third thread,
   * which on a two-core machine took CPU time from the two threads doing the work.
   */
  constructor(readonly path: string, chunkBytes = DEFAULT_CHUNK_BYTES, private readonly syncReads = false) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, chunkBytes));
    this.reserve = Math.min(MAX_RESERVE_BYTES, this.buf.length >> 2);
  }

  async open(): Promise<void> {
    // stat follows /dev/stdin to the pipe behind it; a file that is not there fails in open()
    const isFifo = await stat(this.path).then((s) => s.isFIFO(), () => false);
    if (isFifo) {
      this.pipe = await openPipe(this.path);
      this.seekable = false;
      return;
    }
    this.fh = await open(this.path, 'r');
    try {
      this.seekable = (await this.fh.stat()).isFile();
    } catch (e) {
      await this.fh.close();
      this.fh = undefined;
      throw e;
    }
  }

  private at(filePos: number): number | null {
    return this.seekable ? filePos : null;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    this.abort();
    // The read-ahead must land before its file handle closes; its outcome no longer matters.
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead) await ahead.catch(ignore);
    if (fh) await fh.close();
  }

  /**
   * Ends the input of a pipe now: a read waiting for its writer resolves as the end of the
   * input (need() returns -1). For a stop; a regular file's reads end by themselves.
   */
  abort(): void {
    const pipe = this.pipe;
    if (!pipe) return;
    this.pipe = undefined;
    this.eof = true;
    pipe.destroy();
  }

  /** File offset of buf[pos]. */
  offsetOf(pos: number): number {
    return this.base + pos;
  }

  /**
   * Makes buf[p, p + n) valid for the caller's position pos (p = the returned position, which
   * moves when the chunk is compacted or swapped). Returns -1 when the file ends before n bytes,
   * leaving the unread tail at buf[this.pos, end).
   * n must be <= MAX_RECORD_BYTES (callers check lengths against their caps first).
   */
  async need(pos: number, n: number): Promise<number> {
    if (pos + n <= this.end) return pos;
    const tail = this.end - pos;
    if (this.ahead) {
      const { bytesRead } = await this.takeAhead();
      if (bytesRead === 0) this.eof = true;
      else if (tail <= this.reserve) {
        // Fast path: put the tail just in front of the read-ahead's bytes and swap buffers.
        const next = this.spare as Buffer;
        const start = this.reserve - tail;
        this.buf.copy(next, start, pos, this.end);
        this.spare = this.buf;
        this.buf = next;
        this.base = this.filePos - this.reserve;
        this.end = this.reserve + bytesRead;
        this.filePos += bytesRead;
        pos = start;
        if (pos + n <= this.end) {
          // A short read means end of file for a regular file; the slow path confirms it.
          if (bytesRead === this.aheadLen) this.readAhead();
          this.pos = pos;
          return pos;
        }
        // Still short (a record larger than the chunk, or the end of the file): the slow path
        // reads on and starts the next read-ahead after it, so the two never cover one range.
      } else {
        // The tail does not fit the reserve: compact, then keep what fits of the read-ahead.
        pos = this.compact(pos, n);
        const take = Math.min(bytesRead, this.buf.length - this.end);
        (this.spare as Buffer).copy(this.buf, this.end, this.reserve, this.reserve + take);
        this.end += take;
        this.filePos += take;
      }
    }
    pos = this.compact(pos, n);
    let full = true;
    while (this.end < n && !this.eof) {
      const want = this.buf.length - this.end;
      const { bytesRead } = await this.read(this.buf, this.end, want, this.filePos);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
      this.filePos += bytesRead;
      full = bytesRead === want;
    }
    if (full && !this.eof && !this.ahead) this.readAhead();
    this.pos = pos;
    return this.end - pos >= n ? pos : -1;
  }

  /** Bytes left in the chunk from pos (the file may hold more). */
  available(pos: number): number {
    return this.end - pos;
  }

  /** Moves buf[pos, end) to the chunk's start, growing the chunk to hold n bytes; returns 0. */
  private compact(pos: number, n: number): number {
    if (pos > 0) {
      this.buf.copy(this.buf, 0, pos, this.end);
      this.base += pos;
      this.end -= pos;
    }
    if (n > this.buf.length) {
      let size = this.buf.length;
      while (size < n) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, Math.max(n, MAX_RECORD_BYTES)));
      this.buf.copy(grown, 0, 0, this.end);
      this.buf = grown;
    }
    return 0;
  }

  /** Starts reading the bytes after buf[end) into spare[reserve, ...). */
  private readAhead(): void {
    if (!this.fh && !this.pipe) return;
    const spare = this.spare ?? (this.spare = Buffer.allocUnsafe(this.buf.length));
    this.aheadLen = spare.length - this.reserve;
    const p = this.read(spare, this.reserve, this.aheadLen, this.filePos);
    // Awaited later (need() or close()); until then a failure must not count as unhandled.
    p.catch(ignore);
    this.ahead = p;
  }

  /**
   * One read into b[off, off + len) from file offset filePos. A pipe's never blocks a thread
   * (syncReads does not apply: a sync read of a quiet FIFO could not be interrupted).
   */
  private read(b: Buffer, off: number, len: number, filePos: number): Promise<ReadResult> {
    if (this.pipe) return this.pipe.read(b, off, len);
    if (!this.fh) return this.eof ? Promise.resolve({ bytesRead: 0 }) : Promise.reject(new Error('ChunkReader: not open'));
    return this.syncReads ? this.readNow(b, off, len, filePos) : this.fh.read(b, off, len, this.at(filePos));
  }

  /** A read done now, as the settled promise an asynchronous read-ahead would give later. */
  private readNow(b: Buffer, off: number, len: number, filePos: number): Promise<ReadResult> {
    try {
      return Promise.resolve({ bytesRead: readSync((this.fh as FileHandle).fd, b, off, len, this.at(filePos)) });
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private takeAhead(): Promise<ReadResult> {
    const p = this.ahead as Promise<ReadResult>;
    this.ahead = undefined;
    return p;
  }
}
