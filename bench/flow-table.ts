// Micro-bench of the flow table (and decode + flow table): 50k concurrent flows, synthetic traffic.
// Build, then: node dist/bench/flow-table.js [packets] [flows]. Prints packets per CPU-second, the
// ratio to a naive Map-keyed table in the same run, and the typed-array bytes a table at the default
// cap allocates (touched only as slots are used); not a test, asserts nothing.

import { FlowTable, FLOW_SLOT_BYTES, flowTableBytes, DEFAULT_MAX_FLOWS } from '../collector/flows/flow-table.js';
import { PacketInfo, L3, LINKTYPE_ETHERNET, TCP_ACK } from '../collector/decode/packet.js';
import { decodeFrame } from '../collector/decode/frame.js';

const N = Number(process.argv[2] ?? 10_000_000);
const FLOWS = Number(process.argv[3] ?? 50_000);

/** CPU time of this process in ms: the machine may be shared, so wall time would mislead. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s; };
}

let allocated = 0;

function tableOnly(): number {
  let records = 0;
  const ab0 = process.memoryUsage().arrayBuffers;
  const ft = new FlowTable({}, { onStart() {}, onRecord() { records++; } });
  const src = new Uint32Array(FLOWS), dst = new Uint32Array(FLOWS), sp = new Uint16Array(FLOWS);
  const r = rng(1);
  for (let i = 0; i < FLOWS; i++) { src[i] = 0xc0a83200 | (i & 255); dst[i] = r(); sp[i] = 1024 + (r() % 60000); }
  const p = new PacketInfo();
  p.l3 = L3.IPv4; p.proto = 6; p.hasL4 = true; p.srcMac = 0x020000000001; p.dstMac = 0x020000000002;
  const order = new Uint32Array(1 << 20);
  for (let i = 0; i < order.length; i++) order[i] = r() % FLOWS;
  let ts = 1_700_000_000_000;
  const t0 = cpuMs();
  for (let i = 0; i < N; i++) {
    const f = order[i & (order.length - 1)];
    const rev = i & 1;
    p.src4 = rev ? dst[f] : src[f]; p.dst4 = rev ? src[f] : dst[f];
    p.sport = rev ? 443 : sp[f]; p.dport = rev ? sp[f] : 443;
    p.tcpFlags = TCP_ACK; p.ipLen = 100 + (i & 1023); p.ts = ts; ts += 0.01;
    ft.add(p);
  }
  const secs = (cpuMs() - t0) / 1000;
  // allocated bytes: arrayBuffers counts them touched or not
  allocated = process.memoryUsage().arrayBuffers - ab0;
  ft.flush();
  return N / secs;
}

/** The same traffic as Ethernet/IPv4/TCP frames in one buffer, decoded then counted. */
function decodeAndTable(): number {
  const ft = new FlowTable({}, { onStart() {}, onRecord() {} });
  const FRAME = 66, COUNT = 1 << 16;
  const buf = Buffer.alloc(FRAME * COUNT);
  const r = rng(2);
  const src = new Uint32Array(FLOWS), dst = new Uint32Array(FLOWS), sp = new Uint16Array(FLOWS);
  for (let i = 0; i < FLOWS; i++) { src[i] = 0xc0a83200 | (i & 255); dst[i] = r(); sp[i] = 1024 + (r() % 60000); }
  for (let i = 0; i < COUNT; i++) {
    const o = i * FRAME, f = r() % FLOWS, rev = i & 1;
    buf.writeUIntBE(0x020000000002, o, 6); buf.writeUIntBE(0x020000000001, o + 6, 6); buf.writeUInt16BE(0x0800, o + 12);
    buf[o + 14] = 0x45; buf.writeUInt16BE(52, o + 16); buf[o + 22] = 64; buf[o + 23] = 6;
    buf.writeUInt32BE(rev ? dst[f] : src[f], o + 26); buf.writeUInt32BE(rev ? src[f] : dst[f], o + 30);
    buf.writeUInt16BE(rev ? 443 : sp[f], o + 34); buf.writeUInt16BE(rev ? sp[f] : 443, o + 36);
    buf[o + 46] = 0x80; buf[o + 47] = TCP_ACK;
  }
  const p = new PacketInfo();
  let ts = 1_700_000_000_000;
  const t0 = cpuMs();
  for (let i = 0; i < N; i++) {
    decodeFrame(buf, (i & (COUNT - 1)) * FRAME, FRAME, FRAME, ts, LINKTYPE_ETHERNET, p);
    ts += 0.01;
    ft.add(p);
  }
  const secs = (cpuMs() - t0) / 1000;
  if (ft.stats().created === 0) throw new Error('decode produced no flows');
  return N / secs;
}

/** Peer for the ratio: the obvious table, a Map keyed by a string built per packet. */
function naiveMap(): number {
  interface F { pk: number; by: number; pr: number; br: number; end: number }
  const m = new Map<string, F>();
  const src = new Uint32Array(FLOWS), dst = new Uint32Array(FLOWS), sp = new Uint16Array(FLOWS);
  const r = rng(1);
  for (let i = 0; i < FLOWS; i++) { src[i] = 0xc0a83200 | (i & 255); dst[i] = r(); sp[i] = 1024 + (r() % 60000); }
  const order = new Uint32Array(1 << 20);
  for (let i = 0; i < order.length; i++) order[i] = r() % FLOWS;
  let ts = 1_700_000_000_000;
  const t0 = cpuMs();
  for (let i = 0; i < N; i++) {
    const f = order[i & (order.length - 1)];
    const rev = i & 1;
    const s = rev ? dst[f] : src[f], d = rev ? src[f] : dst[f], a = rev ? 443 : sp[f], b = rev ? sp[f] : 443;
    const k1 = `6|${s}|${a}|${d}|${b}`;
    let e = m.get(k1), dir = 0;
    if (!e) { e = m.get(`6|${d}|${b}|${s}|${a}`); dir = 1; }
    if (!e) { e = { pk: 0, by: 0, pr: 0, br: 0, end: ts }; m.set(k1, e); dir = 0; }
    if (dir) { e.pr++; e.br += 100; } else { e.pk++; e.by += 100; }
    e.end = ts; ts += 0.01;
  }
  return N / ((cpuMs() - t0) / 1000);
}

const fmt = (x: number) => `${(x / 1e6).toFixed(2)} M packets/s`;
const naive = naiveMap();
const alone = tableOnly();
console.log(`naive Map table (peer), ${FLOWS} flows, ${N} packets: ${fmt(naive)}`);
console.log(`flow table alone, ${FLOWS} flows, ${N} packets: ${fmt(alone)} (${(alone / naive).toFixed(2)}x the Map peer)`);
console.log(`decode + flow table, ${FLOWS} flows, ${N} packets: ${fmt(decodeAndTable())}`);
console.log(`typed arrays: ${FLOW_SLOT_BYTES} bytes a slot; ${(flowTableBytes(DEFAULT_MAX_FLOWS) / 1_000_000).toFixed(1)} bytes per live flow at a million (index included); ` +
  `${(allocated / 1048576).toFixed(1)} MiB allocated by the table above (${DEFAULT_MAX_FLOWS} slots, index for ${FLOWS} flows)`);
