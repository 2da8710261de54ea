// decodeDns on real DNS and mDNS traffic, compared with tshark; malformed captures must not throw.
import t from 'tap';
import { decodeDns, DNS_MAX_JUMPS } from '../../../collector/decode/dns.js';
import { capture, eachPacket, tsharkFields } from './frames.js';

function dnsOf(rel: string) {
  const out = new Map<number, ReturnType<typeof decodeDns>>();
  eachPacket(capture(rel), (p, n) => {
    if (p.hasL4 && p.proto === 17 && (p.sport === 53 || p.dport === 53 || p.sport === 5353 || p.dport === 5353) && !p.isFragment) {
      out.set(n, decodeDns(p.buf, p.payloadOffset, p.payloadLength));
    }
  });
  return out;
}

const norm = (xs: string[]) => xs.map((x) => x.toLowerCase()).sort().join(',');
// tshark prints a repeated compressed owner name once per message, so names compare as sets.
const normSet = (xs: string[]) => [...new Set(xs.map((x) => x.toLowerCase()))].sort().join(',');
const F = ['frame.number', 'dns.id', 'dns.flags.response', 'dns.qry.name', 'dns.resp.name', 'dns.a', 'dns.aaaa', 'dns.ptr.domain_name', 'dns.srv.target', 'dns.srv.port', 'dns.resp.ttl', 'dns.count.answers'];

for (const rel of ['proto/zeek-dns_mdns.pcap', 'iot/iotsentinel/HueBridge-Setup-A-1-STA.pcap', 'iot/iotsentinel/D-LinkHomeHub-Setup-A-1-STA.pcap', 'iot/ndpi-nest_log_sink.pcap', 'decode/tcpdump-LINKTYPE_RAW_ipv6.pcap']) {
  t.test(`${rel} matches tshark`, async (tt) => {
    const ours = dnsOf(rel);
    const rows = tsharkFields(capture(rel), F, '(dns || mdns) && !icmp && !icmpv6 && !(ip.flags.mf == 1) && !(ip.frag_offset > 0)', ['-o', 'ip.defragment:FALSE']);
    tt.ok(rows.length > 0, `${rows.length} DNS messages in tshark`);
    let compared = 0, records = 0;
    for (const r of rows) {
      const m = ours.get(Number(r[0]));
      if (!m) { tt.fail(`frame ${r[0]}: we decoded no DNS message`); continue; }
      const all = [...m.answers, ...m.authority, ...m.additional];
      const where = `frame ${r[0]}`;
      tt.equal(m.id, Number(r[1]), `${where} id`);
      tt.equal(m.qr, r[2] === 'True' || r[2] === '1', `${where} qr`);
      tt.equal(norm(m.questions.map((q) => q.name)), norm(r[3] ? r[3].split(',') : []), `${where} questions`);
      tt.equal(normSet(all.map((x) => x.name)), normSet(r[4] ? r[4].split(',') : []), `${where} record names`);
      tt.equal(norm(all.filter((x) => x.type === 1).map((x) => x.data)), norm(r[5] ? r[5].split(',') : []), `${where} A`);
      tt.equal(norm(all.filter((x) => x.type === 28).map((x) => x.data)), norm(r[6] ? r[6].split(',') : []), `${where} AAAA`);
      tt.equal(norm(all.filter((x) => x.type === 12).map((x) => x.data)), norm(r[7] ? r[7].split(',') : []), `${where} PTR`);
      tt.equal(norm(all.filter((x) => x.type === 33).map((x) => x.data)), norm(r[8] ? r[8].split(',') : []), `${where} SRV target`);
      tt.equal(norm(all.filter((x) => x.type === 33).map((x) => String(x.srv?.port))), norm(r[9] ? r[9].split(',') : []), `${where} SRV port`);
      tt.equal(norm(all.map((x) => String(x.ttl))), norm(r[10] ? r[10].split(',') : []), `${where} TTLs`);
      tt.equal(m.answers.length, Number(r[11]), `${where} answer count`);
      tt.equal(m.incomplete, false);
      compared++; records += all.length;
    }
    tt.equal(compared, rows.length);
    if (!rel.includes('RAW')) tt.ok(records > 0, `${records} records compared`);
  });
}

t.test('mDNS cache-flush and unicast-response bits are masked off the class', async (tt) => {
  let flush = 0, qu = 0;
  for (const m of dnsOf('proto/zeek-dns_mdns.pcap').values()) {
    for (const r of [...m!.answers, ...m!.additional]) { tt.ok(r.class < 0x8000); if (r.cacheFlush) flush++; }
    for (const q of m!.questions) { tt.ok(q.class < 0x8000); if (q.unicastResponse) qu++; }
  }
  tt.ok(flush > 0, `${flush} cache-flush records seen`);
  tt.ok(qu >= 0);
});

t.test('malformed DNS captures decode without throwing', async (tt) => {
  let n = 0;
  for (const rel of ['decode/ndpi-malformed_dns.pcap', 'decode/zeek-dns_dns-corrupt.pcap', 'decode/ndpi-badpackets.pcap']) {
    eachPacket(capture(rel), (p) => {
      if (p.payloadLength > 0) { decodeDns(p.buf, p.payloadOffset, p.payloadLength); n++; }
    });
  }
  tt.ok(n >= 90, `${n} payloads fed`);
});

function msg(parts: number[]): Uint8Array { return Uint8Array.from(parts); }

t.test('compression loops and forward pointers are refused; caps hold', async (tt) => {
  // header: 1 question; question name is a pointer to itself (offset 12)
  const self = msg([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  tt.equal(decodeDns(self, 0, self.length), null, 'pointer to itself');
  const fwd = msg([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 0x61, 0, 0, 1, 0, 1]);
  tt.equal(decodeDns(fwd, 0, fwd.length), null, 'forward pointer');
  // Pointer chains of a given length: the chain sits in the rdata of an unknown-type answer
  // (read as hex), and a second answer's owner name points at its last hop.
  const chained = (jumps: number): Uint8Array => {
    const m = [0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1];
    const chainLen = jumps - 1;
    m.push(0xc0, 12, 0, 99, 0, 1, 0, 0, 0, 60, (2 * chainLen) >> 8, (2 * chainLen) & 255);
    let prev = 12;
    for (let i = 0; i < chainLen; i++) { const here = m.length; m.push(0xc0, prev); prev = here; }
    m.push(0xc0, prev, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1);
    return Uint8Array.from(m);
  };
  for (const jumps of [2, DNS_MAX_JUMPS]) {
    const d = decodeDns(chained(jumps), 0, chained(jumps).length);
    tt.equal(d?.answers.length, 2, `chain of ${jumps} jumps is followed`);
    tt.equal(d?.answers[1].name, 'a');
    tt.equal(d?.answers[1].data, '10.0.0.1');
  }
  const over = decodeDns(chained(DNS_MAX_JUMPS + 1), 0, chained(DNS_MAX_JUMPS + 1).length);
  tt.equal(over?.answers.length, 1, 'one jump more than the cap is refused');
  tt.equal(over?.incomplete, true);
  // 65535 questions claimed: refused by the cap without reading
  const many = msg([0, 1, 1, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
  tt.equal(decodeDns(many, 0, many.length), null);
  // 65535 answers claimed with none present: incomplete, not a hang
  const ans = decodeDns(msg([0, 1, 0x81, 0x80, 0, 0, 0xff, 0xff, 0, 0, 0, 0]), 0, 12);
  tt.equal(ans?.incomplete, true);
  tt.equal(ans?.answers.length, 0);
});

t.test('works on a Uint8Array view at an offset', async (tt) => {
  const rel = 'proto/zeek-dns_mdns.pcap';
  let n = 0;
  eachPacket(capture(rel), (p) => {
    if (!(p.hasL4 && p.dport === 5353)) return;
    const a = decodeDns(p.buf, p.payloadOffset, p.payloadLength);
    const backing = new ArrayBuffer(p.payloadLength + 100);
    const view = new Uint8Array(backing, 33, p.payloadLength + 50);
    view.set(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength), 17);
    const b = decodeDns(view, 17, p.payloadLength);
    tt.same(b, a);
    n++;
  });
  tt.ok(n >= 10, `${n} messages compared`);
});
