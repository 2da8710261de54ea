import t from 'tap';
import fc from 'fast-check';
import { FlowTable, type FlowTableOptions } from '../../../collector/flows/flow-table.js';
import { PacketInfo, L3, TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST, TCP_PSH } from '../../../collector/decode/packet.js';
import { fill, type Pkt } from './fill.js';
import type { FlowRecord, FlowStart } from '../../../collector/types.js';
import { addrKey } from '../../../collector/inventory/addr-key.js';

function table(opts: FlowTableOptions = {}) {
  const starts: FlowStart[] = [];
  const recs: FlowRecord[] = [];
  const ft = new FlowTable(opts, { onStart: (e) => starts.push(e), onRecord: (r) => recs.push(r) });
  const p = new PacketInfo();
  const add = (k: Pkt) => ft.add(fill(p, k));
  return { ft, starts, recs, add, p };
}

const T0 = 1_700_000_000_000;

t.test('merges both directions of a UDP conversation; first sender is the initiator', async (t) => {
  const { ft, starts, recs, add } = table();
  const id = add({ src: '192.168.50.10', dst: '8.8.8.8', sport: 40000, dport: 53, proto: 17, len: 70, ts: T0 });
  t.equal(ft.lastDir, 0); t.equal(ft.lastIndex, 1);
  t.equal(add({ src: '8.8.8.8', dst: '192.168.50.10', sport: 53, dport: 40000, proto: 17, len: 130, ts: T0 + 20 }), id);
  t.equal(ft.lastDir, 1); t.equal(ft.lastIndex, 1);
  t.equal(add({ src: '192.168.50.10', dst: '8.8.8.8', sport: 40000, dport: 53, proto: 17, len: 71, ts: T0 + 30 }), id);
  t.equal(ft.lastDir, 0); t.equal(ft.lastIndex, 2);
  // another source port is another flow
  t.not(add({ src: '192.168.50.10', dst: '8.8.8.8', sport: 40001, dport: 53, proto: 17, ts: T0 + 40 }), id);
  t.equal(starts.length, 2);
  t.match(starts[0], { id, src: '192.168.50.10', sport: 40000, dst: '8.8.8.8', dport: 53, proto: 'udp', sureInitiator: false, bytes: 70, srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02' });
  ft.flush();
  t.equal(recs.length, 2);
  t.match(recs[0], { id, proto: 'udp', src: '192.168.50.10', dst: '8.8.8.8', sport: 40000, dport: 53, packets: 2, bytes: 141, packetsRev: 1, bytesRev: 130, start: T0, end: T0 + 30, final: true, origin: 'pcap', exporter: '', tcpFlags: 0 });
  t.same(ft.stats(), { active: 0, created: 2, evicted: 0, expired: 0 });
});

t.test('VLANs and protocols separate flows; ARP and non-IP are not flows', async (t) => {
  const { ft, add, p } = table();
  const a = add({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 17, ts: T0, vlan: 50 });
  const b = add({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 17, ts: T0, vlan: 51 });
  const c = add({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 6, ts: T0, vlan: 50 });
  t.equal(new Set([a, b, c]).size, 3);
  p.reset(); p.l3 = L3.ARP; p.ts = T0;
  t.equal(ft.add(p), -1);
  p.reset(); p.l3 = L3.None; p.ts = T0;
  t.equal(ft.add(p), -1);
  t.equal(ft.stats().active, 3);
});

t.test('SYN-ACK seen first: the receiver is the initiator, and sure', async (t) => {
  const { ft, starts, recs, add } = table();
  const id = add({ src: '93.184.216.34', dst: '192.168.50.20', sport: 443, dport: 51000, flags: TCP_SYN | TCP_ACK, len: 60, ts: T0 });
  t.equal(ft.lastDir, 1, 'a SYN-ACK travels from the responder');
  add({ src: '192.168.50.20', dst: '93.184.216.34', sport: 51000, dport: 443, flags: TCP_ACK, len: 52, ts: T0 + 1 });
  t.equal(ft.lastDir, 0);
  t.match(starts[0], { id, src: '192.168.50.20', sport: 51000, dst: '93.184.216.34', dport: 443, sureInitiator: true, tcpFlags: TCP_SYN | TCP_ACK, srcMac: '02:00:00:00:00:02' });
  ft.flush();
  t.match(recs[0], { src: '192.168.50.20', packets: 1, bytes: 52, packetsRev: 1, bytesRev: 60, tcpFlags: TCP_SYN | TCP_ACK });
});

t.test('SYN: the sender is the initiator even when its address sorts higher', async (t) => {
  const { starts, add } = table();
  add({ src: '203.0.113.9', dst: '10.0.0.1', sport: 60000, dport: 22, flags: TCP_SYN, ts: T0 });
  t.match(starts[0], { src: '203.0.113.9', sport: 60000, dst: '10.0.0.1', dport: 22, sureInitiator: true });
});

t.test('FIN both ways: closed timeout, trailing ACK joins, then expires', async (t) => {
  const { ft, recs, add } = table();
  const c = { src: '192.168.50.2', dst: '1.1.1.1', sport: 50000, dport: 80 };
  const s = { src: '1.1.1.1', dst: '192.168.50.2', sport: 80, dport: 50000 };
  const id = add({ ...c, flags: TCP_SYN, ts: T0 });
  add({ ...s, flags: TCP_SYN | TCP_ACK, ts: T0 + 10 });
  add({ ...c, flags: TCP_ACK | TCP_PSH, len: 200, ts: T0 + 20 });
  add({ ...c, flags: TCP_FIN | TCP_ACK, ts: T0 + 30 });
  add({ ...s, flags: TCP_FIN | TCP_ACK, ts: T0 + 40 });
  t.equal(add({ ...c, flags: TCP_ACK, ts: T0 + 50 }), id, 'trailing ACK joins the closed flow');
  ft.advance(T0 + 4_000);
  t.equal(recs.length, 0, 'not emitted before the closed timeout');
  ft.advance(T0 + 5_050);
  t.equal(recs.length, 1);
  t.match(recs[0], { id, packets: 4, packetsRev: 2, bytes: 60 * 3 + 200, tcpFlags: TCP_SYN | TCP_ACK | TCP_PSH | TCP_FIN, final: true, end: T0 + 50 });
  t.equal(ft.stats().expired, 1);
});

t.test('RST closes; a new SYN on a closed flow starts a new flow', async (t) => {
  const { ft, recs, add } = table();
  const c = { src: '192.168.50.2', dst: '1.1.1.1', sport: 50000, dport: 80 };
  const id1 = add({ ...c, flags: TCP_SYN, ts: T0 });
  add({ src: '1.1.1.1', dst: '192.168.50.2', sport: 80, dport: 50000, flags: TCP_RST | TCP_ACK, ts: T0 + 5 });
  const id2 = add({ ...c, flags: TCP_SYN, ts: T0 + 1000 });
  t.not(id2, id1);
  t.equal(recs.length, 1);
  t.match(recs[0], { id: id1, packets: 1, packetsRev: 1, tcpFlags: TCP_SYN | TCP_RST | TCP_ACK });
  // an open connection only ends by timeout
  add({ ...c, flags: TCP_ACK, ts: T0 + 2000 });
  ft.advance(T0 + 2000 + 299_000);
  t.equal(recs.length, 1);
  ft.advance(T0 + 2000 + 300_000);
  t.equal(recs.length, 2);
  t.match(recs[1], { id: id2, packets: 2 });
});

t.test('idle timeouts per protocol on packet time, also without advance()', async (t) => {
  const { ft, recs, add } = table({ idleUdpMs: 60_000, idleIcmpMs: 30_000, advanceEveryMs: 1e12 });
  const u = { src: '192.168.50.3', dst: '192.168.50.1', sport: 123, dport: 123, proto: 17 };
  const id1 = add({ ...u, ts: T0 });
  t.equal(add({ ...u, ts: T0 + 59_999 }), id1);
  const id2 = add({ ...u, ts: T0 + 59_999 + 60_000 });
  t.not(id2, id1, 'a packet after the idle timeout starts a new flow');
  t.equal(recs.length, 1);
  t.match(recs[0], { id: id1, packets: 2, end: T0 + 59_999 });
  const ping = { src: '192.168.50.3', dst: '192.168.50.1', proto: 1, sport: 8, dport: 0 };
  const i1 = add({ ...ping, ts: T0 + 200_000 });
  t.equal(add({ src: ping.dst, dst: ping.src, proto: 1, ts: T0 + 200_001 }), i1, 'ICMP keyed by address pair only');
  t.equal(recs.length, 1, 'add() alone did not run expiry (advanceEveryMs huge)');
  ft.advance(T0 + 230_001);
  t.equal(recs.length, 3, 'udp flow 2 and the icmp flow expired');
  t.match(recs[2], { id: i1, proto: 'icmp', sport: 0, dport: 0, packets: 1, packetsRev: 1 });
  t.equal(ft.stats().expired, 3);
});

t.test('add() runs expiry by itself as packet time passes', async (t) => {
  const { recs, add } = table({ idleUdpMs: 10_000 });
  add({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 17, ts: T0 });
  add({ src: '10.0.0.3', dst: '10.0.0.4', sport: 1, dport: 2, proto: 17, ts: T0 + 9_000 });
  t.equal(recs.length, 0);
  add({ src: '10.0.0.3', dst: '10.0.0.4', sport: 1, dport: 2, proto: 17, ts: T0 + 12_000 });
  t.equal(recs.length, 1);
  t.equal(recs[0].src, '10.0.0.1');
});

t.test('active timeout emits interim records with the same id and reset counters', async (t) => {
  const { ft, recs, add } = table({ activeTimeoutMs: 1_800_000 });
  const c = { src: '192.168.50.4', dst: '52.1.1.1', sport: 40000, dport: 8883, flags: TCP_ACK };
  const id = add({ ...c, flags: TCP_SYN, ts: T0 });
  for (let i = 1; i <= 40; i++) add({ ...c, ts: T0 + i * 100_000 });
  ft.flush();
  t.equal(recs.length, 3);
  t.same(recs.map((r) => r.id), [id, id, id]);
  t.same(recs.map((r) => r.final), [false, false, true]);
  t.same(recs.map((r) => r.packets), [18, 18, 5]);
  t.equal(recs[0].start, T0); t.equal(recs[0].end, T0 + 1_700_000);
  t.equal(recs[1].start, T0 + 1_800_000);
  t.equal(recs[0].tcpFlags, TCP_SYN | TCP_ACK); t.equal(recs[1].tcpFlags, TCP_ACK);
  t.equal(ft.stats().created, 1);
});

t.test('at the cap the least recently seen flow is evicted as final', async (t) => {
  const { ft, recs, add } = table({ maxFlows: 4, lruResolutionMs: 0 });
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) ids.push(add({ src: `10.0.0.${i + 1}`, dst: '10.0.1.1', sport: 1000, dport: 53, proto: 17, ts: T0 + i }));
  add({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000, dport: 53, proto: 17, ts: T0 + 10 }); // refresh flow 0
  add({ src: '10.0.0.9', dst: '10.0.1.1', sport: 1000, dport: 53, proto: 6, flags: TCP_SYN, ts: T0 + 11 });
  t.equal(recs.length, 1);
  t.equal(recs[0].id, ids[1], 'flow 1 was least recently seen');
  t.equal(recs[0].final, true);
  add({ src: '10.0.0.10', dst: '10.0.1.1', sport: 1000, dport: 53, proto: 1, ts: T0 + 12 });
  t.equal(recs[1].id, ids[2]);
  t.same(ft.stats(), { active: 4, created: 6, evicted: 2, expired: 0 });
  // the survivors are still found
  t.equal(add({ src: '10.0.1.1', dst: '10.0.0.1', sport: 53, dport: 1000, proto: 17, ts: T0 + 13 }), ids[0]);
  t.equal(ft.stats().active, 4);
});

t.test('later fragments join the first fragment\'s flow; early ones go to a ports-0 flow', async (t) => {
  const { ft, recs, add } = table();
  const base = { src: '192.168.50.5', dst: '192.168.50.1', proto: 17 };
  const id = add({ ...base, sport: 5353, dport: 5353, len: 1500, ts: T0, frag: { id: 77, offset: 0, more: true } });
  t.equal(add({ ...base, len: 1500, ts: T0 + 1, frag: { id: 77, offset: 1480, more: true } }), id);
  t.equal(ft.lastIndex, 2);
  t.equal(add({ ...base, len: 300, ts: T0 + 2, frag: { id: 77, offset: 2960, more: false } }), id);
  // a reply's fragments (other direction, own id) map to the same flow
  add({ src: base.dst, dst: base.src, proto: 17, sport: 5353, dport: 5353, len: 1500, ts: T0 + 3, frag: { id: 9, offset: 0, more: true } });
  t.equal(add({ src: base.dst, dst: base.src, proto: 17, len: 100, ts: T0 + 4, frag: { id: 9, offset: 1480, more: false } }), id);
  t.equal(ft.lastDir, 1);
  // a later fragment whose first never came
  const orphan = add({ ...base, len: 500, ts: T0 + 5, frag: { id: 78, offset: 1480, more: false } });
  t.not(orphan, id);
  // a fragment id reused after the fragment timeout does not reach the old flow
  const late = add({ ...base, len: 500, ts: T0 + 40_000, frag: { id: 77, offset: 1480, more: false } });
  t.equal(late, orphan);
  ft.flush();
  t.match(recs[0], { id, sport: 5353, dport: 5353, packets: 3, bytes: 3300, packetsRev: 2, bytesRev: 1600 });
  t.match(recs[1], { id: orphan, sport: 0, dport: 0, packets: 2, bytes: 1000 });
});

t.test('IPv6 flows read addresses from the buffer', async (t) => {
  const { ft, starts, recs, add } = table();
  const id = add({ src: 'fe80::1', dst: 'ff02::fb', sport: 5353, dport: 5353, proto: 17, len: 100, ts: T0 });
  t.equal(add({ src: 'fe80::2', dst: 'ff02::fb', sport: 5353, dport: 5353, proto: 17, ts: T0 }) !== id, true);
  t.equal(add({ src: '2001:db8::5', dst: '2001:db8::1', sport: 1, dport: 2, proto: 58, ts: T0 }) > 0, true);
  // ::ffff:10.0.0.1 over IPv6 is not the IPv4 flow of 10.0.0.1
  const v4 = add({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 17, ts: T0 });
  const mapped = add({ src: '::ffff:10.0.0.1', dst: '::ffff:10.0.0.2', sport: 1, dport: 2, proto: 17, ts: T0 });
  t.not(v4, mapped);
  t.equal(starts[0].src, 'fe80::1'); t.equal(starts[0].dst, 'ff02::fb');
  t.equal(starts[2].proto, 'icmpv6'); t.equal(starts[2].sport, 0);
  ft.flush();
  t.equal(recs.length, 5);
});

t.test('setName carries a server name on the record', async (t) => {
  const { ft, recs, add } = table();
  const a = add({ src: '192.168.50.6', dst: '1.2.3.4', sport: 1111, dport: 443, flags: TCP_SYN, ts: T0 });
  const b = add({ src: '192.168.50.6', dst: '1.2.3.5', sport: 1112, dport: 443, flags: TCP_SYN, ts: T0 });
  ft.setName(a, 'api.example.com'); // not the last flow: found by id
  ft.setName(b, 'cdn.example.net');
  ft.setName(999, 'nobody');
  ft.flush();
  t.equal(recs[0].serverName, 'api.example.com');
  t.equal(recs[1].serverName, 'cdn.example.net');
});

t.test('truncated or broken packets', async (t) => {
  const { ft, add, p } = table();
  // transport header truncated: counted, ports unknown
  fill(p, { src: '10.0.0.1', dst: '10.0.0.2', sport: 5, dport: 6, ts: T0 });
  p.hasL4 = false; p.sport = 0; p.dport = 0; p.error = 1;
  t.ok(ft.add(p) > 0);
  fill(p, { src: '10.0.0.1', dst: '10.0.0.2', ts: T0 });
  p.error = 4; // bad IP header length
  t.equal(ft.add(p), -1);
  t.equal(add({ src: '10.0.0.1', dst: '10.0.0.2', ts: T0 }) > 0, true);
});

// Against a plain Map model: same flows, same counts, whatever the order and churn.
t.test('property: matches a Map model; packets and bytes are conserved under eviction', async (t) => {
  const hosts = ['10.0.0.1', '10.0.0.2', '192.168.50.7', 'fe80::1', 'fe80::2', '2001:db8::9'];
  const pkt = fc.record({
    a: fc.integer({ min: 0, max: 2 }), b: fc.integer({ min: 0, max: 2 }), v6: fc.boolean(),
    sport: fc.integer({ min: 0, max: 3 }), dport: fc.integer({ min: 0, max: 3 }),
    proto: fc.constantFrom(6, 17, 47), len: fc.integer({ min: 20, max: 1500 }), vlan: fc.constantFrom(0, 50),
  });
  fc.assert(fc.property(fc.array(pkt, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (pkts, cap) => {
    const big = table({ maxFlows: 1024, advanceEveryMs: 1e12 });
    const small = table({ maxFlows: cap, advanceEveryMs: 1e12 });
    const model = new Map<string, { id: number; n: number; bytes: number }>();
    let ts = T0, total = 0, bytes = 0;
    for (const k of pkts) {
      const src = hosts[k.a + (k.v6 ? 3 : 0)], dst = hosts[k.b + (k.v6 ? 3 : 0)];
      const pk: Pkt = { src, dst, sport: k.sport, dport: k.dport, proto: k.proto, len: k.len, vlan: k.vlan, ts: ts++ };
      const id = big.add(pk);
      small.add(pk);
      total++; bytes += k.len;
      const e1 = `${k.vlan}|${k.proto}|${src}|${k.sport}|${dst}|${k.dport}`;
      const e2 = `${k.vlan}|${k.proto}|${dst}|${k.dport}|${src}|${k.sport}`;
      const m = model.get(e1) ?? model.get(e2);
      if (m) { if (m.id !== id) return false; m.n++; m.bytes += k.len; } else model.set(e1, { id, n: 1, bytes: k.len });
    }
    big.ft.flush(); small.ft.flush();
    if (big.recs.length !== model.size) return false;
    for (const r of big.recs) {
      const m = [...model.values()].find((x) => x.id === r.id)!;
      if (r.packets + r.packetsRev !== m.n || r.bytes + r.bytesRev !== m.bytes) return false;
    }
    const sp = small.recs.reduce((s, r) => s + r.packets + r.packetsRev, 0);
    const sb = small.recs.reduce((s, r) => s + r.bytes + r.bytesRev, 0);
    const st = small.ft.stats();
    return sp === total && sb === bytes && st.active === 0 && small.recs.length === st.created;
  }), { numRuns: 300 });
  t.pass('property held');
});

t.test('startOf(): a live flow\'s FlowStart as onStart gave it, through interim records; undefined once ended', async (t) => {
  const { ft, starts, recs, add } = table({ activeTimeoutMs: 1000 });
  const a = add({ src: '192.168.50.7', dst: '93.184.216.34', sport: 51000, dport: 80, flags: TCP_SYN, len: 64, ts: T0 + 0.5, vlan: 50 });
  // the SYN-ACK seen first: the receiver opened it (sureInitiator, ports turned round)
  const b = add({ src: '10.0.0.9', dst: '192.168.50.8', sport: 443, dport: 40000, flags: TCP_SYN | TCP_ACK, len: 60, ts: T0 + 1 });
  const c = add({ src: 'fe80::1', dst: 'fe80::2', sport: 5353, dport: 5353, proto: 17, len: 90, ts: T0 + 2 });
  t.equal(starts.length, 3);
  t.same(ft.startOf(a), starts[0], 'the first flow, found by id (not the last one added)');
  t.same(ft.startOf(b), starts[1]);
  t.same(ft.startOf(c), starts[2], 'IPv6 UDP, the last flow added');
  t.equal(starts[1].src, '192.168.50.8', 'a check of the check: the start was turned round');
  // past the active timeout: an interim record restarts the counters, not the flow's start
  t.equal(add({ src: '192.168.50.7', dst: '93.184.216.34', sport: 51000, dport: 80, flags: TCP_ACK, len: 1500, ts: T0 + 5000, vlan: 50 }), a);
  t.ok(recs.some((r) => r.id === a && !r.final), 'an interim record was sent');
  t.same(ft.startOf(a), starts[0], 'the same start after an interim record');
  t.equal(add({ src: '192.168.50.7', dst: '93.184.216.34', sport: 51000, dport: 80, flags: TCP_RST, len: 40, ts: T0 + 5001, vlan: 50 }), a);
  t.same(ft.startOf(a), starts[0], 'a reset flow lives on until its closed-TCP timeout');
  ft.advance(T0 + 5001 + 6000);
  t.equal(ft.startOf(a), undefined, 'an ended flow has no start');
  t.equal(ft.startOf(9999), undefined, 'nor an unknown id');
  ft.flush();
  t.equal(ft.startOf(b), undefined, 'nor a flushed one');
});

t.test('after a flush the table starts clean: the same conversations are new flows, each found again by its later packets', async (t) => {
  const { ft, starts, recs, add } = table();
  const conv = (i: number, ts: number, back = false) => back
    ? add({ src: `203.0.113.${i & 255}`, dst: `192.168.50.${1 + (i >> 8)}`, sport: 443, dport: 40000 + i, proto: 6, ts })
    : add({ src: `192.168.50.${1 + (i >> 8)}`, dst: `203.0.113.${i & 255}`, sport: 40000 + i, dport: 443, proto: 6, ts });
  const N = 3000;
  for (let i = 0; i < N; i++) conv(i, T0 + i);
  ft.flush();
  t.equal(recs.length, N);
  t.equal(ft.stats().active, 0);
  const ids = new Set<number>();
  for (let i = 0; i < N; i++) ids.add(conv(i, T0 + 10_000 + i));
  t.equal(starts.length, 2 * N, 'every conversation starts again after the flush');
  t.equal(ids.size, N);
  let same = 0;
  for (let i = 0; i < N; i++) if (ids.has(conv(i, T0 + 20_000 + i, true))) same++;
  t.equal(same, N, 'replies join the new flows: none lands in a new one');
  t.equal(ft.stats().active, N);
  ft.flush();
  t.equal(recs.length, 2 * N);
  t.ok(recs.slice(N).every((r) => r.packets === 1 && r.packetsRev === 1), 'each new flow has its packet and its reply');
});

t.test('srcKey and dstKey are addrKey() of src and dst, on starts and records, either way round, IPv4 and IPv6', async (t) => {
  const { ft, starts, recs, add } = table();
  // high and low addresses (int32 sign), a flow turned round by its SYN-ACK, IPv6, a mapped address
  add({ src: '203.0.113.9', dst: '10.0.0.1', sport: 60000, dport: 22, flags: TCP_SYN, ts: T0 });
  add({ src: '255.255.255.254', dst: '192.168.50.20', sport: 443, dport: 51000, flags: TCP_SYN | TCP_ACK, ts: T0 });
  add({ src: '0.0.0.1', dst: '128.0.0.0', sport: 1, dport: 2, proto: 17, ts: T0 });
  add({ src: '2001:db8::5', dst: 'fe80::1', sport: 1, dport: 2, proto: 17, ts: T0 });
  add({ src: '::ffff:10.0.0.1', dst: '::ffff:10.0.0.2', sport: 1, dport: 2, proto: 17, ts: T0 });
  ft.active(10).forEach((r) => recs.push(r));
  ft.flush();
  t.equal(starts.length, 5);
  t.equal(recs.length, 10, 'interim (active()) and final records');
  for (const e of [...starts, ...recs]) {
    t.equal(e.srcKey, addrKey(e.src), `srcKey of ${e.src}`);
    t.equal(e.dstKey, addrKey(e.dst), `dstKey of ${e.dst}`);
  }
  t.equal(starts[1].src, '192.168.50.20', 'the SYN-ACK turned it round');
});

/** a start's or record's fields, read by name in the order of `like`'s own (a reused object keeps some behind accessors) */
function factsText(e: object, like: object): string {
  return JSON.stringify(Object.fromEntries(Object.keys(like).map((k) => [k, (e as Record<string, unknown>)[k]])));
}

t.test('reuseStart and reuseRecord: one object each, filled in with each flow\'s facts as a new one would hold them', async (t) => {
  const pkts: Pkt[] = [
    { src: '192.168.50.10', dst: '8.8.8.8', sport: 40000, dport: 53, proto: 17, len: 70, ts: T0 },
    { src: '255.255.255.254', dst: '192.168.50.20', sport: 443, dport: 51000, flags: TCP_SYN | TCP_ACK, ts: T0 + 1 },
    { src: '2001:db8::5', dst: 'fe80::1', sport: 1, dport: 2, proto: 17, ts: T0 + 2 },
    { src: '203.0.113.9', dst: '10.0.0.1', sport: 60000, dport: 22, flags: TCP_SYN, ts: T0 + 3 },
    { src: '203.0.113.9', dst: '10.0.0.2', sport: 60001, dport: 22, flags: TCP_SYN, ts: T0 + 4 },
    { src: '2001:db8::6', dst: '2001:db8::7', sport: 3, dport: 4, proto: 17, ts: T0 + 5 },
  ];
  // `readDst(i)`: whether the i-th event reads dst at all (a stage that does not need it never
  // formats it; the next flow's must not be the one left unread)
  for (const [name, readDst] of [['every dst read', () => true], ['every other dst left unread', (i: number) => i % 2 === 1]] as const) {
    const fresh = table();
    const starts: string[] = [], recs: string[] = [];
    const objs = new Set<object>(), recObjs = new Set<object>();
    let n = 0, m = 0;
    const ft = new FlowTable({ reuseStart: true, reuseRecord: true }, {
      onStart: (e) => { objs.add(e); starts.push(readDst(n++) ? factsText(e, fresh.starts[0]) : ''); },
      onRecord: (r) => { recObjs.add(r); recs.push(readDst(m++) ? factsText(r, fresh.recs[0]) : ''); },
    });
    const p = new PacketInfo();
    for (const k of pkts) { fresh.add(k); ft.add(fill(p, k)); }
    fresh.ft.flush();
    ft.flush();
    t.equal(objs.size, 1, `${name}: the same FlowStart every time`);
    t.equal(recObjs.size, 1, `${name}: the same FlowRecord every time`);
    t.same(starts, fresh.starts.map((e, i) => readDst(i) ? factsText(e, fresh.starts[0]) : ''), `${name}: each start's fields, in the order, of a new FlowStart`);
    t.same(recs, fresh.recs.map((r, i) => readDst(i) ? factsText(r, fresh.recs[0]) : ''), `${name}: each record's fields, in the order, of a new FlowRecord`);
    t.equal(fresh.recs.length, pkts.length);
  }
});
