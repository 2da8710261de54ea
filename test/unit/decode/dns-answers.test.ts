// DnsAnswers against decodeDns: on real DNS traffic and on mangled messages it must accept
// exactly the responses decodeDns accepts and hold exactly the A/AAAA/CNAME answers of its list.
import t, { type Test } from 'tap';
import { DnsAnswers } from '../../../collector/decode/dns-answers.js';
import { decodeDns, DNS_A, DNS_AAAA, DNS_CNAME } from '../../../collector/decode/dns.js';
import { ip4String, ip6WordsString } from '../../../collector/decode/addr.js';
import { capture, eachPacket } from './frames.js';
import { dnsMessage, dnsQuery, dnsResponse } from '../../fixtures/synth/dns.js';
import { Prng } from '../../fixtures/synth/prng.js';

/** The answers as text rows, from DnsAnswers. */
function rowsOf(a: DnsAnswers): string[] {
  const out: string[] = [];
  for (let i = 0; i < a.count; i++) {
    let data = a.target[i];
    if (a.type[i] !== DNS_CNAME) {
      const w = a.addr.subarray(i * 4, i * 4 + 4);
      data = a.family[i] === 4 ? ip4String(w[3]) : ip6WordsString([w[0] >>> 16, w[0] & 0xffff, w[1] >>> 16, w[1] & 0xffff, w[2] >>> 16, w[2] & 0xffff, w[3] >>> 16, w[3] & 0xffff]);
    }
    out.push(`${a.type[i]} ${a.name[i]} ${a.ttl[i]} ${data}`);
  }
  return out;
}

/** What DnsAnswers should hold for a payload, from decodeDns; null when it should refuse it. */
function expected(buf: Uint8Array, off: number, len: number): string[] | null {
  const m = decodeDns(buf, off, len);
  if (!m || !m.qr) return null;
  return m.answers
    .filter((r) => r.type === DNS_CNAME || ((r.type === DNS_A || r.type === DNS_AAAA) && !/^[0-9a-f]*$/.test(r.data)))
    .map((r) => `${r.type} ${r.name} ${r.ttl} ${r.data}`);
}

function same(tt: Test, a: DnsAnswers, buf: Uint8Array, off: number, len: number, what: string): boolean {
  const want = expected(buf, off, len);
  const ok = a.read(buf, off, len);
  if (want === null) {
    if (ok || a.count !== 0) { tt.fail(`${what}: decodeDns refuses it or it is a query, DnsAnswers read ${a.count}`); return false; }
    return true;
  }
  if (!ok) { tt.fail(`${what}: decodeDns accepts the response, DnsAnswers refused it`); return false; }
  const got = rowsOf(a);
  if (got.join('|') !== want.join('|')) { tt.same(got, want, what); return false; }
  return true;
}

t.test('real DNS and mDNS traffic: the same answers as decodeDns', async (tt) => {
  const a = new DnsAnswers();
  let responses = 0, answers = 0;
  for (const rel of ['proto/zeek-dns_mdns.pcap', 'iot/iotsentinel/HueBridge-Setup-A-1-STA.pcap', 'iot/iotsentinel/D-LinkHomeHub-Setup-A-1-STA.pcap', 'iot/ndpi-nest_log_sink.pcap', 'decode/tcpdump-LINKTYPE_RAW_ipv6.pcap']) {
    let bad = 0;
    eachPacket(capture(rel), (p, n) => {
      if (!p.hasL4 || p.proto !== 17 || p.isFragment) return;
      if (p.sport !== 53 && p.dport !== 53 && p.sport !== 5353 && p.dport !== 5353) return;
      if (!same(tt, a, p.buf, p.payloadOffset, p.payloadLength, `${rel} frame ${n}`)) bad++;
      if (a.count > 0) { responses++; answers += a.count; }
    });
    tt.equal(bad, 0, `${rel}: every DNS payload agrees`);
  }
  tt.ok(responses > 20 && answers > responses, `${responses} responses, ${answers} answers compared`);
});

t.test('CNAME chains, AAAA, compression off and on, upper case, other record types between', async (tt) => {
  const a = new DnsAnswers();
  for (const compress of [true, false]) {
    const buf = dnsMessage({
      id: 7, response: true, compress,
      questions: [{ name: 'WWW.Example.COM', type: 'A' }],
      answers: [
        { name: 'WWW.Example.COM', type: 'CNAME', data: 'Edge.CDN.net', ttl: 300 },
        { name: 'edge.cdn.net', type: 'TXT', data: 'v=1\nhello', ttl: 5 },
        { name: 'edge.cdn.net', type: 'CNAME', data: 'e1.cdn.net', ttl: 300 },
        { name: 'e1.cdn.net', type: 'SRV', data: '1 2 443 srv.cdn.net', ttl: 5 },
        { name: 'e1.cdn.net', type: 'A', data: '93.184.216.34', ttl: 20 },
        { name: 'e1.cdn.net', type: 'AAAA', data: '2001:db8::1', ttl: 4294967295 },
        { name: 'e1.cdn.net', type: 'AAAA', data: '::ffff:a00:1', ttl: 0 },
      ],
    });
    tt.ok(same(tt, a, buf, 0, buf.length, `compress ${compress}`));
    tt.same(rowsOf(a), [
      '5 www.example.com 300 edge.cdn.net', '5 edge.cdn.net 300 e1.cdn.net', '1 e1.cdn.net 20 93.184.216.34',
      '28 e1.cdn.net 4294967295 2001:db8::1', '28 e1.cdn.net 0 ::ffff:10.0.0.1',
    ]);
  }
  const q = dnsQuery(9, 'example.com');
  tt.notOk(a.read(q, 0, q.length), 'a query holds nothing');
  tt.equal(a.count, 0);
});

t.test('names that are not ASCII are spelled as decodeDns spells them', async (tt) => {
  const a = new DnsAnswers();
  const buf = dnsResponse(1, 'CAFÉ.example', 'A', [{ name: 'CAFÉ.example', type: 'A', data: '192.0.2.1', ttl: 60 }]);
  tt.ok(same(tt, a, buf, 0, buf.length, 'utf-8 label'));
  tt.equal(a.name[0], decodeDns(buf, 0, buf.length)!.answers[0].name);
  // a byte that is no UTF-8 at all
  const raw = Buffer.from(buf);
  raw[buf.indexOf(Buffer.from('CAF', 'latin1'), 12) + 3] = 0xff;
  tt.ok(same(tt, a, raw, 0, raw.length, 'invalid utf-8'));
});

t.test('the same name read twice is the same text', async (tt) => {
  const a = new DnsAnswers();
  const buf = dnsResponse(1, 'api.ring.com', 'A', [{ name: 'api.ring.com', type: 'A', data: '52.1.2.3', ttl: 60 }]);
  a.read(buf, 0, buf.length);
  const first = a.name[0];
  a.read(buf, 0, buf.length);
  tt.equal(a.name[0], first);
  tt.equal(first, 'api.ring.com');
});

t.test('mangled messages: refused, cut and accepted exactly where decodeDns does', async (tt) => {
  const rnd = new Prng(20260115);
  const a = new DnsAnswers();
  const names = ['a.example', 'b.example', 'x.cdn.example.net', 'Mixed.Case.ORG', 'svc._tcp.local', 'café.local'];
  let bad = 0, accepted = 0, cut = 0;
  for (let n = 0; n < 6000; n++) {
    const qn = rnd.pick(names);
    const answers = [];
    const k = rnd.int(0, 6);
    for (let i = 0; i < k; i++) {
      const type = rnd.pick(['A', 'AAAA', 'CNAME', 'PTR', 'TXT', 'SRV'] as const);
      const data = type === 'A' ? `10.0.${rnd.int(0, 255)}.${rnd.int(0, 255)}` : type === 'AAAA' ? `fd00::${rnd.int(1, 0xffff).toString(16)}`
        : type === 'TXT' ? 'k=v\nw' : type === 'SRV' ? `0 0 ${rnd.int(1, 65535)} ${rnd.pick(names)}` : rnd.pick(names);
      answers.push({ name: i === 0 ? qn : rnd.pick(names), type, data, ttl: rnd.int(0, 100000) });
    }
    const clean = dnsMessage({ id: n, response: rnd.float() < 0.9, compress: rnd.float() < 0.7, questions: [{ name: qn, type: 'A' }], answers });
    const buf = Buffer.from(clean);
    // flip a few bytes, or cut the message short, or both
    const flips = rnd.int(0, 3);
    for (let f = 0; f < flips; f++) buf[rnd.int(0, buf.length - 1)] = rnd.float() < 0.3 ? 0xc0 | rnd.int(0, 3) : rnd.int(0, 255);
    const len = rnd.float() < 0.3 ? rnd.int(0, buf.length) : buf.length;
    // embed at an offset, with bytes after it that are not the message's
    const framed = Buffer.concat([rnd.bytes(5), buf.subarray(0, len), rnd.bytes(3)]);
    if (!same(tt, a, framed, 5, len, `message ${n}`)) bad++;
    if (a.count > 0) accepted++;
    const m = decodeDns(framed, 5, len);
    if (m?.incomplete) cut++;
  }
  tt.equal(bad, 0, 'every mangled message agrees');
  tt.ok(accepted > 1000 && cut > 100, `${accepted} held answers, ${cut} cut short`);
});

t.test('at most DNS_MAX_RECORDS answers, as decodeDns', async (tt) => {
  const a = new DnsAnswers();
  const answers = [];
  for (let i = 0; i < 300; i++) answers.push({ name: 'many.example', type: 'A' as const, data: `10.1.${i >> 8}.${i & 255}`, ttl: 60 });
  const buf = dnsResponse(3, 'many.example', 'A', answers);
  tt.ok(same(tt, a, buf, 0, buf.length, '300 answers'));
  tt.equal(a.count, 256);
});

t.test('fromMessage takes the answers of a decoded message, addresses from their text', async (tt) => {
  const a = new DnsAnswers();
  tt.ok(a.fromMessage({
    id: 1, qr: true, opcode: 0, rcode: 0, aa: false, tc: false, questions: [], authority: [], additional: [], incomplete: false,
    answers: [
      { name: 'x.example', type: DNS_CNAME, class: 1, ttl: 5, data: 'y.example', cacheFlush: false },
      { name: 'y.example', type: DNS_A, class: 1, ttl: 6, data: '192.0.2.7', cacheFlush: false },
      { name: 'y.example', type: DNS_A, class: 1, ttl: 6, data: 'not an address', cacheFlush: false },
      { name: 'y.example', type: 12, class: 1, ttl: 6, data: 'ptr.example', cacheFlush: false },
    ],
  }));
  tt.equal(a.count, 3, 'PTR not held');
  tt.same([a.family[0], a.family[1], a.family[2]], [0, 4, 0]);
  tt.equal(a.target[0], 'y.example');
  tt.notOk(a.fromMessage({ id: 1, qr: false, opcode: 0, rcode: 0, aa: false, tc: false, questions: [], answers: [], authority: [], additional: [], incomplete: false }));
});
