// The short cuts taken for load speed give what the general code gives: parsePort without
// its regular expression, parseCidr with a scratch buffer, port ranges without the sweep
// for one or a few spans, parse results handed from the checks to the compiler. The
// references below are the general code as it was.
import t from 'tap';
import fc from 'fast-check';
import { parsePort, show, type PortSpec } from '../../../collector/policy/units.js';
import { addrInto, parseCidr, AddrTable, type Cidr } from '../../../collector/policy/net.js';
import { PortIndexBuilder, type PortIndex } from '../../../collector/policy/ports.js';
import { ip4String, ip6String } from '../../../collector/decode/addr.js';
import { RuleMemo, parseTarget } from '../../../collector/policy/validate.js';

const PORT_EXPECTED = 'expected a port like "443/tcp", a range like "3478-3479/udp" (1-65535, proto tcp, udp or sctp) or "icmp"';

function refParsePort(v: unknown): PortSpec | { error: string } {
  if (typeof v === 'number') return { error: `${PORT_EXPECTED}, got ${v} (add the protocol, e.g. "${v}/tcp")` };
  if (typeof v !== 'string') return { error: `${PORT_EXPECTED}, got ${show(v)}` };
  if (v === 'icmp' || v === 'icmpv6') return { proto: 'icmp', lo: 0, hi: 65535 };
  const m = /^([0-9]+)(?:-([0-9]+))?\/([a-z]+)$/.exec(v);
  if (!m) {
    const hint = /^[0-9]+(-[0-9]+)?$/.test(v) ? ` (add the protocol, e.g. "${v}/tcp")` : '';
    return { error: `${PORT_EXPECTED}, got ${show(v)}${hint}` };
  }
  const proto = m[3];
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') return { error: `${PORT_EXPECTED}, got protocol "${proto}" in ${show(v)}` };
  if ((m[1].length > 1 && m[1][0] === '0') || (m[2] !== undefined && m[2].length > 1 && m[2][0] === '0')) {
    return { error: `${PORT_EXPECTED}, got a leading zero in ${show(v)}` };
  }
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535) return { error: `${PORT_EXPECTED}, got ${show(v)}: ports run from 1 to 65535` };
  if (lo > hi) return { error: `${PORT_EXPECTED}, got ${show(v)}: the range runs backwards (${lo} > ${hi})` };
  return { proto, lo, hi };
}

function refParseCidr(s: string): Cidr | { error: string } {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const bytes = new Uint8Array(16);
  const fam = addrInto(addr, bytes);
  if (fam === 0) return { error: `expected a CIDR like "192.168.50.0/24" or "fd00:50::/64" (or an IP), got "${s}": "${addr}" is not an IPv4 or IPv6 address` };
  const max = fam === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const lt = s.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lt) || Number(lt) > max) {
      return { error: `expected a CIDR like "${fam === 4 ? '192.168.50.0/24' : 'fd00:50::/64'}", got "${s}": the prefix length must be 0-${max}` };
    }
    len = Number(lt);
  }
  const masked = new Uint8Array(16);
  const nbytes = fam === 4 ? 4 : 16;
  for (let k = 0; k < nbytes; k++) {
    const bits = len - 8 * k;
    masked[k] = bits >= 8 ? bytes[k] : bits <= 0 ? 0 : bytes[k] & (0xff << (8 - bits)) & 0xff;
  }
  for (let k = 0; k < 16; k++) {
    if (masked[k] !== bytes[k]) {
      const net = fam === 4 ? ip4String(((masked[0] << 24) | (masked[1] << 16) | (masked[2] << 8) | masked[3]) >>> 0) : ip6String(masked, 0);
      return { error: `expected a network address, got "${s}" with host bits set (did you mean "${net}/${len}"?)` };
    }
  }
  return { v6: fam === 6, bytes: masked, len };
}

/** The sweep buildRanges always ran: [lo, hi, rule] triples. */
function refRanges(spans: { lo: number; hi: number; rule: number }[]): number[] {
  const points = [...new Set(spans.flatMap((s) => [s.lo, s.hi + 1]))].sort((a, b) => a - b);
  const out: number[] = [];
  for (let k = 0; k < points.length; k++) {
    const point = points[k], next = k + 1 < points.length ? points[k + 1] : 65536;
    let best = Infinity;
    for (const s of spans) if (s.lo <= point && point <= s.hi && s.rule < best) best = s.rule;
    if (best === Infinity) continue;
    const n = out.length;
    if (n > 0 && out[n - 2] === point - 1 && out[n - 1] === best) out[n - 2] = next - 1;
    else out.push(point, next - 1, best);
  }
  return out;
}

const portText = fc.oneof(
  fc.stringMatching(/^[0-9]{0,6}(-[0-9]{0,6})?\/(tcp|udp|sctp|icmp|TCP|tc|tcpx|)$/),
  fc.stringMatching(/^0*[0-9]{1,5}(-0*[0-9]{1,5})?\/(tcp|udp|sctp)$/),
  fc.constantFrom('icmp', 'icmpv6', '443', '443/tcp ', ' 443/tcp', '443/tcp\n', '1-65535/udp', '65536/tcp', '0/tcp', '00/tcp', '1-0/udp', '5-5/sctp', '٣/tcp'),
  fc.string({ maxLength: 10 }),
);

t.test('parsePort: the quick path gives what the regular expression gives', async (t) => {
  fc.assert(fc.property(portText, (v) => JSON.stringify(parsePort(v)) === JSON.stringify(refParsePort(v))), { numRuns: 5000, seed: 7 });
  t.same(parsePort('3478-3479/udp'), { proto: 'udp', lo: 3478, hi: 3479 });
});

const cidrText = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.stringMatching(/^(\/[0-9]{0,4})?$/))
    .map(([a, b, c, d, l]) => `${a}.${b}.${c}.${d}${l}`),
  fc.tuple(fc.stringMatching(/^[0-9a-fA-F]{0,5}(:[0-9a-fA-F]{0,4}){0,3}(::)?([0-9a-fA-F]{1,4})?$/), fc.stringMatching(/^(\/[0-9]{0,4})?$/)).map(([a, l]) => a + l),
  fc.constantFrom('0.0.0.0/0', '::/0', '10.0.0.0/8', '10.0.0.1/8', 'fd00::/129', '10.0.0.0/033', '10.0.0.0/', '1.2.3.4/32/1', 'fd00:50::1', '::ffff:1.2.3.4/96'),
  fc.string({ maxLength: 12 }),
);

t.test('parseCidr: the scratch buffer changes nothing, one call after another', async (t) => {
  const norm = (r: Cidr | { error: string }) => JSON.stringify('bytes' in r ? { ...r, bytes: [...r.bytes] } : r);
  fc.assert(fc.property(fc.array(cidrText, { minLength: 1, maxLength: 4 }), (xs) => {
    const got = xs.map((x) => parseCidr(x));
    return got.every((g, i) => norm(g) === norm(refParseCidr(xs[i])));
  }), { numRuns: 5000, seed: 11 });
  const a = parseCidr('fd00:50::/64') as Cidr;
  parseCidr('10.0.0.0/8');
  t.same([...a.bytes.slice(0, 4)], [0xfd, 0, 0, 0x50], 'an earlier result is not touched by a later parse');
});

t.test('port ranges: one and a few spans build as the sweep does', async (t) => {
  const spec = fc.record({ proto: fc.constantFrom<PortSpec['proto']>('tcp', 'udp', 'sctp'), lo: fc.integer({ min: 1, max: 120 }), w: fc.integer({ min: 0, max: 40 }) });
  fc.assert(fc.property(fc.array(fc.array(spec, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 40 }), (rules) => {
    const b = new PortIndexBuilder();
    const spans: Record<string, { lo: number; hi: number; rule: number }[]> = { tcp: [], udp: [], sctp: [] };
    rules.forEach((ps, rule) => {
      const ports = ps.map((p) => ({ proto: p.proto, lo: p.lo, hi: Math.min(p.lo + p.w, 65535) }));
      b.add(rule, ports);
      for (const p of ports) spans[p.proto].push({ lo: p.lo, hi: p.hi, rule });
    });
    const ix = b.build() as PortIndex & Record<string, { r: Int32Array } | null>;
    for (const proto of ['tcp', 'udp', 'sctp']) {
      const got = ix[proto] ? [...ix[proto]!.r] : [];
      if (JSON.stringify(got) !== JSON.stringify(refRanges(spans[proto]))) return false;
    }
    return true;
  }), { numRuns: 3000, seed: 13 });
  t.pass('3000 random rule sets');
});

t.test('address tries keep every prefix after growing', async (t) => {
  const table = new AddrTable<number>();
  const cidrs: Cidr[] = [];
  for (let i = 0; i < 3000; i++) {
    const c = parseCidr(`${(i * 7919) % 223 + 1}.${(i * 31) % 256}.${i % 256}.0/24`) as Cidr;
    cidrs.push(c);
    table.insert(c, (old) => old ?? i);
  }
  const mapped = table.map((v) => v * 2);
  const buf = new Uint8Array(16);
  const wrong: number[] = [];
  for (let i = 0; i < 3000; i++) {
    buf.set(cidrs[i].bytes);
    const first = cidrs.findIndex((c) => c.bytes.slice(0, 3).every((x, k) => x === cidrs[i].bytes[k]));
    if (mapped.longest(4, buf) !== first * 2 || table.longest(4, buf) !== first) wrong.push(i);
  }
  t.same(wrong, [], 'every /24 found, with the value of its first insert');
});

t.test('an IPv4 trie asked by the 32-bit value agrees with the bytes, at every prefix length', async (t) => {
  const table = new AddrTable<string>();
  // prefixes of every length 0..32 along a few addresses, so each bit of the walk decides somewhere
  const bases = ['192.168.50.77', '10.1.2.3', '224.0.0.251', '255.255.255.255', '0.0.0.1'];
  for (const b of bases) for (let len = 0; len <= 32; len += 1) table.insert(parseCidr(`${b}/${len}`) as Cidr, () => `${b}/${len}`);
  const buf = new Uint8Array(16);
  let n = 0;
  const wrong: string[] = [];
  for (const b of bases) {
    const v = b.split('.').reduce((a, x) => a * 256 + Number(x), 0);
    // the address, and the address with each bit flipped: the longest match ends at every depth
    for (let bit = -1; bit < 32; bit++) {
      const u = bit < 0 ? v : (v ^ 2 ** bit) >>> 0;
      buf[0] = u >>> 24; buf[1] = (u >>> 16) & 255; buf[2] = (u >>> 8) & 255; buf[3] = u & 255;
      const want = table.longest(4, buf);
      if (table.v4.longest32(u) !== want || table.v4.longest32(u | 0) !== want) wrong.push(`${b} bit ${bit}`);
      n++;
    }
  }
  t.same(wrong, [], `${n} addresses: longest32 (uint32 and int32) = longest`);
});

t.test('RuleMemo: the compiler gets what it would parse itself, in any order', async (t) => {
  const memo = new RuleMemo();
  const tos = ['10.0.0.0/8', '*.ring.com', 'device:cam', 'segment:iot', 'bad/99'];
  for (const to of tos) t.same(memo.target(to), parseTarget(to));
  // in order: the records themselves; out of order or other texts: parsed afresh, equal
  const first = memo.targetAgain('10.0.0.0/8');
  t.same(first, parseTarget('10.0.0.0/8'));
  t.equal(first, (memo as unknown as { targets: unknown[] }).targets[0], 'the recorded result itself');
  t.same(memo.targetAgain('device:cam'), parseTarget('device:cam'));
  t.same(memo.targetAgain('device:cam'), parseTarget('device:cam'));
  t.same(memo.targetAgain('fd00::/64'), parseTarget('fd00::/64'));
  const list = ['443/tcp', '53/udp'];
  memo.ports(list, [parsePort('443/tcp') as PortSpec, parsePort('53/udp') as PortSpec]);
  t.same(memo.portsAgain(['443/tcp', '53/udp']), [{ proto: 'tcp', lo: 443, hi: 443 }, { proto: 'udp', lo: 53, hi: 53 }], 'another list: parsed');
  t.same(memo.portsAgain(list), [{ proto: 'tcp', lo: 443, hi: 443 }, { proto: 'udp', lo: 53, hi: 53 }], 'past the records: parsed');
  const m2 = new RuleMemo();
  const specs = [parsePort('1-2/sctp') as PortSpec];
  m2.ports(['1-2/sctp'], specs);
  const l2 = ['9/tcp'];
  t.same(m2.portsAgain(l2), [{ proto: 'tcp', lo: 9, hi: 9 }], 'not the recorded list: its own ports');
});
