// Cross-check with node-netflowv9 (the npm decoder issue 12 names): on every NetFlow v5 and v9
// capture our records equal its records for addresses, ports, protocol and counters. It stays a
// test oracle only; why it is not the decoder is in collector/decode/flow-export.ts's header.
import t from 'tap';
import path from 'node:path';
import { createRequire } from 'node:module';
import { FlowExportDecoder } from '../../../collector/decode/flow-export.js';
import type { ExportRecord } from '../../../collector/decode/flow-export-record.js';
import { ip6String } from '../../../collector/decode/addr.js';
import { captureGroups, readDatagrams } from './flow-export-captures.js';

interface NfFlow { [k: string]: unknown; isOption?: boolean }
interface NfDecoder { nfPktDecode(msg: Buffer, rinfo: { address: string; port: number }): { flows: NfFlow[] } | undefined; server: { close(): void } }
const NetFlowV9 = createRequire(import.meta.url)('node-netflowv9') as (o: object) => NfDecoder;

function theirAddr(v: unknown): string {
  if (typeof v !== 'string') return '';
  // node-netflowv9 prints IPv6 addresses as 32 hex digits
  return /^[0-9a-f]{32}$/.test(v) ? ip6String(Buffer.from(v, 'hex'), 0) : v;
}

function project(r: ExportRecord) {
  return { src: r.src, dst: r.dst, sport: r.sport, dport: r.dport, proto: r.proto, packets: r.packets, bytes: r.bytes };
}
function projectTheirs(f: NfFlow) {
  const src = theirAddr(f.ipv4_src_addr) || theirAddr(f.ipv6_src_addr);
  const dst = theirAddr(f.ipv4_dst_addr) || theirAddr(f.ipv6_dst_addr);
  // v5 names its ports ipv4_src_port, v9 l4_src_port
  return {
    src: src === '::' || src === '0.0.0.0' ? theirAddr(f.ipv6_src_addr) || src : src,
    dst: dst === '::' || dst === '0.0.0.0' ? theirAddr(f.ipv6_dst_addr) || dst : dst,
    sport: Number(f.l4_src_port ?? f.ipv4_src_port ?? 0), dport: Number(f.l4_dst_port ?? f.ipv4_dst_port ?? 0),
    proto: Number(f.protocol ?? 0), packets: Number(f.in_pkts ?? 0), bytes: Number(f.in_bytes ?? 0),
  };
}

let compared = 0;
for (const files of captureGroups()) {
  const name = files.map((f) => path.basename(f)).join(' + ');
  t.test(name, async (tt) => {
    const datagrams = (await Promise.all(files.map(readDatagrams))).flat();
    const versions = new Set(datagrams.map((d) => d.payload.readUInt16BE(0)));
    if (versions.has(10)) { tt.pass('IPFIX: node-netflowv9 does not decode it'); return; }
    const ours = new FlowExportDecoder();
    const theirs = NetFlowV9({ cb: () => {} });
    theirs.server.close();
    for (const [i, dg] of datagrams.entries()) {
      const mine: ReturnType<typeof project>[] = [];
      ours.decode(dg.payload, 0, dg.payload.length, dg.exporter, dg.ts, (r) => mine.push(project(r)));
      const out = theirs.nfPktDecode(dg.payload, { address: dg.exporter, port: dg.sport });
      const their = (out?.flows ?? []).filter((f) => !f.isOption).map(projectTheirs);
      tt.same(mine, their, `datagram ${i + 1}: ${mine.length} records`);
      compared += mine.length;
    }
  });
}
t.test('records compared', async (tt) => { tt.ok(compared > 100, `${compared} records`); });
