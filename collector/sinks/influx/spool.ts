// The on-disk spool of line-protocol batches that could not be delivered: an
// append-only FIFO of segment files, bounded in size, surviving restarts.
//
// Layout: DIR/NNNNNNNNNNNNNNNN.seg (sequence number, oldest first) and DIR/cursor
// ("SEQ OFFSET": where the first unacknowledged record starts). A record is a
// 16-byte header (magic "SWS1", payload length, point count, CRC-32 of length,
// count and payload) and the UTF-8 payload. A torn write after a crash fails the
// length or CRC check; that record and the rest of its segment are skipped and
// counted. A run never appends to a segment an earlier run wrote, so a torn tail
// can only be the end of an old segment.
//
// When full (on-disk bytes would pass maxBytes) new batches are refused, not old
// ones dropped: the oldest batches hold the start of an incident, which is what
// an investigation needs first, and refusing keeps replay a contiguous history.
// The caller counts the refusal; the spool logs once per fill episode.
//
// I/O is synchronous: the spool is touched once per batch (thousands of points),
// never per packet, and sync calls keep append order trivially FIFO.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Log } from '../../types.js';
import { silentLog } from '../../types.js';

const MAGIC = 0x53575331; // "SWS1"
const HEADER = 16;
/** A record larger than this is corrupt, whatever its header says (InfluxDB's default max body is 25 MB). */
const MAX_RECORD = 64 * 1024 * 1024;
const SEG_RE = /^(\d{16})\.seg$/;

export interface SpoolOptions {
  dir: string;
  /** Bound on the spool's bytes on disk (default 256 MB). */
  maxBytes?: number;
  /** A segment is closed when it reaches this size (default maxBytes/8, 64 KB..16 MB). */
  segmentBytes?: number;
  log?: Log;
}

export interface SpoolRecord {
  body: string;
  points: number;
}

export interface SpoolStats {
  /** bytes of segment files on disk, acknowledged head records included. */
  bytes: number;
  /** batches and points not yet acknowledged (estimate for segments written by an earlier run with a torn tail). */
  batches: number;
  points: number;
  /** batches and points refused because the spool was full. */
  refusedBatches: number;
  refusedPoints: number;
  /** records skipped as torn or corrupt. */
  corrupt: number;
  full: boolean;
}

interface Segment {
  seq: number;
  file: string;
  size: number;
  /** unacknowledged records/points in this segment. */
  records: number;
  points: number;
}

function segName(seq: number): string {
  return String(seq).padStart(16, '0') + '.seg';
}

function recordCrc(header: Buffer, payload: Buffer): number {
  return zlib.crc32(payload, zlib.crc32(header.subarray(4, 12)));
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  private readonly log: Log;
  private readonly segments: Segment[] = [];
  private diskBytes = 0;
  private readOffset = 0;
  private tailFd: number | null = null;
  private tailSeg: Segment | null = null;
  private readFd: number | null = null;
  private readFdSeq = -1;
  private peeked: { rec: SpoolRecord; next: number; seq: number } | null = null;
  private refusedBatches = 0;
  private refusedPoints = 0;
  private corrupt = 0;
  private full = false;
  private closed = false;

  private constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this.segmentBytes = opts.segmentBytes
      ?? Math.min(16 * 1024 * 1024, Math.max(64 * 1024, Math.floor(this.maxBytes / 8)));
    this.log = opts.log ?? silentLog;
  }

  /** Opens (creating) the spool directory and picks up what an earlier run left. */
  static open(opts: SpoolOptions): Spool {
    const s = new Spool(opts);
    fs.mkdirSync(s.dir, { recursive: true });
    s.load();
    return s;
  }

  private load(): void {
    let cursorSeq = -1;
    let cursorOff = 0;
    try {
      const m = /^(\d+) (\d+)/.exec(fs.readFileSync(path.join(this.dir, 'cursor'), 'utf8'));
      if (m) { cursorSeq = Number(m[1]); cursorOff = Number(m[2]); }
    } catch { /* no cursor: start at the first segment */ }
    const names = fs.readdirSync(this.dir).filter((n) => SEG_RE.test(n)).sort();
    for (const name of names) {
      const seq = Number(SEG_RE.exec(name)![1]);
      const file = path.join(this.dir, name);
      if (seq < cursorSeq) {
        // acknowledged in full; the crash came between cursor write and unlink
        this.unlink(file);
        continue;
      }
      const size = fs.statSync(file).size;
      const seg: Segment = { seq, file, size, records: 0, points: 0 };
      this.scanCounts(seg, seq === cursorSeq ? Math.min(cursorOff, size) : 0);
      this.segments.push(seg);
      this.diskBytes += size;
    }
    const head = this.segments[0];
    this.readOffset = head && head.seq === cursorSeq ? Math.min(cursorOff, head.size) : 0;
    if (this.segments.length) {
      this.log.info({ dir: this.dir, batches: this.batches, bytes: this.diskBytes },
        'influx spool: replaying batches left by an earlier run');
    }
  }

  /** Counts records and points by walking headers only (CRC is checked on read). */
  private scanCounts(seg: Segment, from: number): void {
    const fd = fs.openSync(seg.file, 'r');
    try {
      const h = Buffer.allocUnsafe(HEADER);
      let off = from;
      while (off + HEADER <= seg.size) {
        if (fs.readSync(fd, h, 0, HEADER, off) !== HEADER) break;
        const len = h.readUInt32LE(4);
        if (h.readUInt32LE(0) !== MAGIC || len > MAX_RECORD || off + HEADER + len > seg.size) break;
        seg.records++;
        seg.points += h.readUInt32LE(8);
        off += HEADER + len;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  get bytes(): number { return this.diskBytes; }

  get batches(): number {
    let n = 0;
    for (const s of this.segments) n += s.records;
    return n;
  }

  get points(): number {
    let n = 0;
    for (const s of this.segments) n += s.points;
    return n;
  }

  get empty(): boolean { return this.batches === 0; }

  stats(): SpoolStats {
    return {
      bytes: this.diskBytes, batches: this.batches, points: this.points,
      refusedBatches: this.refusedBatches, refusedPoints: this.refusedPoints,
      corrupt: this.corrupt, full: this.full,
    };
  }

  /**
   * Appends one batch (line protocol, `points` lines). Returns false, counting
   * the refusal, when the spool is full or the disk write fails.
   */
  append(body: string, points: number): boolean {
    if (this.closed) return false;
    const payload = Buffer.from(body, 'utf8');
    const size = HEADER + payload.length;
    if (this.diskBytes + size > this.maxBytes || payload.length > MAX_RECORD) {
      this.refusedBatches++;
      this.refusedPoints += points;
      if (!this.full) {
        this.full = true;
        this.log.error({ dir: this.dir, maxBytes: this.maxBytes, bytes: this.diskBytes },
          'influx spool full: new points are dropped until InfluxDB takes the backlog');
      }
      return false;
    }
    if (this.tailSeg === null || this.tailSeg.size >= this.segmentBytes) this.rollTail();
    const seg = this.tailSeg!;
    const rec = Buffer.allocUnsafe(size);
    rec.writeUInt32LE(MAGIC, 0);
    rec.writeUInt32LE(payload.length, 4);
    rec.writeUInt32LE(points >>> 0, 8);
    payload.copy(rec, HEADER);
    rec.writeUInt32LE(recordCrc(rec, payload), 12);
    try {
      let done = 0;
      while (done < size) done += fs.writeSync(this.tailFd!, rec, done, size - done, seg.size + done);
    } catch (err) {
      // A partial record may be on disk: isolate it by starting a new segment.
      this.log.error({ err, file: seg.file }, 'influx spool: write failed, batch dropped');
      this.refusedBatches++;
      this.refusedPoints += points;
      try {
        const real = fs.fstatSync(this.tailFd!).size;
        this.diskBytes += real - seg.size;
        seg.size = real;
      } catch { /* keep the old figure */ }
      this.closeTail();
      return false;
    }
    seg.size += size;
    seg.records++;
    seg.points += points;
    this.diskBytes += size;
    return true;
  }

  private rollTail(): void {
    this.closeTail();
    const last = this.segments[this.segments.length - 1];
    const seq = last ? last.seq + 1 : this.nextSeqFromCursor();
    const file = path.join(this.dir, segName(seq));
    this.tailFd = fs.openSync(file, 'w');
    this.tailSeg = { seq, file, size: 0, records: 0, points: 0 };
    this.segments.push(this.tailSeg);
  }

  /** Keeps sequence numbers rising across an emptied spool, so a stale cursor never matches a new segment. */
  private nextSeqFromCursor(): number {
    try {
      const m = /^(\d+) /.exec(fs.readFileSync(path.join(this.dir, 'cursor'), 'utf8'));
      if (m) return Number(m[1]) + 1;
    } catch { /* none */ }
    return 1;
  }

  private closeTail(): void {
    if (this.tailFd !== null) {
      try { fs.closeSync(this.tailFd); } catch { /* already gone */ }
    }
    this.tailFd = null;
    this.tailSeg = null;
  }

  /** The oldest unacknowledged batch, or null when none. Repeated calls return the same batch. */
  peek(): SpoolRecord | null {
    if (this.peeked) return this.peeked.rec;
    for (;;) {
      const head = this.segments[0];
      if (!head) return null;
      if (this.readOffset >= head.size) {
        if (head === this.tailSeg) return null;
        this.dropHead();
        continue;
      }
      const rec = this.readAt(head, this.readOffset);
      if (rec) {
        this.peeked = { rec: { body: rec.body, points: rec.points }, next: rec.next, seq: head.seq };
        return this.peeked.rec;
      }
      // Torn or corrupt: nothing after it in this segment can be trusted to be framed.
      this.corrupt++;
      this.log.warn({ file: head.file, offset: this.readOffset },
        'influx spool: torn or corrupt record, skipping the rest of the segment');
      head.records = 0;
      head.points = 0;
      this.readOffset = head.size;
      if (head === this.tailSeg) this.closeTail();
      this.saveCursor();
    }
  }

  private readAt(seg: Segment, off: number): { body: string; points: number; next: number } | null {
    if (this.readFdSeq !== seg.seq) {
      this.closeReadFd();
      this.readFd = fs.openSync(seg.file, 'r');
      this.readFdSeq = seg.seq;
    }
    const h = Buffer.allocUnsafe(HEADER);
    if (off + HEADER > seg.size || fs.readSync(this.readFd!, h, 0, HEADER, off) !== HEADER) return null;
    const len = h.readUInt32LE(4);
    if (h.readUInt32LE(0) !== MAGIC || len > MAX_RECORD || off + HEADER + len > seg.size) return null;
    const payload = Buffer.allocUnsafe(len);
    if (len > 0 && fs.readSync(this.readFd!, payload, 0, len, off + HEADER) !== len) return null;
    if (recordCrc(h, payload) !== h.readUInt32LE(12)) return null;
    return { body: payload.toString('utf8'), points: h.readUInt32LE(8), next: off + HEADER + len };
  }

  private closeReadFd(): void {
    if (this.readFd !== null) {
      try { fs.closeSync(this.readFd); } catch { /* already gone */ }
    }
    this.readFd = null;
    this.readFdSeq = -1;
  }

  /** Marks the batch returned by peek() delivered (or given up). A segment is removed once all of it is. */
  ack(): void {
    const p = this.peeked;
    if (!p) return;
    this.peeked = null;
    const head = this.segments[0];
    if (!head || head.seq !== p.seq) return;
    this.readOffset = p.next;
    head.records = Math.max(0, head.records - 1);
    head.points = Math.max(0, head.points - p.rec.points);
    if (this.readOffset >= head.size) {
      this.dropHead();
    } else {
      this.saveCursor();
    }
    if (this.full && this.diskBytes < this.maxBytes * 0.9) {
      this.full = false;
      this.log.info({ dir: this.dir, bytes: this.diskBytes }, 'influx spool has room again');
    }
  }

  private dropHead(): void {
    const head = this.segments.shift();
    if (!head) return;
    if (head === this.tailSeg) this.closeTail();
    if (this.readFdSeq === head.seq) this.closeReadFd();
    // Cursor first: a crash before the unlink leaves a segment older than the
    // cursor, which load() deletes; the other order could replay it whole.
    this.readOffset = 0;
    const next = this.segments[0];
    this.writeCursor(next ? next.seq : head.seq, next ? 0 : head.size);
    this.unlink(head.file);
    this.diskBytes -= head.size;
  }

  private saveCursor(): void {
    const head = this.segments[0];
    if (head) this.writeCursor(head.seq, this.readOffset);
  }

  private writeCursor(seq: number, off: number): void {
    const tmp = path.join(this.dir, 'cursor.tmp');
    try {
      fs.writeFileSync(tmp, `${seq} ${off}\n`);
      fs.renameSync(tmp, path.join(this.dir, 'cursor'));
    } catch (err) {
      // Worst case the next run replays acknowledged batches: duplicates InfluxDB overwrites.
      this.log.warn({ err, dir: this.dir }, 'influx spool: cursor not saved');
    }
  }

  private unlink(file: string): void {
    try { fs.unlinkSync(file); } catch { /* already gone */ }
  }

  /** Releases file handles; what is not acknowledged stays on disk for the next run. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.peeked = null;
    this.closeTail();
    this.closeReadFd();
  }
}
