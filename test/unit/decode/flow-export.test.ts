// FlowExportDecoder on hand-built datagrams: each requirement of issue 12 (item 2) with the
// bytes the RFCs draw, plus the hostile cases and the cache caps.
import t from 'tap';
import { FlowExportDecoder, type FlowExportOptions } from '../../../collector/decode/flow-export.js';
import type { ExportRecord } from '../../../collector/decode/flow-export-record.js';
import { set, template, ipfixOptionsTemplate, v9OptionsTemplate, ipfix, v9, v5, ip4, u16, u32, uintBytes, type FieldSpec } from './flow-export-build.js';

const NOW = 1_700_000_000_000;
const EXPORT = NOW / 1000;

function run(d: FlowExportDecoder, b: Uint8Array, exporter = '192.0.2.1', now = NOW, off = 0, len = b.length - off): ExportRecord[] {
  const out: ExportRecord[] = [];
  const n = d.decode(b, off, len, exporter, now, (r) => out.push({ ...r }));
  if (n !== out.length) throw new Error('return value differs from records delivered');
  return out;
}

// A typical 5-tuple template: addresses, ports, protocol, counters, flags, uptime times.
const FIVE: FieldSpec[] = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [2, 4], [1, 4], [6, 1], [22, 4], [21, 4]];
function fiveRec(src: string, dst: string, sport: number, dport: number, proto: number, pkts: number, bytes: number, flags: number, first: number, last: number): number[] {
  return [...ip4(src), ...ip4(dst), ...u16(sport), ...u16(dport), proto, ...u32(pkts), ...u32(bytes), flags, ...u32(first), ...u32(last)];
}

t.test('NetFlow v5: records, header sampling, uptime times, ICMP from the port, engine as domain', async (t) => {
  const d = new FlowExportDecoder();
  const b = v5({ uptime: 100_000, secs: EXPORT, nsecs: 250_000_000, seq: 7, engineType: 1, engineId: 2, sampling: (1 << 14) | 100 }, [
    { src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, proto: 6, packets: 3, bytes: 180, first: 90_000, last: 99_000, flags: 0x1b, inIf: 3, outIf: 4 },
    { src: '10.0.0.3', dst: '10.0.0.4', sport: 0, dport: 0x0800, proto: 1, packets: 1, bytes: 84, first: 100_000, last: 100_000 },
  ]);
  const r = run(d, b);
  t.equal(r.length, 2);
  t.match(r[0], { version: 5, domain: 0x0102, ipVersion: 4, src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, proto: 6, packets: 3, bytes: 180, tcpFlags: 0x1b, inIf: 3, outIf: 4, icmpType: -1 });
  // the mode bits (top 2) are not part of the interval; counters stay raw
  t.equal(r[0].samplingInterval, 100);
  t.equal(r[0].start, NOW + 250 - 10_000);
  t.equal(r[0].end, NOW + 250 - 1_000);
  t.match(r[1], { icmpType: 8, icmpCode: 0 });
  t.equal(d.stats().malformed, 0);
});

t.test('v5 truncated: the whole records before the cut are kept, the datagram is counted', async (t) => {
  const d = new FlowExportDecoder();
  const rec = { src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 17, packets: 1, bytes: 1, first: 0, last: 0 };
  const b = v5({ uptime: 0, secs: EXPORT, nsecs: 0, seq: 0, engineType: 0, engineId: 0, sampling: 0 }, [rec, rec, rec]);
  t.equal(run(d, b, '192.0.2.1', NOW, 0, b.length - 10).length, 2);
  t.equal(run(d, b.subarray(0, 20)).length, 0);
  const big = v5({ count: 1000, uptime: 0, secs: EXPORT, nsecs: 0, seq: 0, engineType: 0, engineId: 0, sampling: 0 }, [rec]);
  t.equal(run(d, big).length, 1);
  t.same(d.stats().malformedByReason, { v5_length: 1, short_header: 1, v5_count: 1 });
  t.equal(d.stats().malformed, 3);
});

t.test('v5 sequence numbers count records; wrap at 2^32; a backwards jump resyncs', async (t) => {
  const d = new FlowExportDecoder();
  const rec = { src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 17, packets: 1, bytes: 1, first: 0, last: 0 };
  const h = (seq: number) => ({ uptime: 0, secs: EXPORT, nsecs: 0, seq, engineType: 0, engineId: 0, sampling: 0 });
  run(d, v5(h(2 ** 32 - 2), [rec, rec]));   // next expected: 0 after the wrap
  run(d, v5(h(0), [rec]));                  // no loss across the wrap
  run(d, v5(h(6), [rec]));                  // 5 records missed (1..5)
  run(d, v5(h(3), [rec]));                  // backwards: restart, no count
  run(d, v5(h(4), [rec]));
  const s = d.stats();
  t.equal(s.lostRecords, 5);
  t.same(s.lost, [{ exporter: '192.0.2.1', domain: 0, version: 5, lost: 5 }]);
});

t.test('v9: template then data, padding, uptime times across the 32-bit wrap, counters not scaled', async (t) => {
  const d = new FlowExportDecoder();
  const uptime = 5_000; // the uptime counter wrapped 5 s ago
  const tpl = set(0, template(256, FIVE), 0);
  const data = set(256, [
    ...fiveRec('192.168.1.10', '8.8.8.8', 5353, 53, 17, 2, 150, 0, 2 ** 32 - 10_000, 1_000),
    ...fiveRec('192.168.1.11', '1.1.1.1', 40000, 443, 6, 10, 5000, 0x12, 2_000, 4_000),
  ], 3);
  const r = run(d, v9(42, 1, uptime, EXPORT, [tpl, data]));
  t.equal(r.length, 2, 'padding after the last record is not a record');
  t.match(r[0], { version: 9, domain: 42, src: '192.168.1.10', dst: '8.8.8.8', sport: 5353, dport: 53, proto: 17, packets: 2, bytes: 150, samplingInterval: 1 });
  t.equal(r[0].start, NOW - 15_000);
  t.equal(r[0].end, NOW - 4_000);
  t.equal(r[1].tcpFlags, 0x12);
  t.equal(d.stats().templates, 1);
  t.equal(d.stats().malformed, 0);
});

t.test('reduced-size integers: 1..8 byte counters, totals when no delta', async (t) => {
  const d = new FlowExportDecoder();
  for (const len of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const value = Math.min(2 ** (8 * len) - 1, 2 ** 53 - 1) - 3;
    const fields: FieldSpec[] = [[8, 4], [12, 4], [1, len], [86, len]];
    const b = v9(1, len, 0, EXPORT, [set(0, template(300, fields)), set(300, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...uintBytes(value, len), ...uintBytes(len, len)])]);
    const r = run(d, b);
    t.equal(r[0].bytes, value, `octetDeltaCount in ${len} bytes`);
    t.equal(r[0].packets, len, `packetTotalCount in ${len} bytes stands in for the delta`);
  }
});

t.test('v9 sequence numbers count packets; loss is per (exporter, source ID, version)', async (t) => {
  const d = new FlowExportDecoder();
  const tpl = set(0, template(256, FIVE));
  for (const seq of [10, 11, 14, 15]) run(d, v9(1, seq, 0, EXPORT, [tpl]));
  run(d, v9(2, 100, 0, EXPORT, [tpl]));
  run(d, v9(2, 101, 0, EXPORT, [tpl]));
  run(d, v9(1, 20, 0, EXPORT, [tpl]), '192.0.2.99');
  t.equal(d.stats().lostRecords, 2);
  t.same(d.stats().lost, [{ exporter: '192.0.2.1', domain: 1, version: 9, lost: 2 }]);
});

t.test('v9 options: sampler id -> rate, a rate without sampler id is the default; System scope is not an IE', async (t) => {
  const d = new FlowExportDecoder();
  // scope type 1 (System) must not be read as octetDeltaCount
  const opt = set(1, v9OptionsTemplate(257, [[1, 4]], [[48, 1], [34, 4]]), 2);
  const optDefault = set(1, v9OptionsTemplate(258, [[1, 4]], [[34, 4]]));
  const tplSampler = set(0, template(259, [[8, 4], [12, 4], [1, 4], [48, 1]]));
  const tplPlain = set(0, template(260, [[8, 4], [12, 4], [1, 4]]));
  const optData = set(257, [...u32(99), 5, ...u32(512)], 2);
  const optDefaultData = set(258, [...u32(99), ...u32(64)]);
  run(d, v9(7, 1, 0, EXPORT, [opt, optDefault, tplSampler, tplPlain, optData, optDefaultData]));
  const r = run(d, v9(7, 2, 0, EXPORT, [
    set(259, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(1000), 5]),
    set(259, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(1000), 6]),
    set(260, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(1000)]),
  ]));
  t.same(r.map((x) => x.samplingInterval), [512, 64, 64], 'sampler 5 -> 512; unknown sampler 6 and no sampler -> default 64');
  t.same(r.map((x) => x.bytes), [1000, 1000, 1000], 'counters are not scaled');
  // another exporter's options do not apply
  const other = run(d, v9(7, 1, 0, EXPORT, [tplPlain, set(260, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(1)])]), '192.0.2.2');
  t.equal(other[0].samplingInterval, 1);
});

t.test('IPFIX: variable-length fields, enterprise fields skipped, MACs, VLAN, interfaces, ICMP, direction', async (t) => {
  const d = new FlowExportDecoder();
  const fields: FieldSpec[] = [[27, 16], [28, 16], [4, 1], [139, 2], [1, 8], [2, 8], [56, 6], [80, 6], [243, 2], [10, 4], [14, 4], [61, 1],
    [96, 65535], [1, 4, 9], [95, 65535], [100, 65535, 2011], [152, 8], [153, 8]];
  const v6a = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
  const v6b = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2];
  const long = new Array(300).fill(0x41);
  const rec = [...v6a, ...v6b, 58, 128, 0, ...uintBytes(5000, 8), ...uintBytes(5, 8), 0xaa, 0xbb, 0xcc, 0, 1, 2, 1, 2, 3, 4, 5, 6, ...u16(30),
    ...u32(7), ...u32(8), 1, 3, 0x61, 0x62, 0x63, ...u32(0xdeadbeef), 255, ...u16(300), ...long, 0, ...uintBytes(NOW - 500, 8), ...uintBytes(NOW, 8)];
  const r = run(d, ipfix(5, 0, EXPORT, [set(2, template(400, fields)), set(400, [...rec, ...rec])]));
  t.equal(r.length, 2);
  t.match(r[1], {
    version: 10, domain: 5, ipVersion: 6, src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0,
    bytes: 5000, packets: 5, srcMac: 'aa:bb:cc:00:01:02', dstMac: '01:02:03:04:05:06', vlan: 30, inIf: 7, outIf: 8, direction: 1,
    start: NOW - 500, end: NOW, biflow: false,
  });
  t.equal(d.stats().malformed, 0);
});

t.test('IPFIX biflow (RFC 5103): reverse elements under PEN 29305', async (t) => {
  const d = new FlowExportDecoder();
  const fields: FieldSpec[] = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [1, 4], [2, 4], [6, 1], [1, 4, 29305], [2, 4, 29305], [6, 1, 29305], [150, 4], [151, 4]];
  const rec = [...ip4('10.0.0.5'), ...ip4('10.0.0.6'), ...u16(50000), ...u16(22), 6, ...u32(4000), ...u32(20), 0x1b, ...u32(90000), ...u32(30), 0x12, ...u32(EXPORT - 60), ...u32(EXPORT)];
  const r = run(d, ipfix(1, 0, EXPORT, [set(2, template(256, fields)), set(256, rec)]));
  t.match(r[0], { biflow: true, bytes: 4000, packets: 20, tcpFlags: 0x1b, bytesRev: 90000, packetsRev: 30, tcpFlagsRev: 0x12, start: NOW - 60_000, end: NOW });
});

t.test('IPFIX times: NTP micro/nanoseconds, delta microseconds, sysUpTime with systemInitTimeMilliseconds from options data', async (t) => {
  const d = new FlowExportDecoder();
  const ntp = (ms: number) => { const s = Math.floor(ms / 1000); return [...u32(s + 2208988800), ...u32(Math.round(((ms - s * 1000) / 1000) * 2 ** 32))]; };
  const a = run(d, ipfix(1, 0, EXPORT, [set(2, template(256, [[8, 4], [12, 4], [156, 8], [155, 8]])), set(256, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...ntp(NOW - 1234.5), ...ntp(NOW - 10)])]));
  t.ok(Math.abs(a[0].start - (NOW - 1234.5)) < 0.001);
  t.ok(Math.abs(a[0].end - (NOW - 10)) < 0.001);
  const b = run(d, ipfix(1, 1, EXPORT, [set(2, template(257, [[8, 4], [12, 4], [158, 4], [159, 4]])), set(257, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(3_000_000), ...u32(1_000)])]));
  t.same([b[0].start, b[0].end], [NOW - 3000, NOW - 1]);
  const init = NOW - 86_400_000;
  const c = run(d, ipfix(1, 2, EXPORT, [
    set(3, ipfixOptionsTemplate(258, 1, [[149, 4], [160, 8]])), set(258, [...u32(1), ...uintBytes(init, 8)]),
    set(2, template(259, [[8, 4], [12, 4], [22, 4], [21, 4]])), set(259, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(5000), ...u32(9000)]),
  ]));
  t.same([c[0].start, c[0].end], [init + 5000, init + 9000]);
  // Without an init time there is no epoch for sysUpTime: the export time stands in.
  const e = run(new FlowExportDecoder(), ipfix(1, 0, EXPORT, [set(2, template(259, [[8, 4], [12, 4], [22, 4], [21, 4]])), set(259, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(5000), ...u32(9000)])]));
  t.same([e[0].start, e[0].end], [NOW, NOW]);
});

t.test('IPFIX options: selectorId -> samplingPacketInterval; the record carries the rate', async (t) => {
  const d = new FlowExportDecoder();
  run(d, ipfix(3, 0, EXPORT, [set(3, ipfixOptionsTemplate(300, 1, [[302, 4], [305, 4]])), set(300, [...u32(77), ...u32(1000)])]));
  const r = run(d, ipfix(3, 1, EXPORT, [set(2, template(301, [[8, 4], [12, 4], [302, 4], [2, 4]])), set(301, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(77), ...u32(3)])]));
  t.match(r[0], { samplingInterval: 1000, packets: 3 });
  const s = run(d, ipfix(3, 2, EXPORT, [set(2, template(302, [[8, 4], [12, 4], [34, 4]])), set(302, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(10)])]));
  t.equal(s[0].samplingInterval, 10);
});

t.test('IPFIX sequence numbers count data records', async (t) => {
  const d = new FlowExportDecoder();
  const tpl = set(2, template(256, [[8, 4], [12, 4]]));
  const recs = (n: number) => set(256, new Array(n).fill([...ip4('10.0.0.1'), ...ip4('10.0.0.2')]).flat());
  run(d, ipfix(1, 100, EXPORT, [tpl, recs(3)]));
  run(d, ipfix(1, 103, EXPORT, [recs(2)]));
  run(d, ipfix(1, 110, EXPORT, [recs(1)]));   // 5 missed
  run(d, ipfix(1, 111, EXPORT, [tpl]));        // template-only message: no records, next is still 111
  run(d, ipfix(1, 111, EXPORT, [recs(1)]));
  t.equal(d.stats().lostRecords, 5);
});

t.test('templates are scoped by exporter and observation domain, not port', async (t) => {
  const d = new FlowExportDecoder();
  const rec = [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u16(1), ...u16(2)];
  run(d, ipfix(1, 0, EXPORT, [set(2, template(256, [[8, 4], [12, 4], [7, 2], [11, 2]]))]));
  run(d, ipfix(2, 0, EXPORT, [set(2, template(256, [[12, 4], [8, 4], [11, 2], [7, 2]]))]));
  const a = run(d, ipfix(1, 0, EXPORT, [set(256, rec)]));
  const b = run(d, ipfix(2, 0, EXPORT, [set(256, rec)]));
  t.match(a[0], { src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  t.match(b[0], { src: '10.0.0.2', dst: '10.0.0.1', sport: 2, dport: 1 });
  t.equal(run(d, ipfix(1, 0, EXPORT, [set(256, rec)]), '2001:db8::9').length, 0, 'another exporter (IPv6) has no template');
  t.equal(d.stats().noTemplate, 1);
});

t.test('IPFIX withdrawal: one template, then all of a kind with the set id', async (t) => {
  const d = new FlowExportDecoder();
  const rec = [...ip4('10.0.0.1'), ...ip4('10.0.0.2')];
  run(d, ipfix(1, 0, EXPORT, [set(2, [...template(256, [[8, 4], [12, 4]]), ...template(257, [[8, 4], [12, 4]])]), set(3, ipfixOptionsTemplate(258, 1, [[149, 4], [34, 4]]))]));
  t.equal(d.stats().templates, 3);
  run(d, ipfix(1, 0, EXPORT, [set(2, [...u16(256), ...u16(0)])]));
  t.equal(run(d, ipfix(1, 0, EXPORT, [set(256, rec)])).length, 0);
  t.equal(run(d, ipfix(1, 0, EXPORT, [set(257, rec)])).length, 1);
  run(d, ipfix(1, 0, EXPORT, [set(2, [...u16(2), ...u16(0)])]));
  t.equal(d.stats().templates, 1, 'withdraw-all of set 2 keeps the options template');
  t.equal(d.stats().templatesWithdrawn, 2);
});

t.test('templates expire when not refreshed; a refresh keeps them', async (t) => {
  const d = new FlowExportDecoder({ templateTimeoutMs: 60_000 });
  const tpl = set(2, template(256, [[8, 4], [12, 4]]));
  const data = set(256, [...ip4('10.0.0.1'), ...ip4('10.0.0.2')]);
  run(d, ipfix(1, 0, EXPORT, [tpl]), '192.0.2.1', NOW);
  t.equal(run(d, ipfix(1, 0, EXPORT, [data]), '192.0.2.1', NOW + 50_000).length, 1);
  run(d, ipfix(1, 0, EXPORT, [tpl]), '192.0.2.1', NOW + 50_000);
  t.equal(run(d, ipfix(1, 0, EXPORT, [data]), '192.0.2.1', NOW + 100_000).length, 1, 'refreshed at +50 s');
  t.equal(run(d, ipfix(1, 0, EXPORT, [data]), '192.0.2.1', NOW + 111_000).length, 0, 'expired');
  t.equal(d.stats().templatesExpired, 1);
  // the periodic sweep removes templates nobody asks for
  run(d, ipfix(9, 0, EXPORT, [tpl]), '192.0.2.1', NOW + 200_000);
  run(d, ipfix(8, 0, EXPORT, []), '192.0.2.1', NOW + 300_000);
  t.equal(d.stats().templates, 0);
});

t.test('caps: per domain, in total (least recently refreshed go first), scopes', async (t) => {
  const opts: FlowExportOptions = { maxTemplates: 10, maxTemplatesPerDomain: 4, maxScopes: 3 };
  const d = new FlowExportDecoder(opts);
  const tpls = (ids: number[]) => set(2, ids.flatMap((id) => template(id, [[8, 4], [12, 4]])));
  run(d, ipfix(1, 0, EXPORT, [tpls([256, 257, 258, 259, 260])]));
  t.equal(d.stats().templates, 4);
  t.equal(run(d, ipfix(1, 0, EXPORT, [set(256, [...ip4('10.0.0.1'), ...ip4('10.0.0.2')])])).length, 0, 'the oldest of the domain went');
  run(d, ipfix(2, 0, EXPORT, [tpls([256, 257, 258, 259])]));
  run(d, ipfix(1, 0, EXPORT, [tpls([257])])); // refresh: now the newest
  run(d, ipfix(3, 0, EXPORT, [tpls([256, 257, 258])]));
  t.equal(d.stats().templates, 10);
  t.equal(run(d, ipfix(1, 0, EXPORT, [set(257, [...ip4('10.0.0.1'), ...ip4('10.0.0.2')])])).length, 1, 'the refreshed one survived');
  t.equal(run(d, ipfix(1, 0, EXPORT, [set(258, [...ip4('10.0.0.1'), ...ip4('10.0.0.2')])])).length, 0);
  run(d, ipfix(4, 0, EXPORT, [tpls([256])]));
  // scope 2 was the least recently used of three: it goes with its 4 templates
  t.equal(d.stats().templates, 7);
  t.equal(d.stats().templatesEvicted, 1 + 1 + 4, 'per-domain cap, total cap, scope cap');
});

t.test('hostile: lengths past the end, short sets, zero-length and oversize templates; records before a fault kept', async (t) => {
  const tpl = set(2, template(256, [[8, 4], [12, 4]]));
  const rec = [...ip4('10.0.0.1'), ...ip4('10.0.0.2')];
  const cases: Array<[string, Buffer, number, string]> = [];
  // message length says more than the datagram holds: the sets that fit are decoded
  const long = ipfix(1, 0, EXPORT, [tpl, set(256, rec)]);
  long.writeUInt16BE(long.length + 100, 2);
  cases.push(['IPFIX length past the end', long, 1, 'message_length']);
  const shortSet = ipfix(1, 0, EXPORT, [tpl, set(256, rec), [0x01, 0x00, 0x00, 0x02]]);
  cases.push(['set length < 4', shortSet, 1, 'set_length']);
  const pastEnd = ipfix(1, 0, EXPORT, [tpl, set(256, rec), [0x01, 0x00, 0x01, 0x00, 1, 2, 3, 4]]);
  cases.push(['set length past the end', pastEnd, 1, 'set_length']);
  const huge = ipfix(1, 0, EXPORT, [set(2, [...u16(300), ...u16(60000), 0, 8, 0, 4])]);
  cases.push(['field count huge vs set length', huge, 0, 'template_length']);
  const zero = ipfix(1, 0, EXPORT, [set(2, template(301, [[8, 0], [12, 0]])), set(301, new Array(400).fill(0))]);
  cases.push(['zero-length records', zero, 0, 'zero_length_template']);
  const v9zero = v9(1, 0, 0, EXPORT, [set(0, [...u16(302), ...u16(0)])]);
  cases.push(['v9 template with no fields', v9zero, 0, 'zero_field_template']);
  const v9opt = v9(1, 0, 0, EXPORT, [set(1, [...u16(303), ...u16(400), ...u16(4), 0, 1, 0, 4])]);
  cases.push(['v9 options scope length past the set', v9opt, 0, 'template_length']);
  const varlen = ipfix(1, 0, EXPORT, [set(2, template(304, [[8, 4], [96, 65535]])), set(304, [...ip4('10.0.0.1'), 3, 0x61, 0x62, 0x63, ...ip4('10.0.0.1'), 200, 0x61])]);
  cases.push(['variable length past the set', varlen, 1, 'record_length']);
  cases.push(['unknown version', Buffer.from([0, 7, 0, 0]), 0, 'bad_version']);
  cases.push(['one byte', Buffer.from([0]), 0, 'short_header']);
  cases.push(['v9 header cut', v9(1, 0, 0, EXPORT, []).subarray(0, 12), 0, 'short_header']);
  cases.push(['template id below 256', ipfix(1, 0, EXPORT, [set(2, template(100, [[8, 4]]))]), 0, 'template_id']);
  cases.push(['options scope count 0', ipfix(1, 0, EXPORT, [set(3, ipfixOptionsTemplate(305, 0, [[8, 4]]))]), 0, 'options_scope']);
  for (const [name, b, want, reason] of cases) {
    const d = new FlowExportDecoder();
    t.equal(run(d, b).length, want, `${name}: records`);
    t.equal(d.stats().malformedByReason[reason], 1, `${name}: counted as ${reason} ${JSON.stringify(d.stats().malformedByReason)}`);
    t.equal(d.stats().malformed, 1, `${name}: one malformed datagram`);
  }
  const d = new FlowExportDecoder();
  t.equal(d.decode(Buffer.alloc(10), 5, 20, 'x', NOW, () => {}), 0, 'a range past the buffer');
  t.equal(d.stats().malformedByReason.bad_bounds, 1);
});

t.test('a Uint8Array view at an offset decodes as a Buffer does', async (t) => {
  const b = ipfix(1, 0, EXPORT, [set(2, template(256, FIVE)), set(256, fiveRec('10.0.0.1', '10.0.0.2', 1, 2, 6, 3, 4, 2, 0, 0))]);
  const big = new ArrayBuffer(b.length + 64);
  const view = new Uint8Array(big, 16, b.length + 32);
  view.set(b, 9);
  const a = run(new FlowExportDecoder(), b);
  const c = run(new FlowExportDecoder(), view, '192.0.2.1', NOW, 9, b.length);
  t.same(c, a);
});

t.test('ICMP from icmpTypeIPv4/icmpCodeIPv4, post MACs when no pre ones, ICMP elements ignored outside ICMP', async (t) => {
  const d = new FlowExportDecoder();
  const F: FieldSpec[] = [[8, 4], [12, 4], [4, 1], [176, 1], [177, 1], [81, 6], [57, 6]];
  const rec = (proto: number) => [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), proto, 3, 1, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1];
  const r = run(d, ipfix(1, 0, EXPORT, [set(2, template(256, F)), set(256, [...rec(1), ...rec(17)])]));
  t.match(r[0], { icmpType: 3, icmpCode: 1, srcMac: '01:02:03:04:05:06', dstMac: '06:05:04:03:02:01' });
  t.match(r[1], { icmpType: -1, icmpCode: -1 });
});

t.test('v9 samplerRandomInterval (50) in options data', async (t) => {
  const d = new FlowExportDecoder();
  const r = run(d, v9(3, 0, 0, EXPORT, [
    set(1, v9OptionsTemplate(256, [[2, 2]], [[48, 2], [49, 1], [50, 4]]), 3),
    set(256, [0, 1, ...u16(9), 2, ...u32(250)], 3),
    set(0, template(257, [[8, 4], [12, 4], [48, 2]])),
    set(257, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u16(9)]),
  ]));
  t.equal(r[0].samplingInterval, 250);
  t.equal(d.stats().malformed, 0);
});

t.test('PSAMP options (RFC 5477): n-out-of-N and interval + space give the rate', async (t) => {
  const d = new FlowExportDecoder();
  const tpl = set(2, template(301, [[8, 4], [12, 4], [302, 4]]));
  const data = (sel: number) => set(301, [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u32(sel)]);
  // Cisco's random sampler map as pmacct-104 sends it: interval 1, size 1 of population 256
  run(d, ipfix(4, 0, EXPORT, [set(3, ipfixOptionsTemplate(300, 1, [[302, 4], [305, 4], [309, 4], [310, 4]])), set(300, [...u32(1), ...u32(1), ...u32(1), ...u32(256)])]));
  run(d, ipfix(4, 1, EXPORT, [set(3, ipfixOptionsTemplate(299, 1, [[302, 4], [305, 4], [306, 4]])), set(299, [...u32(2), ...u32(2), ...u32(98)])]));
  const r = run(d, ipfix(4, 2, EXPORT, [tpl, data(1), data(2)]));
  t.same(r.map((x) => x.samplingInterval), [256, 50]);
});
