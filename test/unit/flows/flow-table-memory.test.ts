// What a flow-table slot costs (README "Limits": the figure the 256 MB budget of a million live
// flows rests on), measured on the typed arrays a table really allocates, and the packed record's
// fields read back exactly: MACs (48-bit, absent), VLAN, ICMP type/code, IPv6 address pairs kept
// in their pool while other IPv6 flows come and go.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FlowTable, FLOW_SLOT_BYTES, flowTableBytes, DEFAULT_MAX_FLOWS } from '../../../collector/flows/flow-table.js';
import { PacketInfo, TCP_SYN, TCP_ACK } from '../../../collector/decode/packet.js';
import { fill } from './fill.js';
import { canonicalIp } from '../../../collector/decode/addr.js';
import type { FlowRecord, FlowStart } from '../../../collector/types.js';

const T0 = 1_700_000_000_000;
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

t.test('the README states the slot size the table is built with', async (t) => {
  const text = readFileSync(README, 'utf8');
  const m = /a flow-table slot is (\d+) bytes/.exec(text);
  t.ok(m, 'README names the bytes of a slot');
  t.equal(Number(m![1]), FLOW_SLOT_BYTES, 'README and FLOW_SLOT_BYTES agree');
  const full = /(\d+) bytes per live flow at a million/.exec(text);
  t.ok(full, 'README names the bytes per live flow at a million');
  t.equal(Number(full![1]), Math.round(flowTableBytes(DEFAULT_MAX_FLOWS) / 1_000_000), 'README and flowTableBytes agree');
  t.ok(flowTableBytes(DEFAULT_MAX_FLOWS) / 1_000_000 <= 120, 'at most 120 bytes per live flow at a million, index included');
});

t.test('a table allocates FLOW_SLOT_BYTES a slot and its index at its largest, and filled it stays within flowTableBytes', async (t) => {
  // every byte allocated counts, touched or not: the default cap costs address space (the
  // index's buffer is reserved at its largest; its view grows)
  const big = new FlowTable({}, { onRecord() {} });
  const perSlot = heldBytes(big) / big.capacity;
  const want = flowTableBytes(big.capacity) / big.capacity;
  t.ok(perSlot >= want && perSlot < want + 1, `${perSlot.toFixed(2)} bytes a slot at the default cap (index and fixed tables included; flowTableBytes ${want.toFixed(2)})`);
  t.ok(want - FLOW_SLOT_BYTES <= 8, 'the index adds at most 8 bytes a slot');

  const cap = 65_536;
  const ft = new FlowTable({ maxFlows: cap }, { onRecord() {} });
  const p = new PacketInfo();
  for (let i = 0; i < cap; i++) {
    fill(p, { src: '10.50.0.1', dst: `20.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, sport: 40000, dport: 443, flags: TCP_SYN, ts: T0 + i });
    ft.add(p);
  }
  t.equal(ft.stats().active, cap, 'every flow live');
  // what the table holds now, buffer by buffer: growing the index made no new buffer
  const used = heldBytes(ft);
  // the fixed small tables (fragment, closed-session and discovery memory, text caches) are under 1 MB
  t.ok(used <= flowTableBytes(cap) + 1_000_000, `${used} bytes for ${cap} live flows, at most ${flowTableBytes(cap)} + the fixed tables`);
  t.ok(used >= flowTableBytes(cap), 'the index buffer holds them under half full');
  const index = (ft as unknown as { index: Int32Array }).index;
  t.equal(index.length, 2 * cap, 'the index in use grew to twice the live flows');
  t.equal(index.buffer.byteLength, 4 * 2 * cap, 'in the one buffer it was made with');
  ft.flush();
});

t.test('MACs, VLAN, ICMP type/code and ports read back from the packed record', async (t) => {
  const starts: FlowStart[] = [];
  const recs: FlowRecord[] = [];
  const ft = new FlowTable({}, { onStart: (s) => starts.push(s), onRecord: (r) => recs.push(r) });
  const p = new PacketInfo();
  // high bits set in both MACs (a 48-bit value above 2^47), VLAN 4095, the SYN-ACK first (turned round)
  ft.add(fill(p, { src: '192.168.50.9', dst: '10.1.2.3', sport: 443, dport: 51000, flags: TCP_SYN | TCP_ACK, len: 60, ts: T0,
    vlan: 4095, srcMac: 0xffffffffffff, dstMac: 0xaabbcc000001 }));
  // no link layer: MACs -1
  fill(p, { src: '192.168.50.10', dst: '10.1.2.4', proto: 1, icmpType: 3, len: 56, ts: T0 + 1, vlan: 7 });
  p.srcMac = -1; p.dstMac = -1; p.icmpCode = 13;
  ft.add(p);
  t.match(starts[0], { src: '10.1.2.3', sport: 51000, dst: '192.168.50.9', dport: 443, srcMac: 'aa:bb:cc:00:00:01', dstMac: 'ff:ff:ff:ff:ff:ff',
    vlan: 4095, tcpFlags: TCP_SYN | TCP_ACK, bytes: 60, sureInitiator: true, proto: 'tcp' });
  t.match(starts[1], { src: '192.168.50.10', sport: 0, dst: '10.1.2.4', dport: (3 << 8) | 13, srcMac: '', dstMac: '', vlan: 7, tcpFlags: 0, bytes: 56, proto: 'icmp' });
  ft.flush();
  t.match(recs[0], { srcMac: 'aa:bb:cc:00:00:01', dstMac: 'ff:ff:ff:ff:ff:ff', vlan: 4095, sport: 51000, dport: 443, packets: 0, packetsRev: 1, tcpFlags: TCP_SYN | TCP_ACK });
  t.match(recs[1], { srcMac: '', dstMac: '', dport: (3 << 8) | 13, packets: 1, bytes: 56 });
});

t.test('IPv6 flows keep their address pairs while others come and go (pool entries reused)', async (t) => {
  const recs: FlowRecord[] = [];
  const ft = new FlowTable({}, { onRecord: (r) => recs.push(r) });
  const p = new PacketInfo();
  const host = (i: number) => `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::${(i % 7) + 1}`;
  // the long-lived ones, UDP to keep them apart from the churn by port
  for (let i = 0; i < 50; i++) ft.add(fill(p, { src: 'fd00::10', dst: host(i), sport: 5000 + i, dport: 53, proto: 17, ts: T0 }));
  let ts = T0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 200; i++) ft.add(fill(p, { src: 'fd00::20', dst: host(1000 + round * 200 + i), sport: 6000, dport: 443, flags: TCP_SYN, ts: ++ts }));
    // the long-lived flows stay alive; the churn of this round ends (closed by a RST both ways)
    for (let i = 0; i < 50; i++) ft.add(fill(p, { src: host(i), dst: 'fd00::10', sport: 53, dport: 5000 + i, proto: 17, ts: ++ts }));
    for (let i = 0; i < 200; i++) ft.add(fill(p, { src: host(1000 + round * 200 + i), dst: 'fd00::20', sport: 443, dport: 6000, flags: 0x04, ts: ++ts }));
    ft.advance(ts + 6000);
    ts += 6000;
    for (let i = 0; i < 50; i++) ft.add(fill(p, { src: 'fd00::10', dst: host(i), sport: 5000 + i, dport: 53, proto: 17, ts: ++ts }));
  }
  t.equal(recs.length, 1000, 'the churn ended, the long-lived flows did not');
  t.ok(recs.every((r, i) => r.src === 'fd00::20' && r.dst === canonicalIp(host(1000 + i)) && r.packets === 1 && r.packetsRev === 1), 'each churn flow kept its own addresses');
  recs.length = 0;
  ft.flush();
  t.equal(recs.length, 50);
  t.ok(recs.every((r, i) => r.src === 'fd00::10' && r.dst === canonicalIp(host(i)) && r.sport === 5000 + i && r.packets === 6 && r.packetsRev === 5), 'the long-lived flows too');
});

t.test('packet numbers (lastIndex) run on across interim records; each record counts its own packets', async (t) => {
  const recs: FlowRecord[] = [];
  const ft = new FlowTable({ activeTimeoutMs: 1000 }, { onRecord: (r) => recs.push(r) });
  const p = new PacketInfo();
  const c = { src: '192.168.50.4', dst: '52.1.1.1', sport: 40000, dport: 8883, proto: 17 };
  const r = { src: '52.1.1.1', dst: '192.168.50.4', sport: 8883, dport: 40000, proto: 17 };
  const idx: number[] = [];
  for (let i = 0; i < 30; i++) {
    ft.add(fill(p, { ...(i % 3 === 2 ? r : c), len: 100, ts: T0 + i * 100 }));
    idx.push(ft.lastIndex);
  }
  t.same(idx.slice(-3), [19, 20, 10], 'the 30th packet is the 10th reply, interim records notwithstanding');
  ft.flush();
  t.same(recs.map((x) => [x.packets, x.packetsRev]), [[7, 3], [7, 3], [6, 4]], 'per record: packets since the last one');
  t.same(recs.map((x) => x.bytes + x.bytesRev), [1000, 1000, 1000]);
});

/** Bytes of the distinct ArrayBuffers an object's own fields (and their objects' fields) hold. */
function heldBytes(o: object): number {
  const seen = new Set<ArrayBufferLike>();
  const walk = (x: unknown, depth: number): void => {
    if (ArrayBuffer.isView(x)) { seen.add(x.buffer); return; }
    if (depth > 0 && x !== null && typeof x === 'object' && !(x instanceof Map) && !(x instanceof Set)) for (const v of Object.values(x)) walk(v, depth - 1);
  };
  walk(o, 2);
  let n = 0;
  for (const b of seen) n += b.byteLength;
  return n;
}
