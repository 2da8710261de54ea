// JSON lines sink: one Anomaly object a line (DESIGN.md fields, in order), to a file or stdout.
// Writes go through a stream with back-pressure handled by buffering; close() waits for the drain.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Anomaly, Sink } from '../types.js';
import { orderedAnomaly } from './anomaly-fields.js';

export class JsonlSink implements Sink {
  readonly name = 'jsonl';
  private readonly out: Writable;
  private readonly ownsStream: boolean;
  private pending: string[] = [];
  written = 0;

  /** path: a file (appended to), or "-"/undefined for stdout. */
  constructor(path?: string | Writable) {
    if (path === undefined || path === '-') {
      this.out = process.stdout;
      this.ownsStream = false;
    } else if (typeof path === 'string') {
      this.out = createWriteStream(path, { flags: 'a' }) as WriteStream;
      this.ownsStream = true;
    } else {
      this.out = path;
      this.ownsStream = false;
    }
  }

  anomaly(a: Anomaly): void {
    this.pending.push(JSON.stringify(orderedAnomaly(a)) + '\n');
    if (this.pending.length >= 256) void this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.written += this.pending.length;
    this.pending = [];
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve) => this.out.once('drain', () => resolve()));
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.ownsStream) {
      await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
  }
}
