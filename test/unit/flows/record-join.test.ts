// Export records to bidirectional flows: joining, the opener, sampling, ids, bounded memory.

import t from 'tap';
import { RecordJoin } from '../../../collector/flows/record-join.js';
import { newExportRecord, type ExportRecord } from '../../../collector/decode/flow-export-record.js';
import type { FlowRecord } from '../../../collector/types.js';

function rec(o: Partial<ExportRecord>): ExportRecord {
  return Object.assign(newExportRecord(), {
    version: 9, exporter: '192.0.2.1', ipVersion: 4, proto: 6, packets: 10, bytes: 1000, start: 1000, end: 2000,
  }, o);
}

function join(opts = {}) {
  const out: FlowRecord[] = [];
  const j = new RecordJoin((r) => out.push(r), opts);
  return { j, out };
}

const client = { src: '192.168.50.10', sport: 50000, dst: '203.0.113.5', dport: 443 };
const server = { src: '203.0.113.5', sport: 443, dst: '192.168.50.10', dport: 50000 };

t.test('two directions join into one flow; the earlier start opened it', async (t) => {
  const { j, out } = join();
  // the reply comes first in the datagram, the request started earlier
  j.add(rec({ ...server, packets: 8, bytes: 9000, start: 1010, end: 2000, tcpFlags: 0x12 }), 5000);
  t.equal(out.length, 0, 'held for its reverse');
  j.add(rec({ ...client, packets: 10, bytes: 800, start: 1000, end: 1990, tcpFlags: 0x1a, srcMac: 'aa:bb:cc:00:00:01' }), 5000);
  t.equal(out.length, 0, 'joined, out when the window of its first record has passed');
  j.tick(7999);
  t.equal(out.length, 0);
  j.tick(8000);
  t.equal(out.length, 1);
  const r = out[0];
  t.match(r, { src: client.src, sport: 50000, dst: server.src, dport: 443, packets: 10, bytes: 800, packetsRev: 8, bytesRev: 9000,
    start: 1000, end: 2000, tcpFlags: 0x1a, proto: 'tcp', origin: 'netflow', exporter: '192.0.2.1', sureInitiator: true, srcMac: 'aa:bb:cc:00:00:01' });
  t.equal(j.stats().joined, 1);
  t.equal(j.stats().pending, 0);
});

t.test('same start: the port rules decide, and the flow says the opener is a guess', async (t) => {
  const { j, out } = join();
  j.add(rec({ ...server, start: 1000 }), 0);
  j.add(rec({ ...client, start: 1000 }), 0);
  j.flush();
  t.match(out[0], { src: client.src, dport: 443, sureInitiator: false });
  // cumulative SYN on both sides tells nothing either
  const b = join();
  b.j.add(rec({ ...server, start: 1000, tcpFlags: 0x12 }), 0);
  b.j.add(rec({ ...client, start: 1000, tcpFlags: 0x02 | 0x10 }), 0);
  b.j.flush();
  t.match(b.out[0], { src: client.src, sureInitiator: false });
});

t.test('an IPFIX biflow: the forward side opened it', async (t) => {
  const { j, out } = join();
  j.add(rec({ ...server, version: 10, biflow: true, packets: 3, bytes: 300, packetsRev: 4, bytesRev: 400, tcpFlags: 0x12, tcpFlagsRev: 0x02 }), 0);
  j.tick(3000);
  t.equal(out.length, 1);
  // the exporter says the side on 443 opened it: believed, though the port rules would say otherwise
  t.match(out[0], { src: server.src, sport: 443, packets: 3, bytes: 300, packetsRev: 4, bytesRev: 400, origin: 'ipfix', sureInitiator: true, tcpFlags: 0x12 });
});

t.test('sampling scales packets and bytes', async (t) => {
  const { j, out } = join();
  j.add(rec({ ...client, samplingInterval: 100, packets: 2, bytes: 120 }), 0);
  j.flush();
  t.match(out[0], { packets: 200, bytes: 12000, packetsRev: 0, bytesRev: 0 });
  const b = join();
  b.j.add(rec({ ...client, version: 10, biflow: true, samplingInterval: 10, packets: 1, bytes: 60, packetsRev: 2, bytesRev: 100 }), 0);
  b.j.flush();
  t.match(b.out[0], { packets: 10, bytes: 600, packetsRev: 20, bytesRev: 1000 });
});

t.test('a record alone goes out after the window; the port rules orient it', async (t) => {
  const { j, out } = join({ windowMs: 3000 });
  j.add(rec({ ...server, proto: 17, sport: 53, dport: 40000, src: '192.168.50.1', dst: '192.168.50.10' }), 10_000);
  j.tick(12_999);
  t.equal(out.length, 0, 'still waiting');
  j.tick(13_000);
  t.equal(out.length, 1);
  // the reply from port 53: the client opened, it sent nothing the exporter kept
  t.match(out[0], { proto: 'udp', src: '192.168.50.10', sport: 40000, dst: '192.168.50.1', dport: 53, packets: 0, packetsRev: 10, sureInitiator: false });
  t.equal(j.stats().single, 1);
});

t.test('SYNs never acknowledged: the sender opened (a scan)', async (t) => {
  const { j, out } = join();
  j.add(rec({ src: '192.168.50.10', sport: 443, dst: '192.168.50.20', dport: 50123, tcpFlags: 0x02 }), 0);
  j.flush();
  t.match(out[0], { src: '192.168.50.10', sport: 443, sureInitiator: true, packets: 10 });
});

t.test('interim records of one conversation keep its id and its opener', async (t) => {
  const { j, out } = join({ windowMs: 1000 });
  j.add(rec({ ...client, start: 1000, end: 60_000 }), 60_000);
  j.add(rec({ ...server, start: 1005, end: 60_000 }), 60_000);
  // the next active-timeout records: the server's starts first this time
  j.add(rec({ ...server, start: 60_001, end: 120_000 }), 120_000);
  j.add(rec({ ...client, start: 60_002, end: 120_000 }), 120_000);
  // and a record of the client alone later still
  j.add(rec({ ...client, start: 120_001, end: 130_000 }), 130_000);
  j.tick(140_000);
  t.equal(out.length, 3);
  t.same(new Set(out.map((r) => r.id)).size, 1, 'one id');
  t.ok(out.every((r) => r.src === client.src && r.sport === 50000), 'the first opener stays the opener');
  // another conversation gets another id
  j.add(rec({ ...client, sport: 50001 }), 140_000);
  j.flush();
  t.not(out[3].id, out[0].id);
  // forgotten once quiet: a new id
  const b = join({ conversationIdleMs: 1000 });
  b.j.add(rec(client), 0); b.j.flush(); b.j.tick(5000);
  b.j.add(rec(client), 6000); b.j.flush();
  t.not(b.out[0].id, b.out[1].id);
});

t.test('ICMP is joined without ports (type and code differ between echo and reply)', async (t) => {
  const { j, out } = join();
  j.add(rec({ proto: 1, src: '192.168.50.10', dst: '198.51.100.1', sport: 0, dport: 0x0800, icmpType: 8, icmpCode: 0, start: 1000 }), 0);
  j.add(rec({ proto: 1, src: '198.51.100.1', dst: '192.168.50.10', sport: 0, dport: 0, icmpType: 0, icmpCode: 0, start: 1001 }), 0);
  j.flush();
  t.equal(out.length, 1);
  // the opener's type and code in dport, as NetFlow carries them: 8 << 8 | 0, echo-request
  t.match(out[0], { proto: 'icmp', src: '192.168.50.10', sport: 0, dport: 0x0800, packets: 10, packetsRev: 10, tcpFlags: 0 });
});

t.test('VLAN and exporter keep conversations apart; no-address records are skipped', async (t) => {
  const { j, out } = join();
  j.add(rec({ ...client, vlan: 50 }), 0);
  j.add(rec({ ...server, vlan: 60 }), 0);
  j.add(rec({ ...server, vlan: 50, exporter: '192.0.2.2' }), 0);
  j.add(rec({ ipVersion: 0, src: '', dst: '' }), 0);
  t.equal(out.length, 0);
  j.flush();
  t.equal(out.length, 3);
  t.equal(j.stats().noAddress, 1);
  t.match(out.find((r) => r.vlan === 50 && r.exporter === '192.0.2.1'), { vlan: 50 });
});

t.test('memory is bounded: held records and remembered conversations', async (t) => {
  const { j, out } = join({ maxPending: 100, maxConversations: 500 });
  for (let i = 0; i < 10_000; i++) j.add(rec({ ...client, sport: 1024 + i }), i);
  const s = j.stats();
  // records waiting for their reverse, and flows waiting for their window: each at most maxPending
  t.ok(s.pending <= 200, `held ${s.pending}`);
  t.ok(s.conversations <= 500, `remembered ${s.conversations}`);
  t.equal(s.pendingEvicted, 10_000 - 100);
  j.flush();
  t.equal(out.length, 10_000, 'none lost');
  t.equal(j.stats().pending, 0);
});

t.test('flows go out in the order they started: a pair that met at once does not overtake a record waiting for its reverse', async (t) => {
  const { j, out } = join();
  // a scan: SYNs to two hosts that never answer, then to one that answers with a RST-ACK,
  // all expired by the exporter in one batch, the answered one first
  const scanner = { src: '192.168.50.77', sport: 61000, dport: 80 };
  j.add(rec({ ...scanner, dst: '192.168.50.21', start: 3000, tcpFlags: 0x02, packets: 1 }), 10_000);
  j.add(rec({ src: '192.168.50.21', sport: 80, dst: '192.168.50.77', dport: 61000, start: 3001, tcpFlags: 0x14, packets: 1 }), 10_000);
  j.add(rec({ ...scanner, dst: '192.168.50.2', start: 1000, tcpFlags: 0x02, packets: 1 }), 10_000);
  j.add(rec({ ...scanner, dst: '192.168.50.3', start: 2000, tcpFlags: 0x02, packets: 1 }), 10_000);
  j.tick(13_000);
  t.same(out.map((r) => r.dst), ['192.168.50.2', '192.168.50.3', '192.168.50.21']);
  // the joined pair keeps the opener's own flags apart from the target's RST-ACK
  t.match(out[2], { tcpFlags: 0x16, openerTcpFlags: 0x02, packetsRev: 1 });
});

t.test('two receivers and the flow table never share a flow id', async (t) => {
  const a = join(), b = join();
  a.j.add(rec(client), 0); a.j.flush();
  b.j.add(rec(client), 0); b.j.flush();
  t.not(a.out[0].id, b.out[0].id, 'one counter for every receiver');
  t.ok(a.out[0].id >= 2 ** 40, 'above the ids the flow table counts from 1');
});
