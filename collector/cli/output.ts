// Buffered line output to stdout or a file, so a big flow listing is not one write() per line.

import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

export interface LineWriter {
  line(s: string): void;
  text(s: string): void;
  /** Bytes the caller will not touch again, after what is buffered. */
  chunk(b: Buffer): void;
  close(): Promise<void>;
}

export function writeLines(path?: string): LineWriter {
  const stream: Writable = path && path !== '-' ? createWriteStream(path) : process.stdout;
  let buf: string[] = [];
  let size = 0;
  const spill = () => {
    if (buf.length) stream.write(buf.join(''));
    buf = [];
    size = 0;
  };
  return {
    line(s: string) {
      buf.push(s, '\n');
      size += s.length + 1;
      if (size > 1 << 16) spill();
    },
    text(s: string) {
      buf.push(s);
      spill();
    },
    chunk(b: Buffer) {
      spill();
      stream.write(b);
    },
    async close() {
      spill();
      if (stream !== process.stdout) await new Promise<void>((r) => stream.end(() => r()));
      else await new Promise<void>((r) => (stream.write('') ? r() : stream.once('drain', () => r())));
    },
  };
}
