// What `segwatch learn` (and `run --learn-for`) watches: every judged flow's opener and peer,
// the names the peer had for that device (DNS answers it got, TLS SNI, HTTP Host) and the
// bytes each device moved. It is a detector that reports nothing: the engine hands it the
// same oriented flows the allowlist judges, so what is learned is what would be judged.
// It only counts; turning what it saw into rules is generalise.ts's job.

import type { FlowRecord, Proto } from '../types.js';
import type { DetectContext, Detector, DetectorDef, JudgedFlow } from '../detect/detector.js';
import { Oldest } from '../oldest.js';

/** How often and when something was seen. */
export interface Seen {
  count: number;
  /** ms since epoch of the first and last flow. */
  first: number;
  last: number;
}

/** Flows a device opened to one peer's port. */
export interface OutObs extends Seen {
  proto: Proto;
  dst: string;
  dport: number;
  /** names the device had for dst from DNS answers. */
  dns: Set<string>;
  /** TLS SNI or HTTP Host the device sent to dst. */
  sni: Set<string>;
}

/** Flows others opened to one of the device's ports. */
export interface InObs extends Seen {
  proto: Proto;
  src: string;
  /** the device's own port. */
  dport: number;
}

export interface DeviceObs {
  /** MAC, else IP (DESIGN.md: one device, one identity). */
  key: string;
  mac: string;
  /** addresses the device used, first one first. */
  ips: string[];
  vlan: number;
  out: Map<string, OutObs>;
  in: Map<string, InObs>;
  /** bytes (both directions) per BUCKET_MS bucket of record end time. */
  buckets: Map<number, number>;
  first: number;
  last: number;
  /** observations not kept because the device had MAX_OBS already. */
  overflow: number;
}

export const BUCKET_MS = 5 * 60_000;
/** devices and observations per device kept: a bound on memory whatever the traffic. */
const MAX_DEVICES = 4096;
const MAX_OBS = 4096;
/** flows whose later SNI or bytes are still expected. */
const MAX_OPEN = 65_536;

export interface LearnerCounters {
  flows: number;
  /** flows a scan detector stands for: a scan is never learned as normal. */
  scans: number;
  devicesDropped: number;
}

export class Learner {
  private readonly byKey = new Map<string, DeviceObs>();
  /** flow id -> the outbound observation it counted, for a TLS SNI that arrives later. */
  private readonly open = new Map<number, OutObs>();
  private readonly openOldest = new Oldest(this.open);
  readonly counters: LearnerCounters = { flows: 0, scans: 0, devicesDropped: 0 };

  /** The detector that feeds this learner; add it after the registry's (scans mark their flows first). */
  detector(): DetectorDef {
    return { name: 'learn', kinds: {}, create: (ctx) => this.attach(ctx) };
  }

  devices(): DeviceObs[] {
    return [...this.byKey.values()];
  }

  /** One device's observations, or undefined. */
  device(key: string): DeviceObs | undefined {
    return this.byKey.get(key);
  }

  /** Forget a device (its learning ended and was written out). */
  forget(key: string): void {
    this.byKey.delete(key);
  }

  /** Put back what an earlier run saw (state database). */
  restore(d: DeviceObs): void {
    this.byKey.set(d.key, d);
  }

  private attach(ctx: DetectContext): Detector {
    return {
      flowStart: (j) => this.flowStart(j, ctx),
      flowName: (id, name) => this.open.get(id)?.sni.add(name.toLowerCase()),
      flowRecord: (r) => this.flowRecord(r),
    };
  }

  private flowStart(j: JudgedFlow, ctx: DetectContext): void {
    if (j.consumed) {
      this.counters.scans++;
      return;
    }
    const f = j.f;
    this.counters.flows++;
    if (j.srcWatched) {
      const d = this.deviceFor(f.srcMac, f.src, f.vlan, f.time);
      if (d) {
        const k = `${f.proto}|${f.dst}|${f.dport}`;
        let o = d.out.get(k);
        if (!o) {
          if (d.out.size >= MAX_OBS) { d.overflow++; return; }
          o = { proto: f.proto, dst: f.dst, dport: f.dport, dns: new Set(), sni: new Set(), count: 0, first: f.time, last: f.time };
          d.out.set(k, o);
        }
        seen(o, f.time);
        for (const n of ctx.inventory.namesFor(f.src, f.dst, f.time)) o.dns.add(n.toLowerCase());
        if (this.open.size >= MAX_OPEN) this.open.delete(this.openOldest.key()!);
        this.open.set(f.id, o);
      }
    }
    if (j.dstWatched && !j.group) {
      const d = this.deviceFor(f.dstMac, f.dst, f.vlan, f.time);
      if (d) {
        // for ICMP the port is type*256+code: its rule lists the types seen
        const port = f.dport;
        const k = `${f.proto}|${f.src}|${port}`;
        let o = d.in.get(k);
        if (!o) {
          if (d.in.size >= MAX_OBS) { d.overflow++; return; }
          o = { proto: f.proto, src: f.src, dport: port, count: 0, first: f.time, last: f.time };
          d.in.set(k, o);
        }
        seen(o, f.time);
      }
    }
  }

  private flowRecord(r: FlowRecord): void {
    if (r.serverName) this.open.get(r.id)?.sni.add(r.serverName.toLowerCase());
    if (r.final) this.open.delete(r.id);
    const bytes = r.bytes + r.bytesRev;
    if (bytes <= 0) return;
    const bucket = Math.floor(r.end / BUCKET_MS);
    for (const d of [this.byKey.get(r.srcMac || r.src), this.byKey.get(r.dstMac || r.dst)]) {
      if (!d) continue;
      d.buckets.set(bucket, (d.buckets.get(bucket) ?? 0) + bytes);
    }
  }

  private deviceFor(mac: string, ip: string, vlan: number, time: number): DeviceObs | undefined {
    const key = mac || ip;
    let d = this.byKey.get(key);
    if (!d) {
      if (this.byKey.size >= MAX_DEVICES) { this.counters.devicesDropped++; return undefined; }
      d = { key, mac, ips: [ip], vlan, out: new Map(), in: new Map(), buckets: new Map(), first: time, last: time, overflow: 0 };
      this.byKey.set(key, d);
    } else if (!d.ips.includes(ip) && d.ips.length < 16) {
      d.ips.push(ip);
    }
    if (time > d.last) d.last = time;
    return d;
  }
}

function seen(s: Seen, time: number): void {
  s.count++;
  if (time < s.first) s.first = time;
  if (time > s.last) s.last = time;
}
