// Value parsers (sizes, ports, CIDRs, globs) and the index structures against brute force.
import t from 'tap';
import fc from 'fast-check';
import { parsePort, parseSize } from '../../../collector/policy/units.js';
import { parseCidr, addrInto, AddrTable, cidrContains, type Cidr } from '../../../collector/policy/net.js';
import { PortIndexBuilder } from '../../../collector/policy/ports.js';
import { checkDomainGlob, checkMacGlob, DomainTrie } from '../../../collector/policy/glob.js';

t.test('sizes parse strictly', async (t) => {
  const ok: [unknown, number][] = [[0, 0], [1000, 1000], ['1MB', 1e6], ['500MB', 5e8], ['1GB', 1e9], ['2TB', 2e12],
    ['10KiB', 10240], ['1MiB', 1048576], ['1.5GB', 1.5e9], ['1 GiB', 1073741824], ['42B', 42], ['42', 42]];
  for (const [v, b] of ok) t.same(parseSize(v), { bytes: b }, String(v));
  for (const v of ['', '1mb', 'MB', '1.5', '1.5B', '-1', -1, 1.5, '1 000', '10 KiB ', '1e3', '1XB', 'MB1', '1kb', null, {}]) {
    t.ok('error' in parseSize(v), `refuses ${JSON.stringify(v)}`);
  }
});

t.test('ports parse strictly', async (t) => {
  t.same(parsePort('443/tcp'), { proto: 'tcp', lo: 443, hi: 443 });
  t.same(parsePort('3478-3479/udp'), { proto: 'udp', lo: 3478, hi: 3479 });
  t.same(parsePort('1-65535/sctp'), { proto: 'sctp', lo: 1, hi: 65535 });
  t.same(parsePort('icmp'), { proto: 'icmp', lo: 0, hi: 65535 });
  for (const v of ['443', 443, '443/TCP', '0/tcp', '65536/tcp', '10-5/udp', '443/gre', ' 443/tcp', '443/tcp ', '1--2/tcp',
    '-1/tcp', '01/tcp', 'icmp/tcp', '', 'any']) {
    t.ok('error' in parsePort(v), `refuses ${JSON.stringify(v)}`);
  }
});

t.test('CIDRs and addresses', async (t) => {
  const c = parseCidr('192.168.50.0/24') as Cidr;
  t.equal(c.len, 24);
  t.notOk(c.v6);
  t.equal((parseCidr('10.1.2.3') as Cidr).len, 32, 'a bare IP is a host prefix');
  t.equal((parseCidr('fd00:50::/64') as Cidr).len, 64);
  t.equal((parseCidr('::/0') as Cidr).len, 0);
  for (const s of ['192.168.50.1/24', '192.168.300.0/24', '1.2.3/24', '1.2.3.4/', '1.2.3.4/33', '1.2.3.4/024', 'fd00::1/64',
    'fd00::/129', 'fd00:::/64', 'example.com/24', '1.2.3.4.5']) {
    t.ok('error' in parseCidr(s), `refuses ${s}`);
  }
  const b = new Uint8Array(16);
  t.equal(addrInto('10.0.0.255', b), 4);
  t.same([...b.subarray(0, 4)], [10, 0, 0, 255]);
  for (const s of ['10.0.0.256', '10.0.0', '10.0.0.1.', '.10.0.0.1', '1000.0.0.1', '']) t.equal(addrInto(s, b), 0, s);
  t.equal(addrInto('::1', b), 6);
  t.equal(b[15], 1);
});

t.test('globs', async (t) => {
  t.equal(checkMacGlob('aa:bb:cc:00:00:01'), null);
  t.equal(checkMacGlob('AA:BB:CC:*'), null);
  t.equal(checkMacGlob('aa:b?:*'), null);
  for (const m of ['aa:bb:cc', 'aa:bb:cc:00:00:0g', 'aabbccddeeff', 'aa:bb:cc:dd:ee:ff:00', 'a:bb:cc:dd:ee:ff']) t.ok(checkMacGlob(m), m);
  for (const d of ['ring.com', '*.ring.com', 'a-b.c_d.example', 'localhost']) t.equal(checkDomainGlob(d), null, d);
  for (const d of ['*ring.com', 'a.*.com', '*', '-a.com', 'a..com', 'ring.com/x', '*.']) t.ok(checkDomainGlob(d), d);
});

t.test('port index equals brute force (random rules)', async () => {
  const protos = ['tcp', 'udp', 'sctp', 'icmp'] as const;
  const spec = fc.record({ proto: fc.constantFrom(...protos), a: fc.integer({ min: 1, max: 200 }), w: fc.integer({ min: 0, max: 30 }) });
  const rule = fc.option(fc.array(spec, { minLength: 1, maxLength: 4 }), { nil: undefined, freq: 8 });
  fc.assert(fc.property(fc.array(rule, { maxLength: 25 }), (rules) => {
    const b = new PortIndexBuilder();
    const norm = rules.map((r) => r?.map((s) => s.proto === 'icmp' ? { proto: s.proto, lo: 0, hi: 65535 } : { proto: s.proto, lo: s.a, hi: s.a + s.w }));
    norm.forEach((r, i) => b.add(i, r));
    const ix = b.build();
    const num = { tcp: 6, udp: 17, sctp: 132 } as const;
    for (const proto of [6, 17, 132, 1, 58, 47]) {
      for (let port = 0; port <= 240; port++) {
        let want = -1;
        norm.forEach((r, i) => {
          if (want >= 0) return;
          if (r === undefined) { want = i; return; }
          for (const s of r) {
            if (s.proto === 'icmp' ? proto === 1 || proto === 58 : num[s.proto] === proto && port >= s.lo && port <= s.hi) { want = i; return; }
          }
        });
        if (ix.match(proto, port) !== want) throw new Error(`proto ${proto} port ${port}: got ${ix.match(proto, port)} want ${want}`);
      }
    }
  }), { numRuns: 200 });
});

t.test('prefix trie equals brute force (random prefixes)', async () => {
  const pfx = fc.record({ a: fc.integer({ min: 0, max: 0xffffffff }), len: fc.integer({ min: 0, max: 32 }) });
  fc.assert(fc.property(fc.array(pfx, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 30 }), (ps, addrs) => {
    const table = new AddrTable<number[]>();
    const cidrs: Cidr[] = ps.map(({ a, len }) => {
      const m = len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0;
      return parseCidr(`${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${len}`) as Cidr;
    });
    cidrs.forEach((c, i) => table.insert(c, (old) => [...(old ?? []), i]));
    const out: number[][] = [];
    const buf = new Uint8Array(16);
    for (const a of addrs) {
      addrInto(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`, buf);
      const n = table.path(4, buf, out);
      const got = out.slice(0, n).flat().sort((x, y) => x - y);
      const want = cidrs.map((c, i) => (cidrContains(c, false, buf) ? i : -1)).filter((i) => i >= 0);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${a}: got ${got} want ${want}`);
      const longest = table.longest(4, buf);
      const wantLen = Math.max(-1, ...want.map((i) => cidrs[i].len));
      if (wantLen < 0 ? longest !== undefined : !longest!.some((i) => cidrs[i].len === wantLen)) throw new Error('longest');
    }
  }), { numRuns: 300 });
});

t.test('domain trie', async (t) => {
  const d = new DomainTrie();
  d.add('*.ring.com', 0, [{ proto: 'tcp', lo: 443, hi: 443 }]);
  d.add('ring.com', 1, undefined);
  d.add('*.com', 2, [{ proto: 'udp', lo: 1, hi: 65535 }]);
  d.build();
  t.equal(d.match('a.ring.com', 6, 443), 0);
  t.equal(d.match('a.b.ring.com', 6, 443), 0);
  t.equal(d.match('ring.com', 6, 443), 1);
  t.equal(d.match('ring.com', 17, 9), 1);
  t.equal(d.match('a.ring.com', 17, 9), 2);
  t.equal(d.match('com', 17, 9), -1);
  t.equal(d.match('a.ring.net', 6, 443), -1);
  t.equal(d.match('', 6, 443), -1);
  t.equal(d.match('.', 6, 443), -1);
});
