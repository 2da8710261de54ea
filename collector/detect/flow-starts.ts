// Live flows' first-packet facts, for signals that arrive later in a flow (HTTP Basic auth).
// Kept in columns, not as the FlowStart objects: an object per live flow outlives the young
// generation and is copied by every scavenge on its way to the old one, while the strings
// these columns point at are the flow table's own. A FlowStart is rebuilt on the rare get().
//
// Flow ids count up, so a flow's row is its id modulo the table size: no hashing, and
// neighbouring flows sit in neighbouring rows. A row still held by a live older flow (a long
// one) sends that flow to a small Map; the table doubles before that gets common.

import type { FlowStart, Origin, Proto } from '../types.js';

/** numbers per row: id + 1 (0 = empty row), time, sport, dport, vlan, tcpFlags, bytes */
const NW = 7;
/** texts per row: proto, src, dst, srcMac, dstMac, origin, exporter */
const SW = 7;

export class FlowStarts {
  private mask: number;
  private nums: Float64Array;
  private sure: Uint8Array;
  private texts: (string | number)[];
  /** rows in use */
  private used = 0;
  /** flows whose row was taken by a newer flow */
  private readonly spilled = new Map<number, FlowStart>();

  constructor(rows = 4096) {
    let n = 16;
    while (n < rows) n *= 2;
    this.mask = n - 1;
    // zeroed memory: every row starts empty without being written
    this.nums = new Float64Array(n * NW);
    this.sure = new Uint8Array(n);
    this.texts = new Array<string | number>(n * SW);
  }

  get size(): number {
    return this.used + this.spilled.size;
  }

  set(ev: FlowStart): void {
    const id = ev.id;
    if (this.spilled.size > 0) this.spilled.delete(id);
    let r = id & this.mask;
    let held = this.nums[r * NW];
    if (held !== 0 && held !== id + 1 && this.used * 2 > this.mask + 1) {
      this.grow();
      r = id & this.mask;
      held = this.nums[r * NW];
    }
    if (held === 0) this.used++;
    // the row passes to the newer flow
    else if (held !== id + 1) this.spilled.set(held - 1, this.rowStart(r));
    const n = this.nums, b = r * NW;
    n[b] = id + 1; n[b + 1] = ev.time; n[b + 2] = ev.sport; n[b + 3] = ev.dport; n[b + 4] = ev.vlan; n[b + 5] = ev.tcpFlags; n[b + 6] = ev.bytes;
    this.sure[r] = ev.sureInitiator ? 1 : 0;
    const s = this.texts, t = r * SW;
    s[t] = ev.proto; s[t + 1] = ev.src; s[t + 2] = ev.dst; s[t + 3] = ev.srcMac; s[t + 4] = ev.dstMac; s[t + 5] = ev.origin; s[t + 6] = ev.exporter;
  }

  /** The FlowStart of a live flow (a new object equal to the one stored), or undefined. */
  get(id: number): FlowStart | undefined {
    const r = id & this.mask;
    if (this.nums[r * NW] === id + 1) return this.rowStart(r);
    return this.spilled.size > 0 ? this.spilled.get(id) : undefined;
  }

  delete(id: number): void {
    const r = id & this.mask;
    if (this.nums[r * NW] === id + 1) {
      this.nums[r * NW] = 0;
      // let the strings go with the flow
      const s = this.texts, t = r * SW;
      s[t + 1] = s[t + 2] = s[t + 3] = s[t + 4] = s[t + 6] = '';
      this.used--;
      return;
    }
    if (this.spilled.size > 0) this.spilled.delete(id);
  }

  private rowStart(r: number): FlowStart {
    const n = this.nums, b = r * NW, s = this.texts, t = r * SW;
    return {
      id: n[b] - 1, time: n[b + 1], proto: s[t] as Proto, src: s[t + 1] as string, sport: n[b + 2], dst: s[t + 2] as string, dport: n[b + 3],
      srcMac: s[t + 3] as string, dstMac: s[t + 4] as string, vlan: n[b + 4], tcpFlags: n[b + 5], bytes: n[b + 6],
      origin: s[t + 5] as Origin, exporter: s[t + 6] as string, sureInitiator: this.sure[r] === 1,
    };
  }

  /**
   * Twice the rows. Two rows of the old table never meet in the new one (they differ in the
   * bits the old mask kept), so rows move without clashes; spilled flows come back where free.
   */
  private grow(): void {
    const oldNums = this.nums, oldSure = this.sure, oldTexts = this.texts, oldRows = this.mask + 1;
    const rows = oldRows * 2;
    this.mask = rows - 1;
    this.nums = new Float64Array(rows * NW);
    this.sure = new Uint8Array(rows);
    this.texts = new Array<string | number>(rows * SW);
    const nums = this.nums, texts = this.texts, mask = this.mask;
    for (let r = 0; r < oldRows; r++) {
      const key = oldNums[r * NW];
      if (key === 0) continue;
      const nr = (key - 1) & mask;
      for (let k = 0; k < NW; k++) nums[nr * NW + k] = oldNums[r * NW + k];
      this.sure[nr] = oldSure[r];
      for (let k = 0; k < SW; k++) texts[nr * SW + k] = oldTexts[r * SW + k];
    }
    for (const [id, ev] of this.spilled) {
      if (this.nums[(id & this.mask) * NW] !== 0) continue;
      this.spilled.delete(id);
      this.set(ev);
    }
  }
}
