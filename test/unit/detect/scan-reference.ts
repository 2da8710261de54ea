// ScanHosts and ScanPorts as they were before they were keyed by addrKey(): the models the new ones must match.
// (Copied from collector/detect/scan-hosts.ts and scan-ports.ts at fd036b9; imports adjusted, renamed.)

import type { Proto } from '../../../collector/types.js';
import type { Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { portText, who } from '../../../collector/detect/anomaly.js';
import type { DetectSettings } from '../../../collector/detect/settings.js';
interface HostScan {
  windowStart: number;
  last: number;
  hosts: Set<string>;
  /** suppression key of the open scan anomaly; "" while below the threshold. */
  key: string;
}

export class ReferenceScanHosts {
  private readonly bySrc = new Map<string, HostScan>();

  constructor(
    private readonly settings: Pick<DetectSettings, 'scanHostsThreshold' | 'scanHostsWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>,
    private readonly reporter: Reporter,
  ) {}

  private nextSweep = -Infinity;

  /** true when the last observe() raised the scan anomaly (the threshold was crossed). */
  raisedNow = false;

  /**
   * Count one opened flow. Returns the scan's start (ms) when src is scanning after it,
   * else -1; `subject` is only called when an anomaly is raised.
   */
  observe(src: string, dst: string, proto: Proto, dport: number, time: number, subject: () => Subject): number {
    this.raisedNow = false;
    const win = this.settings.scanHostsWindowMs;
    let s = this.bySrc.get(src);
    if (!s) {
      if (this.bySrc.size >= this.settings.scanMaxSources) this.makeRoom(time);
      s = { windowStart: time, last: time, hosts: new Set(), key: '' };
      this.bySrc.set(src, s);
    } else if (s.key === '' ? time - s.windowStart > win : time - s.last > win) {
      // below threshold: a fresh window; scanning: the scan ended (idle for a window)
      s.windowStart = time;
      s.hosts.clear();
      s.key = '';
    }
    if (time > s.last) s.last = time;
    if (s.hosts.has(dst)) return s.key ? s.windowStart : -1;
    // beyond the cap new hosts still count, without dedup (documented as "at least")
    if (s.hosts.size < this.settings.scanMaxTargets) s.hosts.add(dst);
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
    const s = this.bySrc.get(src);
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
    if (this.bySrc.size >= this.settings.scanMaxSources) this.bySrc.delete(this.bySrc.keys().next().value as string);
  }

}
interface PortScan {
  windowStart: number;
  last: number;
  /** the first port, kept without a Set: most pairs never see a second one. */
  firstPort: number;
  ports: Set<number> | null;
  key: string;
}

export class ReferenceScanPorts {
  private readonly pairs = new Map<string, PortScan>();
  private readonly maxPairs: number;

  constructor(
    private readonly settings: Pick<DetectSettings, 'scanPortsThreshold' | 'scanPortsWindowMs' | 'scanMaxSources' | 'scanMaxTargets'>,
    private readonly reporter: Reporter,
  ) {
    // 16 targets per tracked source on average; a host sweep touches many pairs once each
    this.maxPairs = settings.scanMaxSources * 16;
  }

  private nextSweep = -Infinity;

  /** true when the last observe() raised the scan anomaly (the threshold was crossed). */
  raisedNow = false;

  /** Count one opened flow; returns the scan's start when src is port-scanning dst, else -1. */
  observe(src: string, dst: string, proto: Proto, dport: number, time: number, subject: () => Subject): number {
    this.raisedNow = false;
    const win = this.settings.scanPortsWindowMs;
    const pk = src + ' ' + dst;
    let s = this.pairs.get(pk);
    if (!s) {
      if (this.pairs.size >= this.maxPairs) this.makeRoom(time);
      s = { windowStart: time, last: time, firstPort: dport, ports: null, key: '' };
      this.pairs.set(pk, s);
      return -1;
    }
    if (s.key === '' ? time - s.windowStart > win : time - s.last > win) {
      s.windowStart = time;
      s.firstPort = dport;
      s.ports = null;
      s.key = '';
      return -1;
    }
    if (time > s.last) s.last = time;
    if (dport === s.firstPort) return s.key ? s.windowStart : -1;
    if (!s.ports) s.ports = new Set([s.firstPort]);
    if (s.ports.has(dport)) return s.key ? s.windowStart : -1;
    if (s.ports.size < this.settings.scanMaxTargets) s.ports.add(dport);
    if (s.key) {
      if (!this.reporter.bump(s.key, 1, time)) s.key = this.raise(time, subject(), dst, proto, time, 1);
      return s.windowStart;
    }
    if (s.ports.size >= this.settings.scanPortsThreshold) {
      this.raisedNow = true;
      s.key = this.raise(s.windowStart, subject(), dst, proto, time, s.ports.size);
      return s.windowStart;
    }
    return -1;
  }

  scanningSince(src: string, dst: string, time: number): number {
    const s = this.pairs.get(src + ' ' + dst);
    return s && s.key && time - s.last <= this.settings.scanPortsWindowMs ? s.windowStart : -1;
  }

  tick(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.settings.scanPortsWindowMs / 2;
    const win = this.settings.scanPortsWindowMs;
    for (const [k, s] of this.pairs) if (now - s.last > win) this.pairs.delete(k);
  }

  /**
   * At the cap: forget idle pairs, else the oldest eighth (a sweep of one address each
   * touches many pairs once). Deleting in batches keeps this O(1) per flow amortised.
   */
  private makeRoom(now: number): void {
    const win = this.settings.scanPortsWindowMs;
    for (const [k, s] of this.pairs) if (now - s.last > win) this.pairs.delete(k);
    if (this.pairs.size < this.maxPairs) return;
    let n = Math.max(1, this.maxPairs >> 3);
    for (const [k, s] of this.pairs) {
      if (n <= 0) break;
      if (!s.key) { this.pairs.delete(k); n--; }
    }
    if (this.pairs.size >= this.maxPairs) this.pairs.delete(this.pairs.keys().next().value as string);
  }

  get tracked(): number {
    return this.pairs.size;
  }

  private raise(start: number, sub: Subject, dst: string, proto: Proto, time: number, count: number): string {
    const n = this.settings.scanPortsThreshold;
    const secs = Math.round(this.settings.scanPortsWindowMs / 1000);
    return this.reporter.report({
      kind: 'scan.ports', time: start, lastSeen: time, subject: sub,
      peer: dst, peerName: '', peerPort: 0, proto, count,
      rule: 'scanPortsThreshold',
      message: `${who(sub)} opened flows to at least ${n} distinct ports of ${dst} within ${secs} s: it is port-scanning; isolate it and check it for compromise`,
    });
  }
}
