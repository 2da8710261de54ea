// DnsNames against the Map-based store it replaced (dns-names-reference.ts): random responses
// with CNAME chains, repeats, expiry, more than 16 names a pair and a small total cap must give
// the same namesFor() answers and sizes, whether answers come as messages or from the wire.
import t, { type Test } from 'tap';
import { DnsNames } from '../../../collector/inventory/dns-names.js';
import { DnsAnswers } from '../../../collector/decode/dns-answers.js';
import { DNS_A, DNS_AAAA, DNS_CNAME } from '../../../collector/decode/dns.js';
import type { DnsMessage, DnsRecord } from '../../../collector/decode/dns.js';
import { ipWords } from '../../../collector/inventory/ip-words.js';
import { dnsMessage } from '../../fixtures/synth/dns.js';
import { Prng } from '../../fixtures/synth/prng.js';
import { ReferenceDnsNames } from './dns-names-reference.js';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

function rec(name: string, type: number, data: string, ttl: number): DnsRecord {
  return { name, type, class: 1, ttl, data, cacheFlush: false };
}

function msg(answers: DnsRecord[], qr = true): DnsMessage {
  return { id: 1, qr, opcode: 0, rcode: 0, aa: false, tc: false, questions: [], answers, authority: [], additional: [], incomplete: false };
}

interface Scenario { clients: string[]; addrs: string[]; names: string[]; maxEntries: number; graceMs: number }

function run(tt: Test, seed: number, s: Scenario, viaWire: boolean): number {
  const rnd = new Prng(seed);
  const ours = new DnsNames(s.graceMs, s.maxEntries), ref = new ReferenceDnsNames(s.graceMs, s.maxEntries);
  const wire = new DnsAnswers();
  const client = new Uint32Array(4);
  let ts = T0, checked = 0, bad = 0, found = 0;
  for (let step = 0; step < 3000; step++) {
    ts += rnd.int(0, 20_000);
    const answers: DnsRecord[] = [];
    const n = rnd.int(0, 5);
    for (let i = 0; i < n; i++) {
      const r = rnd.float();
      if (r < 0.3) answers.push(rec(rnd.pick(s.names), DNS_CNAME, rnd.pick(s.names), rnd.int(0, 600)));
      else {
        const a = rnd.pick(s.addrs);
        answers.push(rec(rnd.pick(s.names), a.includes(':') ? DNS_AAAA : DNS_A, a, rnd.int(0, 600)));
      }
    }
    const c = rnd.pick(s.clients);
    const m = msg(answers, rnd.float() < 0.95);
    ref.observe(c, m, ts);
    if (!viaWire) ours.observe(c, m, ts);
    else {
      const buf = dnsMessage({
        id: 1, response: m.qr, questions: [],
        answers: answers.map((r) => ({ name: r.name, type: r.type === DNS_CNAME ? 'CNAME' : r.type === DNS_A ? 'A' : 'AAAA', data: r.data, ttl: r.ttl })),
      });
      if (wire.read(buf, 0, buf.length)) {
        const fam = ipWords(c, client, 0);
        if (fam !== 0) ours.observeAnswers(fam, client, wire, ts);
      }
    }
    if (ours.size !== ref.size) { tt.equal(ours.size, ref.size, `size at step ${step}`); bad++; }
    for (let q = 0; q < 3; q++) {
      const qc = rnd.pick(s.clients), qa = rnd.pick(s.addrs), at = ts + rnd.int(-1000, 700_000);
      const got = ours.namesFor(qc, qa, at), want = ref.namesFor(qc, qa, at);
      checked++;
      if (want.length > 0) found++;
      if (got.join(',') !== want.join(',')) { tt.same(got, want, `step ${step}: ${qc} ${qa} at +${at - T0}`); bad++; }
    }
    if (bad > 5) break;
  }
  tt.equal(bad, 0, `seed ${seed}: ${checked} look-ups agree`);
  tt.ok(found > checked / 20, `seed ${seed}: ${found} of them found names`);
  return checked;
}

const names = ['a.example', 'b.example', 'c.example', 'www.shop.example', 'edge.cdn.example', 'e1.cdn.example', 'x.example', 'y.example'];
const many = Array.from({ length: 40 }, (_, i) => `n${i}.example`);

t.test('same answers as the old store: few pairs, chains, repeats (messages)', async (tt) => {
  for (let seed = 1; seed <= 4; seed++) {
    run(tt, seed, { clients: ['192.168.50.5', '192.168.50.6', 'fd00:50::5'], addrs: ['93.184.216.34', '203.0.113.7', '2001:db8::1', '::ffff:203.0.113.7'], names, maxEntries: 100_000, graceMs: 60_000 }, false);
  }
});

t.test('same answers as the old store: more than 16 names a pair, a small cap, eviction', async (tt) => {
  for (let seed = 10; seed <= 13; seed++) {
    run(tt, seed, { clients: ['10.0.0.1', '10.0.0.2'], addrs: ['203.0.113.1', '203.0.113.2', '203.0.113.3'], names: many, maxEntries: 25, graceMs: 1000 }, false);
    run(tt, seed + 100, { clients: ['10.0.0.1'], addrs: ['203.0.113.1'], names: many, maxEntries: 5, graceMs: 0 }, false);
    run(tt, seed + 200, { clients: ['10.0.0.1'], addrs: ['203.0.113.1', '203.0.113.2'], names: many, maxEntries: 100_000, graceMs: 3_600_000 }, false);
  }
});

t.test('same answers as the old store when answers come from the wire', async (tt) => {
  for (let seed = 20; seed <= 23; seed++) {
    run(tt, seed, { clients: ['192.168.50.5', 'fd00:50::5'], addrs: ['93.184.216.34', '2001:db8::1', '203.0.113.9'], names, maxEntries: 30, graceMs: 60_000 }, true);
  }
});

t.test('spellings of one address are one key; garbage addresses are none', async (tt) => {
  const d = new DnsNames(0, 100);
  d.observe('FD00:50:0::5', msg([rec('v6.example', DNS_AAAA, '2001:DB8:0:0::1', 60)]), T0);
  tt.same(d.namesFor('fd00:50::5', '2001:db8::1', T0), ['v6.example']);
  tt.same(d.namesFor('fd00:50::5', '::ffff:0:1', T0), []);
  d.observe('192.168.1.1', msg([rec('v4.example', DNS_A, '10.0.0.1', 60)]), T0);
  tt.same(d.namesFor('192.168.1.1', '::ffff:10.0.0.1', T0), [], 'an IPv4-mapped IPv6 address is another address');
  tt.same(d.namesFor('not-an-ip', '10.0.0.1', T0), []);
  d.observe('not-an-ip', msg([rec('z.example', DNS_A, '10.0.0.2', 60)]), T0);
  tt.equal(d.size, 2);
});
