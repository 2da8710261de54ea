// A minimal classic-pcap writer (little-endian, micro- or nanosecond) for generated test and
// benchmark captures and for saving frames; buffered, synchronous, one file at a time.

import { closeSync, openSync, writeSync } from 'node:fs';

export interface PcapWriterOptions {
  /** LINKTYPE_* of every frame (default 1, Ethernet). */
  linkType?: number;
  /** Snapshot length written in the header, bytes (default 262144). */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nano?: boolean;
  /** Write buffer size, bytes (default 4 MiB). */
  bufferBytes?: number;
}

export class PcapWriter {
  private readonly fd: number;
  private readonly buf: Buffer;
  private used = 0;
  private readonly nano: boolean;
  /** Bytes written to the file so far, header included. */
  written = 0;

  constructor(readonly path: string, opts: PcapWriterOptions = {}) {
    this.nano = opts.nano ?? false;
    this.buf = Buffer.allocUnsafe(Math.max(1 << 16, opts.bufferBytes ?? 4 << 20));
    this.fd = openSync(path, 'w');
    const h = this.buf;
    h.writeUInt32LE(this.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8);
    h.writeUInt32LE(0, 12);
    h.writeUInt32LE(opts.snaplen ?? 262144, 16);
    h.writeUInt32LE(opts.linkType ?? 1, 20);
    this.used = 24;
  }

  /** Appends frame[offset, offset + caplen) captured at tsMs (ms since epoch), wirelen bytes on the wire. */
  write(frame: Uint8Array, offset: number, caplen: number, wirelen: number, tsMs: number): void {
    if (this.used + 16 + caplen > this.buf.length) this.flush();
    if (16 + caplen > this.buf.length) throw new RangeError(`frame of ${caplen} bytes exceeds the writer buffer`);
    const b = this.buf;
    const p = this.used;
    const sec = Math.floor(tsMs / 1000);
    const frac = Math.round((tsMs - sec * 1000) * (this.nano ? 1e6 : 1e3));
    b.writeUInt32LE(sec >>> 0, p);
    b.writeUInt32LE(frac >>> 0, p + 4);
    b.writeUInt32LE(caplen, p + 8);
    b.writeUInt32LE(wirelen, p + 12);
    b.set(frame.subarray(offset, offset + caplen), p + 16);
    this.used = p + 16 + caplen;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.written += this.used;
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
