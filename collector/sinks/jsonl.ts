// JSON lines sink: one Anomaly object a line (DESIGN.md fields, in order), to a file or stdout.
// Two modes, as DESIGN.md's lifecycle asks:
// - 'lifecycle' (`run --out`): a line when an anomaly opens and one when it closes (same id);
// - 'final' (`replay`): one line per anomaly in its final state, sorted by first packet,
//   written when the input has ended.
// Writes go through a stream with back-pressure handled by buffering; close() waits for the drain.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Anomaly, AnomalyEvent, Sink } from '../types.js';
import { orderedAnomaly } from './anomaly-fields.js';

export type JsonlMode = 'lifecycle' | 'final';

export class JsonlSink implements Sink {
  readonly name = 'jsonl';
  private readonly out: Writable;
  private readonly ownsStream: boolean;
  private pending: string[] = [];
  /** final mode: closed anomalies, until close() sorts and writes them */
  private finals: Anomaly[] = [];
  private draining: Promise<void> | null = null;
  written = 0;
  /** `run --out` writes openings and closings; `replay` only the final state */
  readonly anomalyEvents: readonly AnomalyEvent[];

  /** path: a file (appended to), or "-"/undefined for stdout. */
  constructor(path?: string | Writable, private readonly mode: JsonlMode = 'lifecycle') {
    this.anomalyEvents = mode === 'final' ? ['closed'] : ['opened', 'closed'];
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

  anomaly(a: Anomaly, event: AnomalyEvent): void {
    if (this.mode === 'final') {
      if (event === 'closed') this.finals.push(a);
      return;
    }
    if (event === 'updated') return;
    this.pending.push(JSON.stringify(orderedAnomaly(a)) + '\n');
    // an opening is news: out now, not when 256 have gathered (a burst still shares a write)
    if (this.pending.length === 1) queueMicrotask(() => void this.flush());
  }

  async flush(): Promise<void> {
    // one wait for 'drain' at a time, however many flushes are waiting on it
    while (this.draining) await this.draining;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.written += this.pending.length;
    this.pending = [];
    if (!this.out.write(chunk)) {
      this.draining = new Promise<void>((resolve) => this.out.once('drain', () => { this.draining = null; resolve(); }));
      await this.draining;
    }
  }

  async close(): Promise<void> {
    if (this.finals.length) {
      // stable: anomalies of the same first packet keep the order they closed in
      const sorted = this.finals.map((a, i) => ({ a, i, t: Date.parse(a.firstSeen) }))
        .sort((x, y) => x.t - y.t || x.i - y.i);
      for (const { a } of sorted) this.pending.push(JSON.stringify(orderedAnomaly(a)) + '\n');
      this.finals = [];
    }
    await this.flush();
    if (this.ownsStream) {
      await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
  }
}
