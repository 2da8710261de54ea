// scan.hosts: one device tries to reach many distinct hosts. Two rules (scan-detector.ts):
//  - fast: connection attempts (bare SYNs) to scanHostsFastThreshold distinct new hosts,
//    none of them a name the device looked up (DNS), within scanHostsFastWindowMs: a sweep
//    of random or neighbouring addresses, caught in its first second or two;
//  - slow: failed attempts (no answer, a RST) to scanHostsThreshold distinct hosts within
//    scanHostsWindowMs, from flow records, however slowly (Zeek's rule).
// A scan is ONE anomaly: raised when a rule fires (count = hosts so far), then every further
// distinct host bumps its count, so 60,000 addresses give one record with count 60,000. The
// scan ends when the device has been quiet for scanHostsWindowMs.

import type { Proto, Text } from '../types.js';
import { textOf } from '../types.js';
import type { Reporter, Subject } from './anomaly.js';
import { portText, who } from './anomaly.js';
import type { DetectSettings } from './settings.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectorDef } from './detector.js';
import { scanDetector } from './scan-detector.js';
import { HostSet, KeySet, PairTable } from './scan-table.js';

type HostSettings = Pick<DetectSettings, 'scanHostsThreshold' | 'scanHostsWindowMs' | 'scanHostsFastThreshold'
  | 'scanHostsFastWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>;

interface HostScan {
  /** last flow or failed attempt (ms) */
  last: number;
  /**
   * addrKey()s of the hosts attempted since seenStart (looked-up ones too, see `named`); once scanning, every host
   * the scan counted. Never walked: a HostSet, 4 to 8 bytes a host.
   */
  seen: HostSet;
  /** how many of `seen` are names the device looked up (not counted) */
  named: number;
  seenStart: number;
  /** fast rule: new hosts attempted since fastStart */
  fastStart: number;
  fastN: number;
  /**
   * slow rule: hosts with a failed attempt since failStart; null until the first. At most
   * scanHostsThreshold (the rule fires there); in the order they failed (startScan walks it).
   */
  failed: KeySet | null;
  failStart: number;
  /** suppression key of the open scan anomaly; "" while not scanning. */
  key: string;
  /** the first flow id a mark may stand for: `seen` was last emptied before it was observed */
  markFrom: number;
  /** the scan's start; the rule that found it */
  start: number;
  rule: string;
}

/** forgotten sources' state kept for reuse */
const SPARE = 64;
/** flow ids the marks cover: the last 2^21 observed (a bit each, 256 kB) */
const MARK_WINDOW = 1 << 21;

export class ScanHosts {
  /** by addrKey() of the source */
  // A PairTable of (source, 0), not a Map: with more scanners than scanMaxSources every flow
  // evicts one source and adds another, and a Map's table rebuilt under that churn left
  // ~100 MB of old-generation garbage per million flows (churn-10k).
  private readonly bySrc: PairTable;
  /** each tracked source's state, by its slot in bySrc */
  private readonly states: (HostScan | null)[] = [];
  private readonly spare: HostScan[] = [];
  /** sources forgotten at scanMaxSources */
  evicted = 0;
  // Marks: a bit per flow id (captured flows), set when observe() left the flow's host in its
  // scanning source's `seen`. When the flow's failed record comes (a sweep's every flow, most of
  // them at the end of a capture), count() would find the host there and do nothing: the mark
  // says so without the look-up, a cache miss per flow in a table of a million hosts. A mark
  // stands only while `seen` was not emptied since the flow was observed (markFrom), for ids
  // within the window of the last observed, and ids observe() never saw are cleared as it passes them.
  // Ids are a flow table's: one per flow, rising in the order flows start; one that does not
  // rise (a table started afresh) takes back its mark and sets none.
  private readonly marks: Int32Array;
  /** flow ids the marks cover (a power of two of at least 32) */
  private readonly window: number;
  /** the highest flow id observe() was given */
  private lastId = 0;
  /** set by count() and the attempt path of observe(): the host is in `seen` now */
  private holds = false;

  /** markWindow: flow ids the marks cover, a power of two (tests make it small to see it wrap) */
  constructor(private readonly settings: HostSettings, private readonly reporter: Reporter, markWindow = MARK_WINDOW) {
    this.bySrc = new PairTable(Math.max(1, settings.scanMaxSources), undefined, 64);
    if (markWindow < 32 || (markWindow & (markWindow - 1)) !== 0) throw new Error('ScanHosts: markWindow must be a power of two of at least 32');
    this.window = markWindow;
    this.marks = new Int32Array(markWindow >>> 5);
  }

  private stateOf(srcKey: number | string): HostScan | undefined {
    const slot = this.bySrc.find(srcKey, 0);
    return slot < 0 ? undefined : this.states[slot]!;
  }

  private forget(slot: number): void {
    const s = this.states[slot]!;
    this.states[slot] = null;
    this.bySrc.remove(slot);
    this.recycle(s);
  }

  private nextSweep = -Infinity;

  /** true when the last observe() or failed() raised the scan anomaly. */
  raisedNow = false;

  /**
   * Count one opened flow. Returns the scan's start (ms) when src is scanning after it,
   * else -1. `attempt`: the first packet was a bare SYN; `named`: dst is a name src looked
   * up; `subject` and `named` are only called when needed. srcKey/dstKey are addrKey() of
   * src/dst, for a caller that has them already.
   */
  observe(src: string, dst: Text, proto: Proto, dport: number, time: number, attempt: boolean,
    subject: () => Subject, named: () => boolean = () => false,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(textOf(dst)), flowId = -1): number {
    this.holds = false;
    const since = this.observeFlow(dst, proto, dport, time, attempt, subject, named, srcKey, dstKey);
    // `since` >= 0: scanning now, and count() (or the attempt path) said whether the host is held
    if (flowId >= 0) this.mark(flowId, since >= 0 && this.holds);
    return since;
  }

  private observeFlow(dst: Text, proto: Proto, dport: number, time: number, attempt: boolean,
    subject: () => Subject, named: () => boolean, srcKey: number | string, dstKey: number | string): number {
    this.raisedNow = false;
    let s = this.stateOf(srcKey);
    if (!s) {
      if (!attempt) return -1;
      s = this.add(srcKey, time);
    } else this.expire(s, time);
    if (time > s.last) s.last = time;
    if (s.key) return this.count(s, dstKey, proto, dport, dst, time, subject);
    if (!attempt) return -1;
    if (time - s.seenStart > this.settings.scanHostsWindowMs) {
      this.emptySeen(s);
      s.seenStart = time;
    }
    if (s.seen.has(dstKey)) return -1;
    const isNamed = named();
    // a looked-up host is remembered too (its next flows cost no DNS look-up), not counted
    if (s.seen.size < this.settings.scanMaxTargets) {
      s.seen.add(dstKey);
      this.holds = true;
      if (isNamed) s.named++;
    }
    if (isNamed) return -1;
    if (time - s.fastStart > this.settings.scanHostsFastWindowMs) {
      s.fastStart = time;
      s.fastN = 0;
    }
    if (++s.fastN < this.settings.scanHostsFastThreshold) return -1;
    this.startScan(s, s.fastStart, 'scanHostsFastThreshold', subject(), proto, dport, dst, time);
    return s.start;
  }

  /** A connection attempt src made at `time` to dst failed (its record arrived at `seen`). */
  failed(src: string, dst: Text, proto: Proto, dport: number, time: number, seen: number, subject: () => Subject,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(textOf(dst)), flowId = -1): void {
    this.raisedNow = false;
    let s = this.stateOf(srcKey);
    if (!s) s = this.add(srcKey, time);
    else this.expire(s, seen);
    if (seen > s.last) s.last = seen;
    if (s.key) {
      // the flow's host went into `seen` when it started, and `seen` was kept since: count() would find it
      if (flowId >= s.markFrom && this.marked(flowId)) return;
      this.count(s, dstKey, proto, dport, dst, seen, subject);
      return;
    }
    if (!s.failed) s.failed = new KeySet();
    if (s.failed.size === 0 || time - s.failStart > this.settings.scanHostsWindowMs) {
      s.failed.clear();
      s.failStart = time;
    }
    if (s.failed.has(dstKey)) return;
    if (s.failed.size < this.settings.scanMaxTargets) s.failed.add(dstKey);
    if (s.failed.size < this.settings.scanHostsThreshold) return;
    // the scan counts the hosts that failed; hosts only tried so far count when they fail or recur
    this.emptySeen(s);
    this.startScan(s, s.failStart, 'scanHostsThreshold', subject(), proto, dport, dst, seen);
  }

  /** ms the scan of src began, or -1 when src is not scanning now. */
  scanningSince(src: string, time: number): number {
    const s = this.stateOf(addrKey(src));
    return s && s.key && time - s.last <= this.settings.scanHostsWindowMs ? s.start : -1;
  }

  /** Forget sources idle for a window (memory stays bounded by activity). */
  tick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.settings.scanHostsWindowMs / 2;
    const win = this.settings.scanHostsWindowMs;
    for (let slot = this.bySrc.head; slot >= 0;) {
      const next = this.bySrc.next(slot);
      if (now - this.states[slot]!.last > win) this.forget(slot);
      slot = next;
    }
  }

  get tracked(): number {
    return this.bySrc.count;
  }

  private add(srcKey: number | string, time: number): HostScan {
    if (this.bySrc.count >= this.bySrc.maxSlots) this.makeRoom(time);
    let s = this.spare.pop();
    if (s) {
      s.last = s.seenStart = s.fastStart = s.failStart = s.start = time;
      this.emptySeen(s);
      s.fastN = 0;
      // an empty failed set is as none: the first failure starts the window either way
      s.failed?.clear();
      s.key = s.rule = '';
    } else s = { last: time, seen: new HostSet(), named: 0, seenStart: time, fastStart: time, fastN: 0, failed: null, failStart: time, key: '', start: time, rule: '', markFrom: this.lastId + 1 };
    this.states[this.bySrc.insert(srcKey, 0)] = s;
    return s;
  }

  /**
   * A forgotten source's state, for the next new one: when sources churn at the cap (more
   * scanners than scanMaxSources) each flow would otherwise allocate typed arrays, and their
   * external memory drives extra mark-compacts.
   */
  private recycle(s: HostScan): void {
    if (this.spare.length < SPARE) this.spare.push(s);
  }

  /** A scan ends when its source was quiet for a window. */
  private expire(s: HostScan, time: number): void {
    if (s.key === '' || time - s.last <= this.settings.scanHostsWindowMs) return;
    s.key = '';
    this.emptySeen(s);
    s.seenStart = time;
    s.fastStart = time;
    s.fastN = 0;
    s.failed?.clear();
  }

  /** `seen` emptied: no mark of a flow observed so far stands for this source any more. */
  private emptySeen(s: HostScan): void {
    s.seen.clear();
    s.named = 0;
    s.markFrom = this.lastId + 1;
  }

  /** Flow `id` was observed; `on`: its host is in its source's `seen`. */
  private mark(id: number, on: boolean): void {
    const m = this.marks, w = this.window;
    if (id > this.lastId) {
      // ids skipped (flows observe() never saw) lose marks left from a window ago
      const from = Math.max(this.lastId + 1, id - w + 1);
      for (let i = from; i < id; i++) m[(i & (w - 1)) >>> 5] &= ~(1 << (i & 31));
      this.lastId = id;
    } else if (id <= this.lastId - w) return;
    else on = false;
    const b = (id & (w - 1)) >>> 5, bit = 1 << (id & 31);
    if (on) m[b] |= bit; else m[b] &= ~bit;
  }

  private marked(id: number): boolean {
    return id <= this.lastId && id > this.lastId - this.window && (this.marks[(id & (this.window - 1)) >>> 5] & (1 << (id & 31))) !== 0;
  }

  /** A flow or failure of a scanning source: a new host raises the scan's count. */
  private count(s: HostScan, dstKey: number | string, proto: Proto, dport: number, dst: Text, time: number, subject: () => Subject): number {
    // beyond the cap new hosts still count, without dedup (documented as "at least")
    this.holds = s.seen.size < this.settings.scanMaxTargets || s.seen.has(dstKey);
    if (s.seen.size < this.settings.scanMaxTargets ? !s.seen.add(dstKey) : this.holds) return s.start;
    if (!this.reporter.bump(s.key, 1, time)) s.key = this.raise(time, s.rule, 1, subject(), proto, dport, dst, time);
    return s.start;
  }

  /** The scan counts (and `seen` holds) the hosts tried in the window and those that failed. */
  private startScan(s: HostScan, start: number, rule: string, sub: Subject, proto: Proto, dport: number, dst: Text, time: number): void {
    this.raisedNow = true;
    s.start = start;
    s.rule = rule;
    if (s.failed) {
      const seen = s.seen, max = this.settings.scanMaxTargets;
      s.failed.forEach((h) => { if (seen.size < max) seen.add(h); });
    }
    s.key = this.raise(start, rule, s.seen.size - s.named, sub, proto, dport, dst, time);
  }

  private raise(start: number, rule: string, count: number, sub: Subject, proto: Proto, dport: number, dst: Text, time: number): string {
    const st = this.settings;
    const e = `e.g. ${portText(proto, dport)} to ${textOf(dst)}`;
    const message = rule === 'scanHostsFastThreshold'
      ? `${who(sub)} tried to connect to ${st.scanHostsFastThreshold} distinct hosts it had not looked up within ${secs(st.scanHostsFastWindowMs)} (${e}): it is scanning; isolate it and check it for compromise`
      : `${who(sub)} failed to connect (no answer or reset) to at least ${st.scanHostsThreshold} distinct hosts within ${secs(st.scanHostsWindowMs)} (${e}): it is scanning; isolate it and check it for compromise`;
    return this.reporter.report({
      kind: 'scan.hosts', time: start, lastSeen: time, subject: sub,
      peer: '', peerName: '', peerPort: 0, proto, count, rule, message,
    });
  }

  /**
   * At the cap: the sources at the front that were idle for a window go first (expired, not
   * counted); if that made room, done. Else one source is forgotten and counted: the first
   * tracked that is not scanning now, looking at most 8 deep (scanning ones looked at go to the
   * back); when all of those are scanning, the first of them all the same. O(1) amortised.
   */
  private makeRoom(now: number): void {
    const t = this.bySrc, win = this.settings.scanHostsWindowMs, cap = t.maxSlots;
    const limit = Math.min(8, t.count);
    // the first scanning source looked at is held at the back and goes back there last: the
    // candidate is the front one, or the one after it when the front is that held source
    let held = -1;
    let looked = 0;
    for (;;) {
      const slot = t.head === held && held >= 0 ? t.next(held) : t.head;
      if (slot < 0) break;
      const s = this.states[slot]!;
      const idle = now - s.last > win;
      if (looked === 0 && held < 0) {
        if (idle) {
          this.forget(slot);
          continue;
        }
        if (t.count < cap) { t.moveToBack(slot); return; }
      }
      if (!s.key || idle) { this.evicted++; this.forget(slot); break; }
      looked++;
      if (held < 0) held = slot;
      t.moveToBack(slot);
      if (looked >= limit) { this.forget(held); held = -1; this.evicted++; break; }
    }
    if (held >= 0) t.moveToBack(held);
  }
}

/** "2 s", "5 min" */
export function secs(ms: number): string {
  return ms >= 120_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`;
}

export const scanHostsDetector: DetectorDef = scanDetector({
  name: 'scan-hosts', kind: 'scan.hosts', severity: 'high', trackedStat: 'scanHostsTracked', evictedStat: 'scanHostsEvicted',
  make: (ctx) => new ScanHosts(ctx.settings, ctx.reporter),
  since: (scan, src, _dst, time) => scan.scanningSince(src, time),
});
