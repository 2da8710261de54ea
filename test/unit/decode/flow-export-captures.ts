// Test-only: the NetFlow/IPFIX export datagrams of the shared captures, read with the project's
// capture reader and frame decoder, and the template-file / data-file pairs they must be read in.

import path from 'node:path';
import { readdirSync } from 'node:fs';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo, L3 } from '../../../collector/decode/packet.js';
import { ip4String, ip6String } from '../../../collector/decode/addr.js';
import { CAPTURES } from './frames.js';

export const NETFLOW_DIR = path.join(CAPTURES, 'netflow');

export interface Datagram {
  /** a copy of the UDP payload: the reader reuses its chunk buffers. */
  payload: Buffer;
  exporter: string;
  sport: number;
  dport: number;
  /** capture time, ms since epoch. */
  ts: number;
}

export async function readDatagrams(file: string): Promise<Datagram[]> {
  const out: Datagram[] = [];
  const p = new PacketInfo();
  await openCapture(file).run((buf, off, caplen, wirelen, ts, linkType) => {
    decodeFrame(buf, off, caplen, wirelen, ts, linkType, p);
    if (p.error !== 0 || (p.l3 !== L3.IPv4 && p.l3 !== L3.IPv6) || p.proto !== 17 || p.isFragment) return;
    out.push({
      payload: Buffer.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)),
      exporter: p.l3 === L3.IPv4 ? ip4String(p.src4) : ip6String(p.buf, p.srcOff),
      sport: p.sport, dport: p.dport, ts: p.ts,
    });
  });
  return out;
}

/**
 * Every capture in decoding order: a data-only file after its template file, which is read
 * again on its own too (one decoder across each list).
 */
export function captureGroups(): string[][] {
  const files = readdirSync(NETFLOW_DIR).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
  const groups: string[][] = [];
  for (const f of files) {
    const m = /^(.*)-data\.pcap$/.exec(f);
    if (m && f !== 'akvorado-data.pcap') {
      const tpl = files.find((g) => g === `${m[1]}-template.pcap` || g === `${m[1]}-templates.pcap`);
      groups.push(tpl ? [tpl, f] : [f]);
    } else groups.push([f]);
  }
  // akvorado's data.pcap holds the data of template.pcap.
  const i = groups.findIndex((g) => g[0] === 'akvorado-data.pcap');
  if (i >= 0) groups[i] = ['akvorado-template.pcap', 'akvorado-data.pcap'];
  return groups.map((g) => g.map((f) => path.join(NETFLOW_DIR, f)));
}
