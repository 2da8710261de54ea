// Reads a FIFO or pipe through the event loop (epoll), never by a read blocked on a thread.
// A read of a quiet FIFO waits for its writer: on libuv's pool that read holds a pool thread
// that nothing can interrupt, and process.exit() joins the pool's threads, so a collector told
// to stop while the writer kept the FIFO open flushed everything and then never exited.
// Opened non-blocking, the open does not wait for a writer either; epoll reports nothing until
// a writer has come, so a reader that opens first waits for it instead of seeing an empty file.

import { constants, open as openCb } from 'node:fs';
import { Socket } from 'node:net';

export interface PipeReadResult { bytesRead: number }

/** Opens `path` (a FIFO, or /dev/stdin on a pipe) for reading without blocking. */
export function openPipe(path: string): Promise<PipeReader> {
  return new Promise((resolve, reject) => {
    openCb(path, constants.O_RDONLY | constants.O_NONBLOCK, (err, fd) => {
      if (err) { reject(err); return; }
      try {
        resolve(new PipeReader(fd));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/**
 * Pull-style reads of a pipe into the caller's buffer, for ChunkReader. A read resolves with
 * what is there (at least one byte), or 0 once the writer has closed or destroy() was called.
 */
export class PipeReader {
  private readonly socket: Socket;
  /** Bytes taken from the socket and not yet copied out: pending[pendingOff, ...). */
  private pending: Buffer | null = null;
  private pendingOff = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | null = null;

  constructor(fd: number) {
    // owns fd from here: destroy() closes it
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.pause();
    const wake = () => { const w = this.wake; this.wake = null; w?.(); };
    this.socket.on('readable', wake);
    this.socket.on('end', () => { this.ended = true; wake(); });
    this.socket.on('close', () => { this.ended = true; wake(); });
    this.socket.on('error', (e) => { this.failure = e; wake(); });
  }

  async read(buf: Buffer, off: number, len: number): Promise<PipeReadResult> {
    for (;;) {
      if (!this.pending) {
        const chunk = this.socket.destroyed ? null : (this.socket.read() as Buffer | null);
        if (chunk) { this.pending = chunk; this.pendingOff = 0; }
      }
      const p = this.pending;
      if (p) {
        const n = p.copy(buf, off, this.pendingOff, this.pendingOff + Math.min(len, p.length - this.pendingOff));
        this.pendingOff += n;
        if (this.pendingOff >= p.length) this.pending = null;
        return { bytesRead: n };
      }
      if (this.failure) throw this.failure;
      if (this.ended || this.socket.destroyed) return { bytesRead: 0 };
      await new Promise<void>((r) => { this.wake = r; });
    }
  }

  /** Closes the pipe: a read waiting for the writer resolves with 0 (the end of the input). */
  destroy(): void {
    this.ended = true;
    this.pending = null;
    this.socket.destroy();
    const w = this.wake; this.wake = null; w?.();
  }
}
