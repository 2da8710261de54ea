// A capture file read, decoded and counted into flows on a worker thread, for a pipeline whose
// inventory, detectors and sinks run on this one: `segwatch replay` uses both cores. The thread
// runs the same PacketFront (clock, counters, flow table, tick) and hands over, in packet order,
// what the pipeline's stages take from it: flow starts and records as copies of the table's
// slots (this side builds the same objects from them with the same code), the frames the app
// layer reads (DNS, DHCP, ND, ARP, LLDP, the first payloads of TCP flows and those on ports a
// detector reads, with their flow's slot), and the ticks with the thread's figures. Nothing
// goes back: data flows one way, and the output is the same as on one thread.

import { PacketInfo, DECODE_ERROR_NAMES } from '../decode/packet.js';
import { decodeStampedFrame } from '../decode/frame.js';
import { FlowSlotReader, SLOT_COPY_BYTES, type FlowTableOptions } from '../flows/flow-table.js';
import type { AppFlows } from '../app-layer.js';
import type { FlowThreadEntry, ThreadFigures } from '../pipeline.js';
import { RingThread, type RingThreadEnd } from './threaded-file.js';
import { RingReader, ringMemory, type RingMemory } from './packet-ring.js';
import { PCAP_MAX_CAPLEN } from './pcap-classic.js';

// Records in the ring: word 0 its length (the ring's), word 1 its kind, then by kind (byte
// offsets from the record's start, doubles 8-aligned):
export const E_START = 1;   // slot copy at 8
export const E_RECORD = 2;  // word 2: final; slot copy at 16
export const E_FRAME = 3;   // ts double at 8; words 4-7: caplen, wirelen, linkType, lastDir | lastIndex << 1;
//                             id double at 32; word 10: bytes of the slot copy at 48 (TCP; 0: none); frame bytes after
export const E_TICK = 4;    // word 2: 0 before the flow table's expiry pass, 1 after; now double at 16; figures at 24
export const E_END = 5;     // figures at 24: the last record
/** where a start's and a record's slot copy begins (its bytes: FlowTable.slotCopyBytes) */
export const START_HEADER = 8;
export const RECORD_HEADER = 16;
export const FRAME_HEADER = 48;
// figures: doubles from byte 24
export const G_PACKETS = 0, G_BYTES = 1, G_DECODE_ERRORS = 2, G_NON_IP = 3, G_FIRST = 4, G_LAST = 5, G_JUMPS = 6,
  G_STAGE_ERRORS = 7, G_ACTIVE = 8, G_CREATED = 9, G_EVICTED = 10, G_EXPIRED = 11, G_ERROR_COUNTS = 12;
export const FIGURES_AT = 24;
export const FIGURES_BYTES = FIGURES_AT + (G_ERROR_COUNTS + DECODE_ERROR_NAMES.length) * 8;
/** the largest record: a frame of the largest caplen with its flow's slot */
const MAX_RECORD = FRAME_HEADER + SLOT_COPY_BYTES + PCAP_MAX_CAPLEN + 8;
/** ring bytes: room for many batches of events; at least four of the largest records */
export const FLOW_RING_BYTES = 2 << 20;

/** workerData of the thread */
export interface FlowThreadData {
  path: string;
  mem: RingMemory;
}

/** What the thread is sent once this side's pipeline is built (or that it is not wanted). */
export type FlowThreadGo = { flows: FlowTableOptions; payloadPorts: number[] } | { cancel: true };

/**
 * The thread, started at once so it loads its modules while the caller loads the policy and
 * builds its pipeline; it reads nothing until run() (or stops at cancel()).
 */
export class FlowThread extends RingThread<RingThreadEnd> {
  private readonly ring: RingReader;
  private started = false;

  constructor(path: string, ringBytes = FLOW_RING_BYTES) {
    const mem = ringMemory(Math.max(ringBytes, 4 * MAX_RECORD));
    const data: FlowThreadData = { path, mem };
    // its heap holds little (the flow table is typed arrays): a small young generation
    super(path, 'flow-thread-worker', data, { maxYoungGenerationSizeMb: 1 });
    this.ring = new RingReader(mem);
  }

  /**
   * Runs the file through `entry` (Pipeline.flowThreadEntry) with a flow table made with
   * `flows`; rejects like a file source does: a CaptureError after every event before the fault.
   */
  async run(entryOf: (flows: AppFlows) => FlowThreadEntry, flows: FlowTableOptions, onProgress?: (position: number) => void): Promise<void> {
    this.started = true;
    const ring = this.ring;
    const { i32, f64, bytes } = ring.views;
    const slots = new FlowSlotReader(flows.origin ?? 'pcap');
    // What the app layer asks of the flow a frame belongs to: as the thread's table answered
    // when it handed the frame over; names it learns are this side's (records carry them).
    const names = new Map<number, string>();
    let frameSlotAt = -1, frameId = -1;
    const appFlows: AppFlows = {
      lastDir: 0,
      lastIndex: 0,
      setName: (id: number, name: string) => { names.set(id, name); },
      startOf: (id: number) => {
        if (id !== frameId || frameSlotAt < 0) return undefined;
        slots.load(i32, f64, frameSlotAt);
        return slots.start(null);
      },
    };
    const entry = entryOf(appFlows);
    const go: FlowThreadGo = { flows: { ...flows, reuseStart: false, reuseRecord: false }, payloadPorts: portsOf(entry.payloadPorts) };
    this.worker.postMessage(go);

    const p = new PacketInfo();
    const start = slots.reusableStart();
    const rec = entry.reuseRecord ? slots.reusableRecord() : null;
    const fig: ThreadFigures = {
      packets: 0, bytes: 0, decodeErrors: 0, nonIp: 0, firstTs: 0, lastTs: 0, timeJumps: 0, stageErrors: 0,
      errorCounts: new Float64Array(DECODE_ERROR_NAMES.length), flows: { active: 0, created: 0, evicted: 0, expired: 0 },
    };
    const figures = (at: number): void => {
      const g = (at + FIGURES_AT) >> 3;
      fig.packets = f64[g + G_PACKETS]; fig.bytes = f64[g + G_BYTES]; fig.decodeErrors = f64[g + G_DECODE_ERRORS];
      fig.nonIp = f64[g + G_NON_IP]; fig.firstTs = f64[g + G_FIRST]; fig.lastTs = f64[g + G_LAST];
      fig.timeJumps = f64[g + G_JUMPS]; fig.stageErrors = f64[g + G_STAGE_ERRORS];
      fig.flows = { active: f64[g + G_ACTIVE], created: f64[g + G_CREATED], evicted: f64[g + G_EVICTED], expired: f64[g + G_EXPIRED] };
      for (let i = 0; i < fig.errorCounts.length; i++) fig.errorCounts[i] = f64[g + G_ERROR_COUNTS + i];
      entry.figures(fig);
    };
    const onRecord = (at: number): void => {
      const i = at >> 2;
      switch (i32[i + 1]) {
        case E_START:
          slots.load(i32, f64, at + START_HEADER);
          entry.start(slots.start(start));
          return;
        case E_RECORD: {
          const id = slots.load(i32, f64, at + RECORD_HEADER);
          const final = i32[i + 2] !== 0;
          const name = names.size > 0 ? names.get(id) : undefined;
          if (final && name !== undefined) names.delete(id);
          entry.record(slots.record(final, name, rec));
          return;
        }
        case E_FRAME: {
          const caplen = i32[i + 4], dirIndex = i32[i + 7], copy = i32[i + 10];
          frameId = f64[(at >> 3) + 4];
          frameSlotAt = copy > 0 ? at + FRAME_HEADER : -1;
          appFlows.lastDir = dirIndex & 1;
          appFlows.lastIndex = dirIndex >>> 1;
          decodeStampedFrame(bytes, at + FRAME_HEADER + copy, caplen, i32[i + 5], i32[i + 6], p);
          p.ts = f64[(at >> 3) + 1];
          entry.frame(p, frameId);
          frameSlotAt = -1;
          return;
        }
        case E_TICK: {
          const now = f64[(at >> 3) + 2];
          figures(at);
          if (i32[i + 2] === 0) entry.tick(now); else entry.ticked(now);
          return;
        }
        case E_END:
          figures(at);
          return;
      }
    };

    await this.consume(ring, () => ring.drainRecords(onRecord), onProgress, 'flow thread');
  }

  /** Stops the thread if run() was not called (the caller could not build its pipeline); else nothing. */
  async cancel(): Promise<void> {
    if (this.started || this.exited) return;
    this.started = true;
    const go: FlowThreadGo = { cancel: true };
    this.worker.postMessage(go);
    await this.done;
  }
}

function portsOf(ports: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < ports.length; i++) if (ports[i] !== 0) out.push(i);
  return out;
}

