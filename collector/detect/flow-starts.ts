// Live flows' first-packet facts, for signals that arrive later in a flow (HTTP Basic auth).
// Kept in columns, not as the FlowStart objects: an object per live flow outlives the young
// generation and is copied by every scavenge on its way to the old one, while the strings
// these columns point at are the flow table's own. A FlowStart is rebuilt on the rare get().
//
// Flow ids count up, so a flow's row is its id modulo the table size: no hashing, and
// neighbouring flows sit in neighbouring rows. A row still held by a live older flow (a long
// one) sends that flow to a small Map; the table doubles before that gets common.

import type { FlowStart, Origin, Proto } from '../types.js';

const EMPTY = -1;
/** numbers per row: id, time, sport, dport, vlan, tcpFlags, bytes */
const NW = 7;

export class FlowStarts {
  private mask: number;
  private nums: Float64Array;
  private sure: Uint8Array;
  private proto: Proto[];
  private src: string[];
  private dst: string[];
  private srcMac: string[];
  private dstMac: string[];
  private origin: Origin[];
  private exporter: string[];
  /** rows in use */
  private used = 0;
  /** flows whose row was taken by a newer flow */
  private readonly spilled = new Map<number, FlowStart>();

  constructor(rows = 4096) {
    let n = 16;
    while (n < rows) n *= 2;
    this.mask = n - 1;
    this.nums = new Float64Array(0);
    this.sure = new Uint8Array(0);
    this.proto = []; this.src = []; this.dst = []; this.srcMac = []; this.dstMac = []; this.origin = []; this.exporter = [];
    this.alloc(n);
  }

  get size(): number {
    return this.used + this.spilled.size;
  }

  set(ev: FlowStart): void {
    const id = ev.id;
    if (this.spilled.size > 0) this.spilled.delete(id);
    let r = id & this.mask;
    let held = this.nums[r * NW];
    if (held !== EMPTY && held !== id && this.used * 2 > this.mask + 1) {
      this.grow();
      r = id & this.mask;
      held = this.nums[r * NW];
    }
    if (held === EMPTY) this.used++;
    // the row passes to the newer flow
    else if (held !== id) this.spilled.set(held, this.rowStart(r));
    this.write(r, ev);
  }

  /** The FlowStart of a live flow (a new object equal to the one stored), or undefined. */
  get(id: number): FlowStart | undefined {
    const r = id & this.mask;
    if (this.nums[r * NW] === id) return this.rowStart(r);
    return this.spilled.get(id);
  }

  delete(id: number): void {
    const r = id & this.mask;
    if (this.nums[r * NW] === id) {
      this.nums[r * NW] = EMPTY;
      // let the strings go with the flow
      this.src[r] = this.dst[r] = this.srcMac[r] = this.dstMac[r] = this.exporter[r] = '';
      this.used--;
      return;
    }
    if (this.spilled.size > 0) this.spilled.delete(id);
  }

  private write(r: number, ev: FlowStart): void {
    const n = this.nums, b = r * NW;
    n[b] = ev.id; n[b + 1] = ev.time; n[b + 2] = ev.sport; n[b + 3] = ev.dport; n[b + 4] = ev.vlan; n[b + 5] = ev.tcpFlags; n[b + 6] = ev.bytes;
    this.sure[r] = ev.sureInitiator ? 1 : 0;
    this.proto[r] = ev.proto;
    this.src[r] = ev.src;
    this.dst[r] = ev.dst;
    this.srcMac[r] = ev.srcMac;
    this.dstMac[r] = ev.dstMac;
    this.origin[r] = ev.origin;
    this.exporter[r] = ev.exporter;
  }

  private rowStart(r: number): FlowStart {
    const n = this.nums, b = r * NW;
    return {
      id: n[b], time: n[b + 1], proto: this.proto[r], src: this.src[r], sport: n[b + 2], dst: this.dst[r], dport: n[b + 3],
      srcMac: this.srcMac[r], dstMac: this.dstMac[r], vlan: n[b + 4], tcpFlags: n[b + 5], bytes: n[b + 6],
      origin: this.origin[r], exporter: this.exporter[r], sureInitiator: this.sure[r] === 1,
    };
  }

  private alloc(n: number): void {
    this.nums = new Float64Array(n * NW).fill(EMPTY);
    this.sure = new Uint8Array(n);
    this.proto = new Array<Proto>(n).fill('tcp');
    this.src = new Array<string>(n).fill('');
    this.dst = new Array<string>(n).fill('');
    this.srcMac = new Array<string>(n).fill('');
    this.dstMac = new Array<string>(n).fill('');
    this.origin = new Array<Origin>(n).fill('pcap');
    this.exporter = new Array<string>(n).fill('');
  }

  /** Twice the rows; every live flow, the spilled ones too, is placed again. */
  private grow(): void {
    const live: FlowStart[] = [];
    for (let r = 0; r <= this.mask; r++) if (this.nums[r * NW] !== EMPTY) live.push(this.rowStart(r));
    for (const ev of this.spilled.values()) live.push(ev);
    this.spilled.clear();
    const n = (this.mask + 1) * 2;
    this.mask = n - 1;
    this.alloc(n);
    this.used = 0;
    // oldest first, so that a clash leaves the newer flow in the table, as set() does
    live.sort((a, b) => a.id - b.id);
    for (const ev of live) {
      const r = ev.id & this.mask;
      const held = this.nums[r * NW];
      if (held === EMPTY) this.used++;
      else this.spilled.set(held, this.rowStart(r));
      this.write(r, ev);
    }
  }
}
