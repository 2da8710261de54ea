// FlowJsonLines writes, byte for byte, what JSON.stringify gives for a flow record's fields in
// DESIGN.md's order: for capture timestamps (its own digits), nanosecond and odd times
// (String()), numbers of every size, strings needing escapes, non-ASCII names, huge names.

import t from 'tap';
import fc from 'fast-check';
import { FlowJsonLines } from '../../../collector/cli/flow-json.js';
import type { FlowRecord } from '../../../collector/types.js';

/** The reference: JSON.stringify of the fields in the order the listing prints them. */
function reference(r: FlowRecord): string {
  const o: Record<string, unknown> = {
    start: r.start, end: r.end, proto: r.proto, src: r.src, sport: r.sport, dst: r.dst, dport: r.dport,
    packets: r.packets, bytes: r.bytes, packetsRev: r.packetsRev, bytesRev: r.bytesRev,
    srcMac: r.srcMac, dstMac: r.dstMac, vlan: r.vlan, tcpFlags: r.tcpFlags, origin: r.origin, exporter: r.exporter,
  };
  if (r.serverName !== undefined) o.serverName = r.serverName;
  o.final = r.final;
  o.id = r.id;
  return `${JSON.stringify(o)}\n`;
}

function written(records: FlowRecord[]): { bytes: Buffer; chunks: number } {
  const chunks: Buffer[] = [];
  const w = new FlowJsonLines((b) => chunks.push(b));
  for (const r of records) w.write(r);
  w.end();
  return { bytes: Buffer.concat(chunks), chunks: chunks.length };
}

function base(over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    id: 1, start: 1793534400000.07, end: 1793534400026.196, proto: 'udp', src: '192.168.50.115', sport: 30209,
    dst: '192.168.50.1', dport: 53, packets: 1, bytes: 72, packetsRev: 1, bytesRev: 88,
    srcMac: '00:17:88:50:00:0f', dstMac: '24:5a:4c:50:00:01', vlan: 50, tcpFlags: 0, origin: 'pcap', exporter: '', final: true,
    ...over,
  };
}

t.test('hand-picked records', async (t) => {
  const cases: FlowRecord[] = [
    base(),
    base({ start: 1000, end: 1000.001, final: false }),                 // the smallest time with own digits
    base({ start: 999.999, end: 0 }),                                    // below it: String()
    base({ start: 1793534400000.123456, end: 1793534400000.1234 }),       // nanosecond captures
    base({ start: 1793534400123, end: 1793534400123.5 }),                // whole ms, one digit
    base({ start: -5.25, end: 8.9e15 }),                                  // outside the fast range
    base({ proto: 47, sport: 0, dport: 0 }),
    base({ proto: 'icmpv6', src: 'fe80::1', dst: 'ff02::1:ff00:1', srcMac: '', dstMac: '' }),
    base({ packets: Number.MAX_SAFE_INTEGER, bytes: 2 ** 53 + 2, packetsRev: 0, bytesRev: 1e21 }),
    base({ origin: 'netflow', exporter: '10.0.0.1', id: 123456789012 }),
    base({ serverName: 'example.com' }),
    base({ serverName: 'we"ird\\name\u0001\u007f' }),
    base({ serverName: 'bücher.example 例え 🎥' }),
    base({ serverName: 'lone \ud800 surrogate \udfff' }),
    base({ serverName: 'x'.repeat(200_000) }),                            // longer than a chunk
    base({ src: 'not "ascii" é', dst: 'tab\there' }),                     // escapes in any string field
  ];
  const { bytes } = written(cases);
  t.equal(bytes.toString('utf8'), cases.map(reference).join(''));
  t.ok(bytes.equals(Buffer.from(cases.map(reference).join(''), 'utf8')), 'same bytes');
});

t.test('a listing spans chunks without losing or splitting a byte', async (t) => {
  const many: FlowRecord[] = [];
  for (let i = 0; i < 5000; i++) many.push(base({ id: i + 1, start: 1793534400000 + i * 0.001, end: 1793534401000 + i * 1.5, bytes: i * 977 }));
  const { bytes, chunks } = written(many);
  t.ok(chunks > 10, `${chunks} chunks`);
  t.equal(bytes.toString('utf8'), many.map(reference).join(''));
});

t.test('random records match JSON.stringify', async (t) => {
  const micros = fc.tuple(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999 }))
    .map(([s, us]) => s * 1000 + us / 1000);
  const time = fc.oneof(micros, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 2 ** 53 }),
    fc.tuple(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 })).map(([s, ns]) => s * 1000 + ns / 1e6));
  const count = fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true, noDefaultInfinity: true }));
  const text = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant(''), fc.string(), fc.string({ unit: 'binary' }));
  const record = fc.record({
    id: count, start: time, end: time,
    proto: fc.oneof(fc.constantFrom('tcp', 'udp', 'icmp', 'icmpv6'), fc.integer({ min: 0, max: 255 })),
    src: text, sport: fc.integer({ min: 0, max: 65535 }), dst: text, dport: fc.integer({ min: 0, max: 65535 }),
    packets: count, bytes: count, packetsRev: count, bytesRev: count,
    srcMac: text, dstMac: text, vlan: fc.integer({ min: 0, max: 4095 }), tcpFlags: fc.integer({ min: 0, max: 255 }),
    origin: fc.constantFrom('pcap', 'netflow', 'ipfix'), exporter: text, final: fc.boolean(),
    serverName: fc.option(fc.string({ unit: 'binary', maxLength: 300 }), { nil: undefined }),
  }) as fc.Arbitrary<FlowRecord>;
  fc.assert(fc.property(fc.array(record, { maxLength: 40 }), (rs) => {
    const clean = rs.map((r) => {
      const c = { ...r };
      if (c.serverName === undefined) delete c.serverName;
      return c;
    });
    return written(clean).bytes.toString('utf8') === clean.map(reference).join('');
  }), { numRuns: 3000, seed: 20261122 });
  t.pass('3000 random listings');
});
