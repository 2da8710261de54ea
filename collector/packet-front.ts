// The packet side of the pipeline: the source's guarded clock, the packet counters, the flow
// table, the one-second tick, and which frames go on to the app layer. One class for both ways
// a capture runs: inside the Pipeline's own thread, and on a flow thread (sources/flow-thread.ts)
// whose events the Pipeline then takes in the same order.

import { PacketInfo, L3, DecodeError } from './decode/packet.js';
import type { FlowTable } from './flows/flow-table.js';
import type { TimeGuard } from './sources/time-guard.js';

/** The counters this side keeps (a part of PipelineCounters). */
export interface PacketCounters {
  packets: number;
  bytes: number;
  decodeErrors: number;
  nonIp: number;
  firstTs: number;
  lastTs: number;
  /** timestamps the TimeGuard clamped */
  timeJumps: number;
  /** flows created */
  flows: number;
}

/** What comes after the flow table, in packet order. */
export interface FrontStages {
  /** a tick begins (packet time `now`), before the flow table's expiry pass */
  tick(now: number): void;
  /** after the expiry pass */
  ticked(now: number): void;
  /** an ARP frame decoded without error */
  arp(p: PacketInfo): void;
  /** a frame neither IP nor ARP decoded without error (counted in nonIp) */
  nonIp(p: PacketInfo): void;
  /** p was just counted in flow `id` (the table's lastDir and lastIndex are p's) and has ports or ICMP type */
  flowPacket(p: PacketInfo, id: number): void;
}

export class PacketFront {
  /** packet time of the next tick */
  nextTick = 0;

  constructor(
    readonly flows: FlowTable,
    readonly time: TimeGuard,
    private readonly counters: PacketCounters,
    /** decode errors by DecodeError */
    private readonly errorCounts: Float64Array,
    private readonly stages: FrontStages,
    /** runs fn, counting and logging what it throws (a stage's fault costs its work, not the run) */
    private readonly guard: (fn: () => void) => void,
  ) {}

  /** A decoded frame. Hot path. */
  packet(p: PacketInfo): void {
    const c = this.counters;
    // a timestamp far from the source's recent clock is clamped to it (and counted) before
    // any stage reads p.ts: one corrupt record cannot move packet time for good
    const ts = p.ts = this.time.check(p.ts);
    c.packets++;
    c.bytes += p.wirelen;
    if (c.firstTs === 0) c.firstTs = ts;
    if (ts > c.lastTs) c.lastTs = ts;
    if (ts >= this.nextTick) this.tick(ts);

    if (p.error !== DecodeError.None) {
      c.decodeErrors++;
      this.errorCounts[p.error]++;
    }
    if (p.l3 === L3.ARP) {
      if (p.error === DecodeError.None) this.stages.arp(p);
      return;
    }
    if (p.l3 === L3.None) {
      if (p.error === DecodeError.None) {
        c.nonIp++;
        this.stages.nonIp(p);
      }
      return;
    }
    const id = this.flows.add(p);
    if (id < 0 || !p.hasL4) return;
    this.stages.flowPacket(p, id);
  }

  /**
   * Time-driven work at `now` (packet time; a live collector's wall-clock timer too): the
   * stages before and after the flow table's expiry pass.
   */
  tick(now: number): void {
    this.nextTick = now + 1000;
    const c = this.counters;
    c.timeJumps = this.time.clamped;
    // a live timer's wall clock moves the source's clock too: an idle spell is no jump
    this.time.advanceTo(now);
    c.flows = this.flows.stats().created;
    this.stages.tick(now);
    this.guard(() => this.flows.advance(now));
    this.stages.ticked(now);
  }

  /** End of input: every flow ends (its records go out). */
  finish(): void {
    const c = this.counters;
    c.flows = this.flows.stats().created;
    c.timeJumps = this.time.clamped;
    this.guard(() => this.flows.flush());
  }
}
