// Streams a file through one reused chunk buffer so capture parsers read records in place
// with bounded memory: the chunk grows only for a record larger than itself, up to a cap.

import { open, type FileHandle } from 'node:fs/promises';

/** Default chunk size, bytes. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Largest record (pcapng block) the reader will grow its chunk for, bytes. */
export const MAX_RECORD_BYTES = 16 << 20;

export class ChunkReader {
  /** The chunk. Replaced (not resized) when it grows, so re-read it after every need(). */
  buf: Buffer;
  /** Valid bytes are buf[0, end). */
  end = 0;
  /** File offset of buf[0]. */
  base = 0;
  /** Parser's position in buf at its last refill, for progress reporting. */
  pos = 0;
  private fh: FileHandle | undefined;
  private filePos = 0;
  private eof = false;

  constructor(readonly path: string, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, chunkBytes));
  }

  async open(): Promise<void> {
    this.fh = await open(this.path, 'r');
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }

  /** File offset of buf[pos]. */
  offsetOf(pos: number): number {
    return this.base + pos;
  }

  /**
   * Makes buf[p, p + n) valid for the caller's position pos (p = the returned position, which
   * moves when the chunk is compacted). Returns -1 when the file ends before n bytes.
   * n must be <= MAX_RECORD_BYTES (callers check lengths against their caps first).
   */
  async need(pos: number, n: number): Promise<number> {
    if (pos + n <= this.end) return pos;
    if (pos > 0) {
      // Compact: keep the unread tail at the chunk's start so the next read fills the rest.
      this.buf.copy(this.buf, 0, pos, this.end);
      this.base += pos;
      this.end -= pos;
      pos = 0;
    }
    if (n > this.buf.length) {
      let size = this.buf.length;
      while (size < n) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, Math.max(n, MAX_RECORD_BYTES)));
      this.buf.copy(grown, 0, 0, this.end);
      this.buf = grown;
    }
    while (this.end < n && !this.eof) {
      if (!this.fh) throw new Error('ChunkReader: not open');
      const { bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.filePos);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
      this.filePos += bytesRead;
    }
    this.pos = pos;
    return this.end >= n ? pos : -1;
  }

  /** Bytes left in the chunk from pos (the file may hold more). */
  available(pos: number): number {
    return this.end - pos;
  }
}
