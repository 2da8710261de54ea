// Deterministic synthetic IoT-segment capture for the benchmark: ~50 devices, IMIX
// frame sizes (64/576/1500 bytes, 7:4:1), some 802.1Q-tagged devices, DNS, TLS with SNI,
// NTP and one scanner. Full snaplen; written streaming, so size is bounded only by `packets`.

import { PcapWriter } from '../test/fixtures/synth/pcap-writer.js';
import { Prng } from '../test/fixtures/synth/prng.js';
import { sendTcp, sendUdp } from '../test/fixtures/synth/conversation.js';
import type { Host, Wire } from '../test/fixtures/synth/conversation.js';
import { ACK, FIN, PSH, SYN } from '../test/fixtures/synth/frames.js';
import { dnsQuery, dnsResponse } from '../test/fixtures/synth/dns.js';
import { clientHello } from '../test/fixtures/synth/tls.js';
import { ntpRequest, ntpResponse } from '../test/fixtures/synth/app.js';

export interface BenchCaptureOptions {
  packets: number;
  devices?: number;
  seed?: number;
  /** concurrent flows kept open. */
  concurrency?: number;
  /** mean packets per second of capture time. */
  rate?: number;
}

export interface BenchCaptureResult {
  packets: number;
  bytes: number;
  flows: number;
  devices: Host[];
  /** ms since epoch, first and last frame. */
  start: number;
  end: number;
}

const GW_MAC = '24:5a:4c:50:00:01';
const GW_IP = '192.168.50.1';
const OUIS = ['14:75:90', '00:b4:63', '18:80:25', '20:17:42', 'c4:29:96', '14:08:08', '28:cd:c1', '00:17:88'];
const SNI = ['api.ring.com', 'n-devs-wap.tplinkcloud.com', 'ws.meethue.com', 'eu.lgtvsdp.com', 'litedev.hik-connect.com', 'a2.tuyaeu.com', 'device-metrics-us.amazon.com'];
/** Ethernet frame sizes (bytes, without FCS) and their weights: the simple IMIX. */
const IMIX = [64, 64, 64, 64, 64, 64, 64, 576, 576, 576, 576, 1500];

interface Flow {
  dev: number;
  vlan: number;
  client: Host;
  server: Host;
  sport: number;
  dport: number;
  cseq: number;
  sseq: number;
  left: number;
  stage: number;
}

export function generateBenchCapture(path: string, o: BenchCaptureOptions): BenchCaptureResult {
  const rnd = new Prng(o.seed ?? 42);
  const nDev = o.devices ?? 50;
  const conc = o.concurrency ?? 256;
  const stepUs = 1e6 / (o.rate ?? 20000);
  const pw = new PcapWriter(path, { snaplen: 65535, chunkBytes: 8 << 20 });
  const devices: Host[] = [];
  const vlans: number[] = [];
  for (let i = 0; i < nDev; i++) {
    const oui = OUIS[i % OUIS.length];
    devices.push({ mac: `${oui}:${(0x50).toString(16)}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: `192.168.50.${100 + i}` });
    // A third of the devices sit behind a trunk port and arrive tagged.
    vlans.push(i % 3 === 0 ? 50 : 0);
  }
  const servers: string[] = [];
  for (let i = 0; i < 400; i++) servers.push(`${[3, 13, 18, 34, 35, 52, 54][i % 7]}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`);
  const pool = rnd.bytes(1 << 20);
  const wires = new Map<number, Wire>([0, 50].map((v) => [v, { sink: pw, vlan: v }]));
  const gw: Host = { mac: GW_MAC, ip: GW_IP };
  const scanner = nDev - 1;
  let t = Date.UTC(2026, 10, 1, 12, 0, 0) * 1000;
  const start = t;
  let port = 30000;
  let flows = 0;
  let scanHost = 1;

  const payload = (frameLen: number, vlan: number, tcpHdr: number): Uint8Array => {
    const n = Math.max(0, frameLen - (vlan ? 18 : 14) - 20 - tcpHdr);
    const off = rnd.int(0, pool.length - n - 1);
    return pool.subarray(off, off + n);
  };

  const open = (): Flow => {
    const dev = rnd.int(0, nDev - 2);
    port = port >= 60000 ? 30000 : port + 1;
    flows++;
    const kind = rnd.float();
    const f: Flow = {
      dev, vlan: vlans[dev], client: devices[dev], server: { mac: GW_MAC, ip: rnd.pick(servers) }, sport: port,
      dport: kind < 0.8 ? 443 : kind < 0.9 ? 8883 : 123, cseq: rnd.u32(), sseq: rnd.u32(),
      left: Math.floor(-Math.log(1 - rnd.float()) * 40) + 8, stage: 0,
    };
    if (f.dport === 123) f.left = 2;
    return f;
  };

  const active: Flow[] = [];
  for (let i = 0; i < conc; i++) active.push(open());

  while (pw.packets < o.packets) {
    t += stepUs * (0.5 + rnd.float());
    // One scanner device sweeps the segment: 1 packet in 50.
    if (rnd.u32() % 50 === 0) {
      const w = wires.get(vlans[scanner])!;
      scanHost = scanHost >= 254 ? 1 : scanHost + 1;
      sendTcp(w, t, devices[scanner], { mac: GW_MAC, ip: `192.168.50.${scanHost}` }, { sport: 40000 + (scanHost % 7), dport: [22, 23, 80, 443, 8080][scanHost % 5], seq: rnd.u32(), flags: SYN, window: 1024 });
      continue;
    }
    const i = rnd.int(0, active.length - 1);
    const f = active[i];
    const w = wires.get(f.vlan)!;
    if (f.dport === 123) {
      if (f.stage === 0) sendUdp(w, t, f.client, f.server, 123, 123, ntpRequest(t));
      else sendUdp(w, t, f.server, f.client, 123, 123, ntpResponse(t - 5000, t));
      f.stage++;
      if (f.stage >= 2) active[i] = open();
      continue;
    }
    const c = { sport: f.sport, dport: f.dport };
    const s = { sport: f.dport, dport: f.sport };
    switch (f.stage) {
      case 0: {
        // Resolve first: the DNS pair stands for the flow's first two packets.
        const id = rnd.int(1, 65535);
        const name = SNI[f.dev % SNI.length];
        sendUdp(w, t, f.client, gw, f.sport, 53, dnsQuery(id, name));
        sendUdp(w, t + 900, gw, f.client, 53, f.sport, dnsResponse(id, name, 'A', [{ name, type: 'A', data: f.server.ip, ttl: 300 }]));
        break;
      }
      case 1: sendTcp(w, t, f.client, f.server, { ...c, seq: f.cseq++, flags: SYN, mss: 1460 }); break;
      case 2: sendTcp(w, t, f.server, f.client, { ...s, seq: f.sseq++, ack: f.cseq, flags: SYN | ACK, mss: 1460 }); break;
      case 3: {
        const ch = clientHello({ sni: SNI[f.dev % SNI.length], random: pool.subarray(f.sport, f.sport + 32) });
        sendTcp(w, t, f.client, f.server, { ...c, seq: f.cseq, ack: f.sseq, flags: ACK | PSH }, ch);
        f.cseq = (f.cseq + ch.length) >>> 0;
        break;
      }
      default: {
        const fromClient = rnd.u32() % 3 === 0;
        const len = rnd.pick(IMIX);
        const p = payload(len, f.vlan, 20);
        if (f.left <= 1) {
          sendTcp(w, t, f.client, f.server, { ...c, seq: f.cseq, ack: f.sseq, flags: FIN | ACK });
          active[i] = open();
          continue;
        }
        if (fromClient) {
          sendTcp(w, t, f.client, f.server, { ...c, seq: f.cseq, ack: f.sseq, flags: ACK | (p.length ? PSH : 0) }, p);
          f.cseq = (f.cseq + p.length) >>> 0;
        } else {
          sendTcp(w, t, f.server, f.client, { ...s, seq: f.sseq, ack: f.cseq, flags: ACK }, p);
          f.sseq = (f.sseq + p.length) >>> 0;
        }
      }
    }
    f.stage++;
    f.left--;
  }
  pw.close();
  return { packets: pw.packets, bytes: pw.bytes, flows, devices, start: start / 1000, end: t / 1000 };
}
