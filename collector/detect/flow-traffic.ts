// The later bytes of a flow that raised an anomaly join that anomaly: a detector that reports
// a flow at its first packet tracks it here, and each flow record adds what it carried since.
// Bounded: at the cap the oldest tracked flow stops adding (its anomaly keeps what it had).

import type { FlowRecord } from '../types.js';
import type { Reporter } from './anomaly.js';
import { Oldest } from '../oldest.js';

interface Tracked {
  key: string;
  /** start of the record last counted: a record with another start is a delta (counters restarted). */
  start: number;
  bytes: number;
  packets: number;
}

/** buckets of the filter in front of the Map (a power of two) */
const FILTER_SLOTS = 1 << 16;

export class FlowTraffic {
  private readonly flows = new Map<number, Tracked>();
  private readonly oldest = new Oldest(this.flows);
  /**
   * Tracked flows per bucket of flow id (id & (FILTER_SLOTS - 1)): every flow record asks,
   * and most flows raised nothing, so a zero here answers without a Map look-up.
   */
  private readonly filter = new Uint32Array(FILTER_SLOTS);

  constructor(private readonly reporter: Reporter, private readonly max: () => number) {}

  get size(): number {
    return this.flows.size;
  }

  /** The flow's anomaly key, or undefined when the flow is not tracked. */
  keyOf(flowId: number): string | undefined {
    return this.filter[flowId & (FILTER_SLOTS - 1)] === 0 ? undefined : this.flows.get(flowId)?.key;
  }

  /** `bytes` and `packets` were counted in the anomaly when it was reported. */
  track(flowId: number, key: string, start: number, bytes: number, packets: number): void {
    const t = this.filter[flowId & (FILTER_SLOTS - 1)] === 0 ? undefined : this.flows.get(flowId);
    if (t !== undefined) {
      t.key = key; t.start = start; t.bytes = bytes; t.packets = packets;
      return;
    }
    if (this.flows.size >= this.max()) this.forget(this.oldest.key()!);
    this.flows.set(flowId, { key, start, bytes, packets });
    this.filter[flowId & (FILTER_SLOTS - 1)]++;
  }

  /** The record's start is counted already (the flow was judged on this record). */
  counted(r: FlowRecord): void {
    if (this.filter[r.id & (FILTER_SLOTS - 1)] === 0) return;
    const t = this.flows.get(r.id);
    if (t) t.start = r.start;
  }

  /** Adds what a record of a tracked flow carried since the last one; false when not tracked. */
  record(r: FlowRecord): boolean {
    if (this.filter[r.id & (FILTER_SLOTS - 1)] === 0) return false;
    const t = this.flows.get(r.id);
    if (!t) return false;
    const total = r.bytes + r.bytesRev, pkts = r.packets + r.packetsRev;
    // the flow table restarts its counters at each interim record (NetFlow style); a record
    // with the same start as the last one counted carries totals instead
    const same = r.start === t.start;
    const db = same ? Math.max(0, total - t.bytes) : total, dp = same ? Math.max(0, pkts - t.packets) : pkts;
    if (db > 0 || dp > 0) this.reporter.addTraffic(t.key, db, dp, r.end);
    t.start = r.start; t.bytes = total; t.packets = pkts;
    if (r.final) this.forget(r.id);
    return true;
  }

  clear(): void {
    this.flows.clear();
    this.filter.fill(0);
  }

  private forget(flowId: number): void {
    if (this.flows.delete(flowId)) this.filter[flowId & (FILTER_SLOTS - 1)]--;
  }
}
