// DnsNames against stated expectations: which names a client has for an address at given
// times (TTL plus grace, inclusive), CNAME chains, newest first, the 16-names-a-pair and total
// bounds with least-recently-updated eviction, and the same answers read from the wire.
import t from 'tap';
import { DnsNames } from '../../../collector/inventory/dns-names.js';
import { DnsAnswers } from '../../../collector/decode/dns-answers.js';
import { DNS_A, DNS_AAAA, DNS_CNAME } from '../../../collector/decode/dns.js';
import type { DnsMessage, DnsRecord } from '../../../collector/decode/dns.js';
import { ipWords } from '../../../collector/inventory/ip-words.js';
import { dnsMessage } from '../../fixtures/synth/dns.js';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const C = '192.168.50.5';

function rec(name: string, type: number, data: string, ttl: number): DnsRecord {
  return { name, type, class: 1, ttl, data, cacheFlush: false };
}
const a = (name: string, addr: string, ttl: number) => rec(name, addr.includes(':') ? DNS_AAAA : DNS_A, addr, ttl);
const cname = (name: string, target: string, ttl: number) => rec(name, DNS_CNAME, target, ttl);

function msg(answers: DnsRecord[], qr = true): DnsMessage {
  return { id: 1, qr, opcode: 0, rcode: 0, aa: false, tc: false, questions: [], answers, authority: [], additional: [], incomplete: false };
}

t.test('a name lives TTL plus grace, both ends inclusive', async (t) => {
  const d = new DnsNames(1000, 100);
  d.observe(C, msg([a('a.example', '203.0.113.7', 60)]), T0);
  t.same(d.namesFor(C, '203.0.113.7', T0), ['a.example']);
  t.same(d.namesFor(C, '203.0.113.7', T0 - 5000), ['a.example'], 'a look-up before the answer still finds it');
  t.same(d.namesFor(C, '203.0.113.7', T0 + 61_000), ['a.example'], 'TTL 60 s + grace 1 s');
  t.same(d.namesFor(C, '203.0.113.7', T0 + 61_001), [], 'one ms later: gone');
  t.same(d.namesFor('192.168.50.6', '203.0.113.7', T0), [], 'another client did not resolve it');
  t.same(d.namesFor(C, '203.0.113.8', T0), [], 'nor another address');
  t.equal(d.size, 1);

  const z = new DnsNames(0, 100);
  z.observe(C, msg([a('zero.example', '203.0.113.7', 0)]), T0);
  t.same(z.namesFor(C, '203.0.113.7', T0), ['zero.example'], 'TTL 0, no grace: valid at the answer time');
  t.same(z.namesFor(C, '203.0.113.7', T0 + 1), []);
});

t.test('queries and empty responses teach nothing', async (t) => {
  const d = new DnsNames(0, 100);
  d.observe(C, msg([a('q.example', '203.0.113.7', 60)], false), T0);
  d.observe(C, msg([]), T0);
  d.observe(C, msg([cname('x.example', 'y.example', 60)]), T0);
  t.equal(d.size, 0);
  t.same(d.namesFor(C, '203.0.113.7', T0), []);
});

t.test('every address of a response, and every name of its CNAME chain', async (t) => {
  const d = new DnsNames(0, 100);
  d.observe(C, msg([
    cname('www.shop.example', 'edge.cdn.example', 300),
    cname('edge.cdn.example', 'e1.cdn.example', 300),
    a('e1.cdn.example', '203.0.113.1', 20),
    a('e1.cdn.example', '2001:db8::1', 20),
    cname('unrelated.example', 'other.example', 300),
  ]), T0);
  const chain = ['e1.cdn.example', 'edge.cdn.example', 'www.shop.example'];
  t.same(d.namesFor(C, '203.0.113.1', T0).sort(), chain);
  t.same(d.namesFor(C, '2001:db8::1', T0).sort(), chain);
  t.same(d.namesFor(C, '203.0.113.1', T0 + 20_001), [], 'the chain\'s names last the address record\'s TTL');
  t.equal(d.size, 6);

  // a CNAME loop ends
  const l = new DnsNames(0, 100);
  l.observe(C, msg([cname('p.example', 'q.example', 60), cname('q.example', 'p.example', 60), a('q.example', '203.0.113.2', 60)]), T0);
  t.same(l.namesFor(C, '203.0.113.2', T0).sort(), ['p.example', 'q.example']);

  // a chain longer than 16 is cut: the names nearest the address are kept, at most 16
  const long = new DnsNames(0, 100);
  const x = (i: number) => `x${i}.example`;
  const recs = Array.from({ length: 20 }, (_, i) => cname(x(i), x(i + 1), 60));
  recs.push(a(x(20), '203.0.113.3', 60));
  long.observe(C, msg(recs), T0);
  const got = long.namesFor(C, '203.0.113.3', T0);
  t.equal(got.length, 16);
  for (let i = 0; i < 4; i++) t.notOk(got.includes(x(i)), `${x(i)}: beyond 16 links`);
});

t.test('newest first; a repeat refreshes and never shortens', async (t) => {
  const d = new DnsNames(0, 100);
  d.observe(C, msg([a('old.example', '203.0.113.7', 600)]), T0);
  d.observe(C, msg([a('new.example', '203.0.113.7', 600)]), T0 + 1000);
  t.same(d.namesFor(C, '203.0.113.7', T0 + 1000), ['new.example', 'old.example']);
  d.observe(C, msg([a('old.example', '203.0.113.7', 10)]), T0 + 2000);
  t.same(d.namesFor(C, '203.0.113.7', T0 + 2000), ['old.example', 'new.example'], 'answered again: newest');
  t.same(d.namesFor(C, '203.0.113.7', T0 + 600_000), ['old.example', 'new.example'], 'TTL 10 s later does not cut the 600 s one');
  t.same(d.namesFor(C, '203.0.113.7', T0 + 600_001), ['new.example']);
  t.same(d.namesFor(C, '203.0.113.7', T0 + 601_000), ['new.example']);
  t.same(d.namesFor(C, '203.0.113.7', T0 + 601_001), []);
  t.equal(d.size, 2, 'a repeat is not a second entry');
});

t.test('at most 16 names a pair: expired ones go first, then the oldest', async (t) => {
  const d = new DnsNames(0, 100);
  const n = (i: number) => `n${i}.example`;
  for (let i = 0; i < 20; i++) d.observe(C, msg([a(n(i), '203.0.113.7', 3600)]), T0 + i);
  const want = Array.from({ length: 16 }, (_, i) => n(19 - i));
  t.same(d.namesFor(C, '203.0.113.7', T0 + 20), want, 'the 16 newest, newest first');
  t.equal(d.size, 16);

  const e = new DnsNames(0, 100);
  e.observe(C, msg([a('short.example', '203.0.113.7', 1)]), T0);
  e.observe(C, msg([a('long.example', '203.0.113.7', 3600)]), T0);
  e.observe(C, msg([a('later.example', '203.0.113.7', 3600)]), T0 + 1001);
  t.equal(e.size, 2, 'the expired name left when the pair was next updated');
  t.same(e.namesFor(C, '203.0.113.7', T0).sort(), ['later.example', 'long.example'], 'even for a look-up back in its time');
});

t.test('at most maxEntries names in all: the least recently updated pair goes whole', async (t) => {
  const d = new DnsNames(0, 5);
  d.observe(C, msg([a('p1a.example', '203.0.113.1', 600), a('p1b.example', '203.0.113.1', 600)]), T0);
  d.observe(C, msg([a('p2a.example', '203.0.113.2', 600), a('p2b.example', '203.0.113.2', 600)]), T0 + 1);
  d.observe('fd00:50::5', msg([a('p3.example', '203.0.113.1', 600)]), T0 + 2);
  t.equal(d.size, 5);
  d.observe(C, msg([a('p1c.example', '203.0.113.1', 600)]), T0 + 3);
  t.equal(d.size, 4, 'pair 2 (updated least recently) is dropped, both its names');
  t.same(d.namesFor(C, '203.0.113.2', T0 + 3), []);
  const p1 = d.namesFor(C, '203.0.113.1', T0 + 3);
  t.equal(p1[0], 'p1c.example', 'newest first');
  t.same(p1.slice(1).sort(), ['p1a.example', 'p1b.example']);
  t.same(d.namesFor('fd00:50::5', '203.0.113.1', T0 + 3), ['p3.example']);
  d.observe(C, msg([a('p2c.example', '203.0.113.2', 600), a('p2d.example', '203.0.113.2', 600)]), T0 + 4);
  t.equal(d.size, 5, 'the new pair\'s second name pushes out the IPv6 client\'s pair, now the least recent');
  t.same(d.namesFor('fd00:50::5', '203.0.113.1', T0 + 4), []);
  t.equal(d.namesFor(C, '203.0.113.1', T0 + 4).length, 3, 'pair 1 kept');
  t.same(d.namesFor(C, '203.0.113.2', T0 + 4).sort(), ['p2c.example', 'p2d.example']);

  const one = new DnsNames(0, 3);
  for (let i = 0; i < 5; i++) one.observe(C, msg([a(`s${i}.example`, '203.0.113.7', 600)]), T0 + i);
  t.equal(one.size, 3, 'a single pair over the cap loses its oldest names');
  t.same(one.namesFor(C, '203.0.113.7', T0 + 5), ['s4.example', 's3.example', 's2.example']);
});

t.test('answers read from the wire give the same names as a parsed message', async (t) => {
  const answers = [
    { name: 'www.shop.example', type: 'CNAME' as const, data: 'edge.cdn.example', ttl: 300 },
    { name: 'edge.cdn.example', type: 'A' as const, data: '203.0.113.1', ttl: 30 },
    { name: 'edge.cdn.example', type: 'AAAA' as const, data: '2001:db8::1', ttl: 60 },
  ];
  for (const client of [C, 'fd00:50::5']) {
    const d = new DnsNames(500, 100);
    const buf = dnsMessage({ id: 7, response: true, questions: [], answers });
    const wire = new DnsAnswers();
    t.ok(wire.read(buf, 0, buf.length));
    const words = new Uint32Array(4);
    d.observeAnswers(ipWords(client, words, 0), words, wire, T0);
    const both = ['edge.cdn.example', 'www.shop.example'];
    t.same(d.namesFor(client, '203.0.113.1', T0 + 30_500).sort(), both, `${client}: A, TTL + grace`);
    t.same(d.namesFor(client, '203.0.113.1', T0 + 30_501), []);
    t.same(d.namesFor(client, '2001:db8::1', T0 + 60_500).sort(), both, `${client}: AAAA`);
    t.equal(d.size, 4);
  }
});

t.test('spellings of one address are one key; garbage addresses are none', async (t) => {
  const d = new DnsNames(0, 100);
  d.observe('FD00:50:0::5', msg([rec('v6.example', DNS_AAAA, '2001:DB8:0:0::1', 60)]), T0);
  t.same(d.namesFor('fd00:50::5', '2001:db8::1', T0), ['v6.example']);
  t.same(d.namesFor('fd00:50::5', '::ffff:0:1', T0), []);
  d.observe('192.168.1.1', msg([rec('v4.example', DNS_A, '10.0.0.1', 60)]), T0);
  t.same(d.namesFor('192.168.1.1', '::ffff:10.0.0.1', T0), [], 'an IPv4-mapped IPv6 address is another address');
  t.same(d.namesFor('not-an-ip', '10.0.0.1', T0), []);
  d.observe('not-an-ip', msg([rec('z.example', DNS_A, '10.0.0.2', 60)]), T0);
  t.equal(d.size, 2);
});

t.test('against a model under churn at the cap: names of evicted pairs never reappear on other pairs', async (t) => {
  // small cap, many pairs and names, expiries: entries and lists of evicted pairs are reused
  const CAP = 40, GRACE = 500;
  const d = new DnsNames(GRACE, CAP);
  // the model: pair -> [name, expires, seen] in insertion order; least recently updated pair first
  const model = new Map<string, Array<[string, number, number]>>();
  let total = 0;
  let s = 12345;
  const rnd = (n: number) => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) % n; };
  let mismatches = 0;
  for (let i = 0; i < 20_000; i++) {
    const ts = T0 + i * 100;
    const client = `192.168.50.${1 + rnd(4)}`, addr = `203.0.113.${1 + rnd(30)}`, name = `n${rnd(50)}.example`, ttl = 1 + rnd(30);
    d.observe(client, msg([a(name, addr, ttl)]), ts);
    const k = `${client} ${addr}`;
    const list = model.get(k) ?? [];
    model.delete(k);
    model.set(k, list);
    const hit = list.find((e) => e[0] === name);
    if (hit) { hit[1] = Math.max(hit[1], ts + ttl * 1000); hit[2] = ts; } else {
      for (let j = list.length - 1; j >= 0; j--) if (list[j][1] + GRACE < ts) { list.splice(j, 1); total--; }
      if (list.length >= 16) { let o = 0; for (let j = 1; j < list.length; j++) if (list[j][2] < list[o][2]) o = j; list.splice(o, 1); total--; }
      list.push([name, ts + ttl * 1000, ts]);
      total++;
      while (total > CAP) {
        const [fk, fl] = model.entries().next().value as [string, Array<[string, number, number]>];
        if (fk === k && model.size === 1) { fl.shift(); total--; continue; }
        total -= fl.length;
        model.delete(fk);
      }
    }
    // every pair's names at this moment, newest first
    for (let c = 1; c <= 4 && i % 97 === 0; c++) {
      for (let h = 1; h <= 30; h++) {
        const cl = `192.168.50.${c}`, ad = `203.0.113.${h}`;
        const want = (model.get(`${cl} ${ad}`) ?? []).filter((e) => ts <= e[1] + GRACE).sort((x, y) => y[2] - x[2]).map((e) => e[0]);
        if (JSON.stringify(d.namesFor(cl, ad, ts)) !== JSON.stringify(want)) mismatches++;
      }
    }
  }
  t.equal(mismatches, 0, 'namesFor agrees with the model at every check');
  t.equal(d.size, total, 'names held agree');
  t.ok(d.evicted > 1000, `the cap was reached many times (${d.evicted} names evicted)`);
});
