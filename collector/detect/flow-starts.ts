// Live flows' first-packet facts, for signals that arrive later in a flow (HTTP Basic auth).
// Kept in columns, not as the FlowStart objects: an object per live flow outlives the young
// generation and is copied by every scavenge on its way to the old one, while the strings
// these columns point at are the flow table's own. A FlowStart is rebuilt on the rare get().

import type { FlowStart, Origin, Proto } from '../types.js';

export class FlowStarts {
  /** flow id -> row */
  private readonly rows = new Map<number, number>();
  private readonly free: number[] = [];
  private used = 0;
  // numbers: time, sport, dport, vlan, tcpFlags, bytes per row
  private nums = new Float64Array(6 * 1024);
  private sure = new Uint8Array(1024);
  private readonly proto: Proto[] = [];
  private readonly src: string[] = [];
  private readonly dst: string[] = [];
  private readonly srcMac: string[] = [];
  private readonly dstMac: string[] = [];
  private readonly origin: Origin[] = [];
  private readonly exporter: string[] = [];

  get size(): number {
    return this.rows.size;
  }

  set(ev: FlowStart): void {
    let r = this.rows.get(ev.id);
    if (r === undefined) {
      r = this.free.length > 0 ? this.free.pop()! : this.used++;
      if (r >= this.sure.length) this.grow();
      this.rows.set(ev.id, r);
    }
    const n = this.nums, b = r * 6;
    n[b] = ev.time; n[b + 1] = ev.sport; n[b + 2] = ev.dport; n[b + 3] = ev.vlan; n[b + 4] = ev.tcpFlags; n[b + 5] = ev.bytes;
    this.sure[r] = ev.sureInitiator ? 1 : 0;
    this.proto[r] = ev.proto;
    this.src[r] = ev.src;
    this.dst[r] = ev.dst;
    this.srcMac[r] = ev.srcMac;
    this.dstMac[r] = ev.dstMac;
    this.origin[r] = ev.origin;
    this.exporter[r] = ev.exporter;
  }

  /** The FlowStart of a live flow (a new object equal to the one stored), or undefined. */
  get(id: number): FlowStart | undefined {
    const r = this.rows.get(id);
    if (r === undefined) return undefined;
    const n = this.nums, b = r * 6;
    return {
      id, time: n[b], proto: this.proto[r], src: this.src[r], sport: n[b + 1], dst: this.dst[r], dport: n[b + 2],
      srcMac: this.srcMac[r], dstMac: this.dstMac[r], vlan: n[b + 3], tcpFlags: n[b + 4], bytes: n[b + 5],
      origin: this.origin[r], exporter: this.exporter[r], sureInitiator: this.sure[r] === 1,
    };
  }

  delete(id: number): void {
    const r = this.rows.get(id);
    if (r === undefined) return;
    this.rows.delete(id);
    // let the strings go with the flow
    this.src[r] = this.dst[r] = this.srcMac[r] = this.dstMac[r] = this.exporter[r] = '';
    this.free.push(r);
  }

  private grow(): void {
    const nums = new Float64Array(this.nums.length * 2);
    nums.set(this.nums);
    this.nums = nums;
    const sure = new Uint8Array(this.sure.length * 2);
    sure.set(this.sure);
    this.sure = sure;
  }
}
