// scan.hosts: one device opens flows to many distinct hosts in a short window. A scan is
// ONE anomaly: raised when the threshold is crossed (count = hosts so far), then every
// further distinct host bumps that aggregate's count, so 60,000 addresses give one record
// with count 60,000. Every opened flow counts (a SYN scan's flows are single packets).

import type { Proto } from '../types.js';
import type { Reporter, Subject } from './anomaly.js';
import { portText, who } from './anomaly.js';
import type { DetectSettings } from './settings.js';
import { addrKey } from '../inventory/addr-key.js';
import type { DetectorDef } from './detector.js';
import { scanDetector } from './scan-detector.js';

interface HostScan {
  windowStart: number;
  last: number;
  /** addrKey()s of the hosts */
  hosts: Set<number | string>;
  /** suppression key of the open scan anomaly; "" while below the threshold. */
  key: string;
}

export class ScanHosts {
  /** by addrKey() of the source */
  private readonly bySrc = new Map<number | string, HostScan>();

  constructor(
    private readonly settings: Pick<DetectSettings, 'scanHostsThreshold' | 'scanHostsWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>,
    private readonly reporter: Reporter,
  ) {}

  private nextSweep = -Infinity;

  /** true when the last observe() raised the scan anomaly (the threshold was crossed). */
  raisedNow = false;

  /**
   * Count one opened flow. Returns the scan's start (ms) when src is scanning after it,
   * else -1; `subject` is only called when an anomaly is raised. srcKey/dstKey are addrKey()
   * of src/dst, for a caller that has them already.
   */
  observe(src: string, dst: string, proto: Proto, dport: number, time: number, subject: () => Subject,
    srcKey: number | string = addrKey(src), dstKey: number | string = addrKey(dst)): number {
    this.raisedNow = false;
    const win = this.settings.scanHostsWindowMs;
    let s = this.bySrc.get(srcKey);
    if (!s) {
      if (this.bySrc.size >= this.settings.scanMaxSources) this.makeRoom(time);
      s = { windowStart: time, last: time, hosts: new Set(), key: '' };
      this.bySrc.set(srcKey, s);
    } else if (s.key === '' ? time - s.windowStart > win : time - s.last > win) {
      // below threshold: a fresh window; scanning: the scan ended (idle for a window)
      s.windowStart = time;
      s.hosts.clear();
      s.key = '';
    }
    if (time > s.last) s.last = time;
    if (s.hosts.has(dstKey)) return s.key ? s.windowStart : -1;
    // beyond the cap new hosts still count, without dedup (documented as "at least")
    if (s.hosts.size < this.settings.scanMaxTargets) s.hosts.add(dstKey);
    if (s.key) {
      if (!this.reporter.bump(s.key, 1, time)) s.key = this.raise(time, subject(), proto, dport, dst, time, 1);
      return s.windowStart;
    }
    if (s.hosts.size >= this.settings.scanHostsThreshold) {
      this.raisedNow = true;
      s.key = this.raise(s.windowStart, subject(), proto, dport, dst, time, s.hosts.size);
      return s.windowStart;
    }
    return -1;
  }

  /** ms the scan of src began, or -1 when src is not scanning now. */
  scanningSince(src: string, time: number): number {
    const s = this.bySrc.get(addrKey(src));
    return s && s.key && time - s.last <= this.settings.scanHostsWindowMs ? s.windowStart : -1;
  }

  /** Forget sources idle for a window (memory stays bounded by activity). */
  tick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.settings.scanHostsWindowMs / 2;
    const win = this.settings.scanHostsWindowMs;
    for (const [k, s] of this.bySrc) if (now - s.last > win) this.bySrc.delete(k);
  }

  get tracked(): number {
    return this.bySrc.size;
  }

  private raise(start: number, sub: Subject, proto: Proto, dport: number, dst: string, time: number, count: number): string {
    const n = this.settings.scanHostsThreshold;
    const secs = Math.round(this.settings.scanHostsWindowMs / 1000);
    return this.reporter.report({
      kind: 'scan.hosts', time: start, lastSeen: time, subject: sub,
      peer: '', peerName: '', peerPort: 0, proto, count,
      rule: 'scanHostsThreshold',
      message: `${who(sub)} opened flows to at least ${n} distinct hosts within ${secs} s (e.g. ${portText(proto, dport)} to ${dst}): it is scanning; isolate it and check it for compromise`,
    });
  }

  /** At the cap: forget idle sources, else the oldest eighth below the threshold (amortised O(1)). */
  private makeRoom(now: number): void {
    const win = this.settings.scanHostsWindowMs;
    for (const [k, s] of this.bySrc) if (now - s.last > win) this.bySrc.delete(k);
    if (this.bySrc.size < this.settings.scanMaxSources) return;
    let n = Math.max(1, this.settings.scanMaxSources >> 3);
    for (const [k, s] of this.bySrc) {
      if (n <= 0) break;
      if (!s.key) { this.bySrc.delete(k); n--; }
    }
    if (this.bySrc.size >= this.settings.scanMaxSources) this.bySrc.delete(this.bySrc.keys().next().value!);
  }

}

export const scanHostsDetector: DetectorDef = scanDetector({
  name: 'scan-hosts', kind: 'scan.hosts', severity: 'high', trackedStat: 'scanHostsTracked',
  make: (ctx) => new ScanHosts(ctx.settings, ctx.reporter),
  since: (scan, src, _dst, time) => scan.scanningSince(src, time),
});
