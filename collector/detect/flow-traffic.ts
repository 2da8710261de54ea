// The later bytes of a flow that raised an anomaly join that anomaly: a detector that reports
// a flow at its first packet tracks it here, and each flow record adds what it carried since.
// Bounded: at the cap the oldest tracked flow stops adding (its anomaly keeps what it had).

import type { FlowRecord } from '../types.js';
import type { Reporter } from './anomaly.js';
import { Oldest } from '../oldest.js';

/** buckets of the filter in front of the Map (a power of two) */
const FILTER_SLOTS = 1 << 16;
/** per tracked flow in `rows`: start of the record last counted, then bytes and packets counted */
const R_START = 0, R_BYTES = 1, R_PACKETS = 2, RW = 3;

export class FlowTraffic {
  /**
   * flow id -> its row. The row's numbers live in one Float64Array and its key in an array
   * beside it, not in an object per flow: at the end of a replay every tracked flow's record
   * arrives in turn, and an object (with its boxed numbers) was a cache miss more each.
   */
  private readonly flows = new Map<number, number>();
  private readonly oldest = new Oldest(this.flows);
  /**
   * Tracked flows per bucket of flow id (id & (FILTER_SLOTS - 1)): every flow record asks,
   * and most flows raised nothing, so a zero here answers without a Map look-up.
   */
  private readonly filter = new Uint32Array(FILTER_SLOTS);
  private rows = new Float64Array(64 * RW);
  private keys: string[] = [];
  private free: number[] = [];
  private used = 0;

  constructor(private readonly reporter: Reporter, private readonly max: () => number) {}

  get size(): number {
    return this.flows.size;
  }

  /** The flow's anomaly key, or undefined when the flow is not tracked. */
  keyOf(flowId: number): string | undefined {
    const row = this.rowOf(flowId);
    return row < 0 ? undefined : this.keys[row];
  }

  /** `bytes` and `packets` were counted in the anomaly when it was reported. */
  track(flowId: number, key: string, start: number, bytes: number, packets: number): void {
    let row = this.rowOf(flowId);
    if (row < 0) {
      if (this.flows.size >= this.max()) this.forget(this.oldest.key()!);
      row = this.free.length > 0 ? this.free.pop()! : this.used++;
      if ((row + 1) * RW > this.rows.length) {
        const grown = new Float64Array(this.rows.length * 2);
        grown.set(this.rows);
        this.rows = grown;
      }
      this.flows.set(flowId, row);
      this.filter[flowId & (FILTER_SLOTS - 1)]++;
    }
    this.keys[row] = key;
    const o = row * RW, r = this.rows;
    r[o + R_START] = start; r[o + R_BYTES] = bytes; r[o + R_PACKETS] = packets;
  }

  /** The record's start is counted already (the flow was judged on this record). */
  counted(r: FlowRecord): void {
    const row = this.rowOf(r.id);
    if (row >= 0) this.rows[row * RW + R_START] = r.start;
  }

  /** Adds what a record of a tracked flow carried since the last one; false when not tracked. */
  record(r: FlowRecord): boolean {
    const row = this.rowOf(r.id);
    if (row < 0) return false;
    const rows = this.rows, o = row * RW;
    const total = r.bytes + r.bytesRev, pkts = r.packets + r.packetsRev;
    // the flow table restarts its counters at each interim record (NetFlow style); a record
    // with the same start as the last one counted carries totals instead
    const same = r.start === rows[o + R_START];
    const db = same ? Math.max(0, total - rows[o + R_BYTES]) : total, dp = same ? Math.max(0, pkts - rows[o + R_PACKETS]) : pkts;
    if (db > 0 || dp > 0) this.reporter.addTraffic(this.keys[row], db, dp, r.end);
    rows[o + R_START] = r.start; rows[o + R_BYTES] = total; rows[o + R_PACKETS] = pkts;
    if (r.final) this.forget(r.id);
    return true;
  }

  clear(): void {
    this.flows.clear();
    this.filter.fill(0);
    this.keys = [];
    this.free = [];
    this.used = 0;
    if (this.rows.length > 64 * RW) this.rows = new Float64Array(64 * RW);
  }

  /** The flow's row, -1 when it is not tracked. */
  private rowOf(flowId: number): number {
    if (this.filter[flowId & (FILTER_SLOTS - 1)] === 0) return -1;
    return this.flows.get(flowId) ?? -1;
  }

  private forget(flowId: number): void {
    const row = this.flows.get(flowId);
    if (row === undefined) return;
    this.flows.delete(flowId);
    this.filter[flowId & (FILTER_SLOTS - 1)]--;
    this.keys[row] = '';
    this.free.push(row);
  }
}
