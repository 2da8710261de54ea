// Worker-thread entry of the flow thread (flow-thread.ts): reads the capture, decodes every
// frame and runs it through a PacketFront (clock, counters, flow table, tick) here, writing
// its events to the shared ring for the pipeline on the main thread.

import { parentPort, workerData } from 'node:worker_threads';
import { openCapture } from './pcap-file.js';
import { threadError, type RingThreadEnd } from './threaded-file.js';
import { decodeStampedFrame } from '../decode/frame.js';
import { PacketInfo, DECODE_ERROR_NAMES } from '../decode/packet.js';
import { RingWriter } from './packet-ring.js';
import { FlowTable } from '../flows/flow-table.js';
import { PacketFront, type PacketCounters } from '../packet-front.js';
import { TimeGuard } from './time-guard.js';
import { appWants, appWantsNonIp } from '../app-layer.js';
import {
  E_START, E_RECORD, E_FRAME, E_TICK, E_END, START_HEADER, RECORD_HEADER, FRAME_HEADER, FIGURES_AT, FIGURES_BYTES,
  G_PACKETS, G_BYTES, G_DECODE_ERRORS, G_NON_IP, G_FIRST, G_LAST, G_JUMPS, G_STAGE_ERRORS, G_ACTIVE, G_CREATED,
  G_EVICTED, G_EXPIRED, G_ERROR_COUNTS,
  type FlowThreadData, type FlowThreadGo,
} from './flow-thread.js';

async function main(): Promise<void> {
  const { path, mem } = workerData as FlowThreadData;
  const go = await new Promise<FlowThreadGo>((resolve) => parentPort!.once('message', resolve));
  if ('cancel' in go) return;
  const ring = new RingWriter(mem);
  const { i32, f64, bytes } = ring.views;
  const payloadPorts = new Uint8Array(65536);
  for (const port of go.payloadPorts) payloadPorts[port] = 1;

  const counters: PacketCounters = { packets: 0, bytes: 0, decodeErrors: 0, nonIp: 0, firstTs: 0, lastTs: 0, timeJumps: 0, flows: 0 };
  const errorCounts = new Float64Array(DECODE_ERROR_NAMES.length);
  let stageErrors = 0;
  const guard = (fn: () => void): void => {
    try { fn(); } catch { stageErrors++; }
  };

  const flows: FlowTable = new FlowTable(go.flows, {
    onStartSlot: (slot) => {
      const len = START_HEADER + flows.slotCopyBytes(slot);
      const at = ring.claim(len);
      i32[(at >> 2) + 1] = E_START;
      flows.copySlot(slot, i32, f64, at + START_HEADER);
      ring.commit(len);
    },
    onRecordSlot: (slot, final) => {
      const len = RECORD_HEADER + flows.slotCopyBytes(slot);
      const at = ring.claim(len);
      i32[(at >> 2) + 1] = E_RECORD;
      i32[(at >> 2) + 2] = final ? 1 : 0;
      flows.copySlot(slot, i32, f64, at + RECORD_HEADER);
      ring.commit(len);
    },
  });

  const figures = (kind: number, phase: number, now: number): void => {
    const at = ring.claim(FIGURES_BYTES);
    const i = at >> 2, g = (at + FIGURES_AT) >> 3, st = flows.stats();
    i32[i + 1] = kind;
    i32[i + 2] = phase;
    f64[(at >> 3) + 2] = now;
    f64[g + G_PACKETS] = counters.packets; f64[g + G_BYTES] = counters.bytes; f64[g + G_DECODE_ERRORS] = counters.decodeErrors;
    f64[g + G_NON_IP] = counters.nonIp; f64[g + G_FIRST] = counters.firstTs; f64[g + G_LAST] = counters.lastTs;
    f64[g + G_JUMPS] = counters.timeJumps; f64[g + G_STAGE_ERRORS] = stageErrors;
    f64[g + G_ACTIVE] = st.active; f64[g + G_CREATED] = st.created; f64[g + G_EVICTED] = st.evicted; f64[g + G_EXPIRED] = st.expired;
    for (let k = 0; k < errorCounts.length; k++) f64[g + G_ERROR_COUNTS + k] = errorCounts[k];
    ring.commit(FIGURES_BYTES);
  };

  /** p's frame for the app layer on the other side; a TCP frame's flow goes with it (startOf). */
  const frame = (p: PacketInfo, id: number, slot: number): void => {
    const caplen = p.caplen, copy = slot >= 0 ? flows.slotCopyBytes(slot) : 0;
    const len = (FRAME_HEADER + copy + caplen + 7) & ~7;
    const at = ring.claim(len);
    const i = at >> 2, d = at >> 3;
    i32[i + 1] = E_FRAME;
    f64[d + 1] = p.ts;
    i32[i + 4] = caplen;
    i32[i + 5] = p.wirelen;
    i32[i + 6] = p.linkType;
    // the name search reads only whether lastIndex is small: capped, it stays a small integer
    i32[i + 7] = flows.lastDir | Math.min(flows.lastIndex, 1 << 29) << 1;
    f64[d + 4] = id;
    i32[i + 10] = copy;
    let o = at + FRAME_HEADER;
    if (copy > 0) {
      flows.copySlot(slot, i32, f64, o);
      o += copy;
    }
    p.buf.copy(bytes, o, p.frameOffset, p.frameOffset + caplen);
    ring.commit(len);
  };

  const front = new PacketFront(flows, new TimeGuard(), counters, errorCounts, {
    tick: (now) => figures(E_TICK, 0, now),
    ticked: (now) => figures(E_TICK, 1, now),
    arp: (p) => frame(p, -1, -1),
    nonIp: (p) => { if (appWantsNonIp(p)) frame(p, -1, -1); },
    flowPacket: (p, id) => {
      if (appWants(p, flows.lastDir, flows.lastIndex, payloadPorts)) frame(p, id, p.proto === 6 ? flows.lastSlotOf(id) : -1);
    },
  }, guard);

  const source = openCapture(path, { syncReads: true });
  const p = new PacketInfo();
  let n = 0;
  let end: RingThreadEnd;
  try {
    // p is the stamp: the reader writes each timestamp into it (see FrameStamp)
    await source.run((buf, off, caplen, wirelen, _ts, linkType) => {
      try {
        decodeStampedFrame(buf, off, caplen, wirelen, linkType, p);
        front.packet(p);
      } catch {
        stageErrors++;
      }
      if ((++n & 0xffff) === 0) ring.setProgress(source.position());
    }, p);
    end = {};
  } catch (err) {
    const e = err as Error;
    end = { error: threadError(e) };
  }
  // every flow ends after the last frame, as the one-thread pipeline's finish() does
  front.finish();
  figures(E_END, 0, counters.lastTs);
  ring.setProgress(source.position());
  ring.end();
  parentPort?.postMessage(end);
}

void main();
