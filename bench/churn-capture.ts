// Flow-churn captures for the churn bench (bench/churn.ts): one-packet TCP flows (SYNs) from
// many devices to distinct hosts, as a scanning botnet or a flood makes them. Frames are
// patched into one template (no per-packet objects), so a million flows take a few seconds
// to write. Deterministic for a given option set.
//
//   churn:      `flows` SYNs from `devices` devices, each to a host no other flow uses, spread
//               evenly over `seconds` of packet time; with the default timeouts every flow is
//               still live at the end (TCP idle 300 s), so the table holds all of them at once.
//   concurrent: the same SYNs, then a second pass in which each server answers (SYN-ACK) in
//               the same order over the next `seconds`: every flow gets a second packet while
//               all of them are live.

import { PcapWriter } from '../test/fixtures/synth/pcap-writer.js';

export interface ChurnCaptureOptions {
  flows: number;
  devices: number;
  /** packet time the SYNs are spread over; default 100 */
  seconds?: number;
  /** each flow's server answers in a second pass (the "1M concurrent flows" variant) */
  concurrent?: boolean;
  seed?: number;
}

export interface ChurnCaptureResult {
  packets: number;
  bytes: number;
  flows: number;
  devices: number;
  /** the devices' subnet, for the policy */
  deviceNet: string;
}

/** Devices sit in 10.50.0.0/16 (up to 65,534 of them), MACs 02:50:00:xx:xx:xx; the gateway answers for every server. */
export const CHURN_DEVICE_NET = '10.50.0.0/16';
const DEV_BASE = (10 << 24 | 50 << 16) >>> 0;
/** servers from 20.0.0.1 on, one per flow */
const SRV_BASE = (20 << 24) >>> 0;
const GW_MAC = [0x24, 0x5a, 0x4c, 0x50, 0x00, 0x01];
const T0_US = Date.UTC(2026, 10, 1, 12, 0, 0) * 1000;
/** Ethernet (14) + IPv4 (20) + TCP with MSS option (24) */
const FRAME = 58;

export function generateChurnCapture(path: string, o: ChurnCaptureOptions): ChurnCaptureResult {
  const nFlows = Math.max(1, Math.floor(o.flows));
  const nDev = Math.min(65_534, Math.max(1, Math.floor(o.devices)));
  const stepUs = ((o.seconds ?? 100) * 1e6) / nFlows;
  const pw = new PcapWriter(path, { snaplen: 65535, chunkBytes: 8 << 20 });
  const f = Buffer.alloc(FRAME);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(FRAME - 14, 16); f[20] = 0x40; f[22] = 64; f[23] = 6;
  f[46] = 0x60; f.writeUInt16BE(64240, 48); f[54] = 2; f[55] = 4; f.writeUInt16BE(1460, 56);
  let seed = (o.seed ?? 42) >>> 0;
  const rnd = (): number => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed; };
  const write = (i: number, answer: boolean, tsUs: number): void => {
    const dev = i % nDev;
    const devIp = (DEV_BASE + 1 + dev) >>> 0, srvIp = (SRV_BASE + 1 + i) >>> 0;
    // the source port of flow i, the same in both passes
    const sport = 1024 + ((Math.imul(i, 2654435761) >>> 0) % 64000);
    const devMac0 = 0x02, devMac = [devMac0, 0x50, 0x00, (dev >> 16) & 255, (dev >> 8) & 255, dev & 255];
    const [sMac, dMac] = answer ? [GW_MAC, devMac] : [devMac, GW_MAC];
    for (let b = 0; b < 6; b++) { f[b] = dMac[b]; f[6 + b] = sMac[b]; }
    f.writeUInt16BE(i & 0xffff, 18);
    f.writeUInt32BE(answer ? srvIp : devIp, 26);
    f.writeUInt32BE(answer ? devIp : srvIp, 30);
    f.writeUInt16BE(answer ? 443 : sport, 34);
    f.writeUInt16BE(answer ? sport : 443, 36);
    f.writeUInt32BE(rnd(), 38);
    f.writeUInt32BE(answer ? (Math.imul(i, 7919) + 1) >>> 0 : 0, 42);
    f[47] = answer ? 0x12 : 0x02;
    f.writeUInt16BE(0, 24);
    f.writeUInt16BE(sum16(f, 14, 34, 0), 24);
    f.writeUInt16BE(0, 50);
    // pseudo header: addresses, protocol, TCP length
    const pseudo = sum32(f, 26, 34) + 6 + (FRAME - 34);
    f.writeUInt16BE(sum16(f, 34, FRAME, pseudo), 50);
    pw.write(tsUs, f);
  };
  for (let i = 0; i < nFlows; i++) write(i, false, T0_US + Math.floor(i * stepUs));
  if (o.concurrent) {
    const t1 = T0_US + (o.seconds ?? 100) * 1e6;
    for (let i = 0; i < nFlows; i++) write(i, true, t1 + Math.floor(i * stepUs));
  }
  pw.close();
  return { packets: pw.packets, bytes: pw.bytes, flows: nFlows, devices: nDev, deviceNet: CHURN_DEVICE_NET };
}

function sum32(b: Buffer, from: number, to: number): number {
  let s = 0;
  for (let o = from; o < to; o += 2) s += (b[o] << 8) | b[o + 1];
  return s;
}

/** Internet checksum of b[from, to) plus `extra` (a partial sum). */
function sum16(b: Buffer, from: number, to: number, extra: number): number {
  let s = extra + sum32(b, from, to);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
