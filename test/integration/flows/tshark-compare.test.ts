// For every shared capture that carries TCP or UDP: segwatch's flow records and tshark's
// reading of the same file agree on the conversations (protocol + endpoint pair), their
// packet totals and their byte totals (IP lengths: ip.len, ipv6.plen + 40).

import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { manifest, capture, have } from '../../helpers/paths.js';
import { Pipeline } from '../../../collector/pipeline.js';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import type { FlowRecord } from '../../../collector/types.js';

const run = promisify(execFile);

interface Conv { packets: number; bytes: number }

const TRANSPORT = new Set(['tcp', 'udp']);
// Tokens of frame.protocols that stand between the IP header and the transport header.
const IP_LAYER = /^(ip|ipv6|ipv6\.(hopopts|routing|fraghdr|dstopts|shim6|mipv6|ah)|ah)$/;

function key(proto: string, a: string, ap: number, b: string, bp: number): string {
  const x = `${a}|${ap}`, y = `${b}|${bp}`;
  return x < y ? `${proto} ${x} ${y}` : `${proto} ${y} ${x}`;
}

/** tshark's conversations, from per-packet fields, with reassembly off so each frame counts once. */
async function tsharkConversations(file: string): Promise<{ convs: Map<string, Conv>; skipped: Record<string, number> }> {
  const fields = ['frame.protocols', 'ip.proto', 'ipv6.fraghdr.nxt', 'ip.src', 'ip.dst', 'ip.len', 'ip.id', 'ip.frag_offset', 'ip.flags.mf', 'ipv6.src', 'ipv6.dst', 'ipv6.plen',
    'ipv6.fraghdr.ident', 'ipv6.fraghdr.offset', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];
  const r = await run('tshark', ['-r', file, '-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE',
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
  const convs = new Map<string, Conv>();
  const skipped: Record<string, number> = {};
  // A later fragment carries no ports: it belongs to the conversation of its first fragment.
  const fragKey = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    const [protos, ip4proto, ip6fnxt, ip4s, ip4d, ip4len, ip4id, ip4off, ip4mf, ip6s, ip6d, ip6plen, ip6fid, ip6foff, tsp, tdp, usp, udp] = f;
    const toks = protos.split(':');
    const ipAt = toks.findIndex((x) => x === 'ip' || x === 'ipv6');
    if (ipAt < 0) continue;
    let j = ipAt;
    while (j < toks.length && IP_LAYER.test(toks[j])) j++;
    const next = toks[j] ?? '';
    const v4 = toks[ipAt] === 'ip';
    const src = v4 ? ip4s : ip6s, dst = v4 ? ip4d : ip6d;
    const bytes = v4 ? Number(ip4len) : Number(ip6plen) + 40;
    const fid = v4 ? `${src}>${dst}#${ip4id}` : `${src}>${dst}#${ip6fid}`;
    const later = v4 ? Number(ip4off || 0) > 0 : ip6fid !== '' && Number(ip6foff || 0) > 0;
    let k: string | undefined;
    if (later) {
      k = fragKey.get(fid);
      if (!k) {
        // A fragment whose first fragment is not in the file: no ports anywhere. segwatch keeps
        // it in a ports-0 flow of its address pair, which is what this key compares.
        const nxt = Number(v4 ? ip4proto : ip6fnxt);
        if (nxt !== 6 && nxt !== 17) continue;
        k = key(nxt === 6 ? 'tcp' : 'udp', src, 0, dst, 0);
      }
    } else if (TRANSPORT.has(next)) {
      const sp = Number(next === 'tcp' ? tsp : usp), dp = Number(next === 'tcp' ? tdp : udp);
      if (!Number.isFinite(sp) || !Number.isFinite(dp) || (next === 'tcp' ? tsp : usp) === '') {
        skipped['no-ports'] = (skipped['no-ports'] ?? 0) + 1;
        continue;
      }
      k = key(next, src, sp, dst, dp);
      if ((v4 && ip4mf === '1') || (!v4 && ip6fid !== '')) fragKey.set(fid, k);
    } else {
      continue;
    }
    const c = convs.get(k) ?? { packets: 0, bytes: 0 };
    c.packets++;
    c.bytes += bytes;
    convs.set(k, c);
  }
  return { convs, skipped };
}

/** segwatch's flow records, in-process through the same pipeline `segwatch flows` runs. */
async function segwatchConversations(file: string): Promise<Map<string, Conv>> {
  const convs = new Map<string, Conv>();
  const add = (rec: FlowRecord) => {
    if (rec.proto !== 'tcp' && rec.proto !== 'udp') return;
    const k = key(rec.proto, rec.src, rec.sport, rec.dst, rec.dport);
    const c = convs.get(k) ?? { packets: 0, bytes: 0 };
    c.packets += rec.packets + rec.packetsRev;
    c.bytes += rec.bytes + rec.bytesRev;
    convs.set(k, c);
  };
  const pipeline = new Pipeline({ inventory: false, onFlow: add });
  // a corrupt file ends with an error after its good frames: those are what tshark shows too
  await openCapture(file).run(pipeline.handleFrame).catch(() => undefined);
  await pipeline.finish();
  return convs;
}

/**
 * Differences that are right, with their reasons. Key: capture path; value: conversation keys
 * and why tshark and segwatch legitimately differ there.
 */
const KNOWN: Record<string, { reason: string; ignore: (k: string) => boolean }> = {
  // Frame 1 carries a destination-options header whose option (type 0xca) claims 144 bytes
  // inside a 24-byte header. tshark calls the frame malformed and stops; segwatch, like a
  // router, steps over the header by its own length field and finds the UDP datagram after it.
  'decode/zeek-ipv6-mobility-dst-opts.pcap': {
    reason: 'segwatch skips a destination-options header by its length where tshark stops at a malformed option inside it',
    ignore: (k) => k.includes('|30000'),
  },
};

const rows = manifest().filter((m) => m.protocols.includes('tcp') || m.protocols.includes('udp'));

t.test('tshark is installed', async (t) => {
  t.ok(have('tshark'), 'tshark on PATH');
});

t.test(`segwatch flows matches tshark on ${rows.length} captures`, async (t) => {
  t.ok(rows.length >= 50, `at least 50 captures carry TCP or UDP (${rows.length})`);
  // tshark's start-up dominates: three at a time, results checked in MANIFEST order.
  const results = new Map<string, Promise<[Map<string, Conv>, Map<string, Conv>]>>();
  let next = 0;
  const startOne = () => {
    const row = rows[next++];
    if (!row) return;
    const file = capture(row.file);
    const p = Promise.all([tsharkConversations(file).then((x) => x.convs), segwatchConversations(file)]) as Promise<[Map<string, Conv>, Map<string, Conv>]>;
    results.set(row.file, p);
    p.finally(startOne).catch(() => undefined);
  };
  for (let i = 0; i < 3; i++) startOne();
  for (const row of rows) {
    while (!results.has(row.file)) await new Promise((r) => setTimeout(r, 20));
    const [want, got] = await results.get(row.file)!;
    const known = KNOWN[row.file];
    const diffs: string[] = [];
    for (const [k, w] of want) {
      if (known?.ignore(k)) continue;
      const g = got.get(k);
      if (!g) diffs.push(`missing ${k} (tshark ${w.packets} pkts ${w.bytes} B)`);
      else if (g.packets !== w.packets || g.bytes !== w.bytes) diffs.push(`${k}: segwatch ${g.packets} pkts ${g.bytes} B, tshark ${w.packets} pkts ${w.bytes} B`);
    }
    for (const k of got.keys()) if (!want.has(k) && !known?.ignore(k)) diffs.push(`extra ${k}`);
    t.same(diffs, [], `${row.file}: ${want.size} conversations agree${known ? ` (known: ${known.reason})` : ''}`);
  }
});
