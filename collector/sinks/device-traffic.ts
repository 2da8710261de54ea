// device_traffic (DESIGN.md storage schema): per device and interval, bytes and packets
// each way, flows and distinct peers, from flow records. Intervals are aligned to the
// interval length; an interval with no traffic writes nothing and costs nothing, so a
// clock that jumps ahead (a long pause, a forged timestamp) skips straight to it.

import type { Device, DeviceTraffic, FlowRecord } from '../types.js';
import { deviceLabel } from '../types.js';

/** A device_traffic point being filled: distinct peers as a set until it is written. */
type Acc = Omit<DeviceTraffic, 'time' | 'peers'> & { peers: Set<string> };

export class DeviceTrafficStage {
  private acc = new Map<string, Acc>();
  /** end of the interval being filled, ms; 0 before the first record. */
  private end = 0;

  constructor(
    private readonly deviceByIp: (ip: string) => Device | undefined,
    private readonly emit: (t: DeviceTraffic) => void,
    private readonly intervalMs = 60_000,
  ) {}

  /** A flow record (interim or final): both ends that are known devices are counted. */
  record(r: FlowRecord): void {
    this.side(r, r.src, true);
    this.side(r, r.dst, false);
  }

  /** Close the interval if `now` is past it. */
  tick(now: number): void {
    if (this.end === 0) this.end = alignUp(now, this.intervalMs);
    if (now < this.end) return;
    this.write(this.end);
    // the next interval is the one now falls in: the empty ones between are not walked
    this.end = alignUp(now, this.intervalMs);
  }

  /** End of input: write what the open interval holds. */
  finish(now: number): void {
    this.write(this.end || alignUp(now, this.intervalMs));
  }

  private side(r: FlowRecord, ip: string, out: boolean): void {
    const d = this.deviceByIp(ip);
    if (!d) return;
    let a = this.acc.get(d.id);
    if (!a) {
      a = { device: deviceLabel(d), segment: d.segment, bytesOut: 0, bytesIn: 0, packetsOut: 0, packetsIn: 0, flows: 0, peers: new Set() };
      this.acc.set(d.id, a);
    }
    a.flows++;
    if (out) {
      a.bytesOut += r.bytes; a.packetsOut += r.packets; a.bytesIn += r.bytesRev; a.packetsIn += r.packetsRev;
      a.peers.add(r.dst);
    } else {
      a.bytesOut += r.bytesRev; a.packetsOut += r.packetsRev; a.bytesIn += r.bytes; a.packetsIn += r.packets;
      a.peers.add(r.src);
    }
  }

  private write(time: number): void {
    if (this.acc.size === 0) return;
    for (const a of this.acc.values()) {
      this.emit({
        time, device: a.device, segment: a.segment, bytesOut: a.bytesOut, bytesIn: a.bytesIn,
        packetsOut: a.packetsOut, packetsIn: a.packetsIn, flows: a.flows, peers: a.peers.size,
      });
    }
    this.acc = new Map();
  }
}

export function alignUp(t: number, step: number): number {
  return Math.floor(t / step) * step + step;
}
