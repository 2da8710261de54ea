// Live flows' first-packet facts, for signals that arrive later in a flow (HTTP Basic auth).
// Kept as numbers in one Float64Array, not as the FlowStart objects: an object per live flow
// outlives the young generation (copied by every scavenge on its way to the old one), and even
// a column of its strings is a large array the collector scans. The texts of a usual flow
// (dotted-quad addresses, lower-case MACs as the decoders spell them) are turned back into the
// same texts by get(), which runs once per HTTP Basic header; any other flow keeps its object.
//
// Flow ids count up, so a flow's row is its id modulo the table size: no hashing, and
// neighbouring flows sit in neighbouring rows. A row still held by a live older flow (a long
// one) sends that flow to the Map as well; the table doubles before that gets common.

import type { FlowStart, Origin, Proto } from '../types.js';
import { macString } from '../types.js';
import { ip4String } from '../decode/addr.js';
import { addrKey } from '../inventory/addr-key.js';

/** numbers per row: id + 1 (0 = empty), time, sport, dport, vlan, tcpFlags, bytes, src, dst, srcMac, dstMac, bits */
const NW = 12;
const PROTOS: readonly Proto[] = ['tcp', 'udp', 'icmp', 'icmpv6'];
const ORIGINS: readonly Origin[] = ['pcap', 'netflow', 'ipfix'];

export class FlowStarts {
  private mask: number;
  private rows: Float64Array;
  /** rows in use */
  private used = 0;
  /** flows without a row: texts a row cannot hold, or their row taken by a newer flow */
  private readonly others = new Map<number, FlowStart>();

  constructor(rows = 4096) {
    let n = 16;
    while (n < rows) n *= 2;
    this.mask = n - 1;
    // zeroed memory: every row starts empty without being written
    this.rows = new Float64Array(n * NW);
  }

  get size(): number {
    return this.used + this.others.size;
  }

  /** srcKey/dstKey: addrKey() of ev.src/ev.dst, for a caller that has them already. */
  set(ev: FlowStart, srcKey: number | string = addrKey(ev.src), dstKey: number | string = addrKey(ev.dst)): void {
    if (this.others.size > 0) this.others.delete(ev.id);
    if (!this.place(ev, srcKey, dstKey)) {
      this.delete(ev.id);
      this.others.set(ev.id, { ...ev });
    }
  }

  /** Puts ev in its row; false when its texts do not fit a row. */
  private place(ev: FlowStart, src: number | string, dst: number | string): boolean {
    const id = ev.id;
    const srcMac = macNumber(ev.srcMac), dstMac = macNumber(ev.dstMac);
    const proto = PROTOS.indexOf(ev.proto), origin = ORIGINS.indexOf(ev.origin);
    if (typeof src !== 'number' || typeof dst !== 'number' || srcMac === -2 || dstMac === -2 || proto < 0 || origin < 0 || ev.exporter !== '') return false;
    let r = id & this.mask;
    let held = this.rows[r * NW];
    if (held !== 0 && held !== id + 1 && this.used * 2 > this.mask + 1) {
      this.grow();
      r = id & this.mask;
      held = this.rows[r * NW];
    }
    if (held === 0) this.used++;
    // the row passes to the newer flow
    else if (held !== id + 1) this.others.set(held - 1, this.rowStart(r));
    const w = this.rows, b = r * NW;
    w[b] = id + 1; w[b + 1] = ev.time; w[b + 2] = ev.sport; w[b + 3] = ev.dport; w[b + 4] = ev.vlan; w[b + 5] = ev.tcpFlags;
    w[b + 6] = ev.bytes; w[b + 7] = src >>> 0; w[b + 8] = dst >>> 0; w[b + 9] = srcMac; w[b + 10] = dstMac;
    w[b + 11] = (ev.sureInitiator ? 1 : 0) | (proto << 1) | (origin << 3);
    return true;
  }

  /** The FlowStart of a live flow (a new object equal to the one stored), or undefined. */
  get(id: number): FlowStart | undefined {
    const r = id & this.mask;
    if (this.rows[r * NW] === id + 1) return this.rowStart(r);
    return this.others.size > 0 ? this.others.get(id) : undefined;
  }

  delete(id: number): void {
    const r = id & this.mask;
    if (this.rows[r * NW] === id + 1) {
      this.rows[r * NW] = 0;
      this.used--;
      return;
    }
    if (this.others.size > 0) this.others.delete(id);
  }

  private rowStart(r: number): FlowStart {
    const w = this.rows, b = r * NW, bits = w[b + 11];
    return {
      id: w[b] - 1, time: w[b + 1], proto: PROTOS[(bits >> 1) & 3], src: ip4String(w[b + 7]), sport: w[b + 2],
      dst: ip4String(w[b + 8]), dport: w[b + 3], srcMac: macString(w[b + 9]), dstMac: macString(w[b + 10]),
      vlan: w[b + 4], tcpFlags: w[b + 5], bytes: w[b + 6], origin: ORIGINS[(bits >> 3) & 3], exporter: '', sureInitiator: (bits & 1) === 1,
    };
  }

  /**
   * Twice the rows. Two rows of the old table never meet in the new one (they differ in the
   * bits the old mask kept), so rows move without clashes; flows that lost their row come back
   * where it is free.
   */
  private grow(): void {
    const old = this.rows, oldRows = this.mask + 1;
    const rows = oldRows * 2;
    this.mask = rows - 1;
    const w = new Float64Array(rows * NW);
    this.rows = w;
    for (let r = 0; r < oldRows; r++) {
      const key = old[r * NW];
      if (key === 0) continue;
      const to = ((key - 1) & this.mask) * NW, from = r * NW;
      for (let k = 0; k < NW; k++) w[to + k] = old[from + k];
    }
    for (const ev of [...this.others.values()]) {
      if (this.rows[(ev.id & this.mask) * NW] !== 0) continue;
      if (this.place(ev, addrKey(ev.src), addrKey(ev.dst))) this.others.delete(ev.id);
    }
  }
}

/**
 * A MAC text as macString() spells it ("" or lower-case "aa:bb:cc:dd:ee:ff") as its number
 * (-1 for ""), so that macString() gives the text back; -2 for any other text.
 */
function macNumber(s: string): number {
  if (s === '') return -1;
  if (s.length !== 17) return -2;
  let v = 0;
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i);
    if (i % 3 === 2) {
      if (c !== 58) return -2;
      continue;
    }
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -2;
    v = v * 16 + d;
  }
  return v;
}
