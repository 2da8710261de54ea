// Fuzz: real export datagrams from the captures and built ones (v5, v9, IPFIX), mutated by bit
// flips, truncations, length-field edits and splices, and random bytes, through decoders primed
// with the captures' templates. Nothing may throw, the count returned is the count delivered,
// and a cut IPFIX or v5 datagram is always counted as malformed. Seeded: failures replay.
import t from 'tap';
import { FlowExportDecoder } from '../../../collector/decode/flow-export.js';
import type { ExportRecord } from '../../../collector/decode/flow-export-record.js';
import { captureGroups, readDatagrams } from './flow-export-captures.js';
import { set, template, ipfix, v9, v5, ip4, u16, u32, type FieldSpec } from './flow-export-build.js';

const ITERATIONS = Number(process.env.SEGWATCH_FUZZ_EXPORTS ?? 60_000);
const NOW = 1_700_000_000_000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

async function seeds(): Promise<Array<{ b: Buffer; exporter: string }>> {
  const out: Array<{ b: Buffer; exporter: string }> = [];
  for (const g of captureGroups()) for (const f of g) for (const d of await readDatagrams(f)) out.push({ b: d.payload, exporter: d.exporter });
  const F: FieldSpec[] = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [1, 8], [2, 4], [96, 65535], [1, 4, 29305], [2, 4, 29305], [100, 2, 9], [152, 8]];
  const rec = [...ip4('10.0.0.1'), ...ip4('10.0.0.2'), ...u16(1), ...u16(2), 6, ...u32(0), ...u32(9), ...u32(3), 2, 0x61, 0x62, ...u32(7), ...u32(8), 0, 1, ...u32(0), ...u32(5)];
  out.push({ b: ipfix(1, 0, NOW / 1000, [set(2, template(256, F)), set(256, [...rec, ...rec, ...rec])]), exporter: '192.0.2.1' });
  out.push({ b: v9(1, 0, 1000, NOW / 1000, [set(0, template(256, F.slice(0, 7))), set(256, [...rec.slice(0, 25), ...rec.slice(0, 25)], 2)]), exporter: '192.0.2.2' });
  const r5 = { src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, proto: 6, packets: 1, bytes: 40, first: 1, last: 2 };
  out.push({ b: v5({ uptime: 10, secs: NOW / 1000, nsecs: 0, seq: 0, engineType: 0, engineId: 0, sampling: 0 }, [r5, r5, r5]), exporter: '192.0.2.3' });
  return out;
}

const INTERESTING = [0, 1, 2, 3, 4, 5, 8, 10, 16, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff];

t.test('mutated and random export datagrams never throw; faults are counted', async (t) => {
  const base = await seeds();
  const rnd = mulberry32(0x5e6a7c);
  const pick = (n: number) => Math.floor(rnd() * n);
  const d = new FlowExportDecoder({ maxTemplates: 512, maxScopes: 64 });
  let primed = 0;
  // Templates first, so that mutated data sets meet a template; again now and then, as caps evict.
  const prime = () => { primed++; for (const s of base) d.decode(s.b, 0, s.b.length, s.exporter, NOW, () => {}); };
  prime();
  const kinds = { flip: 0, cut: 0, length: 0, splice: 0, random: 0 };
  let records = 0, cutFaultsMissed = 0;
  const sink = (r: ExportRecord) => { records++; if (typeof r.src !== 'string' || !(r.packets >= 0) || !(r.bytes >= 0)) throw new Error('bad record'); };
  for (let i = 0; i < ITERATIONS; i++) {
    if (i % 5000 === 0) prime();
    const s = base[pick(base.length)];
    let b = Buffer.from(s.b);
    const kind = pick(5);
    let cut = -1;
    if (kind === 0) {
      kinds.flip++;
      for (let k = 1 + pick(8); k > 0; k--) b[pick(b.length)] ^= 1 << pick(8);
    } else if (kind === 1) {
      kinds.cut++;
      cut = pick(b.length);
      b = b.subarray(0, cut);
    } else if (kind === 2) {
      kinds.length++;
      for (let k = 1 + pick(3); k > 0 && b.length >= 2; k--) {
        const o = pick(b.length - 1);
        const v = rnd() < 0.5 ? INTERESTING[pick(INTERESTING.length)] : b.length - o + pick(9) - 4;
        b.writeUInt16BE(v & 0xffff, o);
      }
    } else if (kind === 3) {
      kinds.splice++;
      const a = pick(b.length), l = pick(Math.min(256, b.length - a) + 1);
      b = Buffer.concat([b.subarray(0, a), b.subarray(a, a + l), b.subarray(a)]);
    } else {
      kinds.random++;
      b = Buffer.alloc(pick(1500));
      for (let k = 0; k < b.length; k++) b[k] = pick(256);
      if (b.length >= 2) b.writeUInt16BE([5, 9, 10][pick(3)], 0);
    }
    const before = d.stats().malformed;
    let delivered = 0;
    const n = d.decode(b, 0, b.length, s.exporter, NOW + i, (r) => { delivered++; sink(r); });
    if (n !== delivered) throw new Error(`iteration ${i}: returned ${n}, delivered ${delivered}`);
    if (cut >= 0) {
      const version = s.b.readUInt16BE(0);
      const whole = version === 5 ? 24 + 48 * s.b.readUInt16BE(2) : version === 10 ? s.b.readUInt16BE(2) : 0;
      if ((version === 5 || version === 10) && cut < whole && d.stats().malformed === before) cutFaultsMissed++;
    }
  }
  const st = d.stats();
  t.equal(st.datagrams, ITERATIONS + base.length * primed, 'every datagram counted');
  t.equal(cutFaultsMissed, 0, 'every cut v5/IPFIX datagram counted as malformed');
  t.ok(st.malformed > ITERATIONS / 10, `${st.malformed} malformed: ${JSON.stringify(st.malformedByReason)}`);
  const reasons = Object.values(st.malformedByReason).reduce((a, b) => a + b, 0);
  t.ok(reasons >= st.malformed, 'each malformed datagram has a reason');
  t.ok(st.templates <= 512);
  t.ok(records > 0, `${records} records from mutated datagrams; kinds ${JSON.stringify(kinds)}`);
});

t.test('cut datagrams in an offset view decode as copies do: nothing past [off, off+len) is read', async (t) => {
  const base = await seeds();
  const rnd = mulberry32(7);
  const primed = () => {
    const d = new FlowExportDecoder();
    for (const x of base) d.decode(x.b, 0, x.b.length, x.exporter, NOW, () => {});
    return d;
  };
  let mismatches = 0;
  for (let i = 0; i < 300; i++) {
    const s = base[Math.floor(rnd() * base.length)];
    const plain = Buffer.from(s.b.subarray(0, Math.floor(rnd() * (s.b.length + 1))));
    // bytes around the datagram are garbage that must not be read
    const padded = Buffer.alloc(plain.length + 64, 0xff);
    plain.copy(padded, 10);
    const r1: string[] = [], r2: string[] = [];
    primed().decode(plain, 0, plain.length, s.exporter, NOW, (r) => r1.push(JSON.stringify(r)));
    primed().decode(padded, 10, plain.length, s.exporter, NOW, (r) => r2.push(JSON.stringify(r)));
    if (r1.join() !== r2.join()) mismatches++;
  }
  t.equal(mismatches, 0);
});
