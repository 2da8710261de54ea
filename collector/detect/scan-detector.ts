// What scan.hosts and scan.ports share as detectors: each counts every flow a device opens
// to a host (not a group address) and, once the device is scanning, stands for the flow
// (it sets `consumed`, so no per-flow finding follows it).

import type { Proto } from '../types.js';
import type { Subject } from './anomaly.js';
import type { DetectContext, Detector, DetectorDef, JudgedFlow } from './detector.js';
import type { Severity } from '../types.js';

export interface ScanCounter {
  /** the scan's start when src is scanning after this flow, else -1; subject() only when it raises. */
  observe(src: string, dst: string, proto: Proto, dport: number, time: number, subject: () => Subject,
    srcKey: number | string, dstKey: number | string): number;
  tick(now: number): void;
  readonly tracked: number;
}

export function scanDetector<C extends ScanCounter>(o: {
  name: string;
  kind: string;
  severity: Severity;
  make: (ctx: DetectContext) => C;
  since: (scan: C, src: string, dst: string, time: number) => number;
  trackedStat: string;
}): DetectorDef {
  return {
    name: o.name,
    kinds: { [o.kind]: o.severity },
    create(ctx): Detector {
      const scan = o.make(ctx);
      // the scanner as anomaly fields, asked only when the scan is raised (during observe)
      let j: JudgedFlow | null = null;
      const subject = () => ctx.subject(j!.policy, j!.f.src, j!.f.srcMac, j!.srcWatched);
      return {
        flowStart(jf) {
          if (jf.group) return;
          j = jf;
          const f = jf.f;
          if (scan.observe(f.src, f.dst, f.proto, f.dport, f.time, subject, jf.srcKey, jf.dstKey) >= 0) jf.consumed = true;
          j = null;
        },
        scanningSince: (src, dst, time) => o.since(scan, src, dst, time),
        tick: (now) => scan.tick(now),
        stats: () => ({ [o.trackedStat]: scan.tracked }),
      };
    },
  };
}
