// The fast reading (fast-yaml.ts, fastLoad) against the positional one (`yaml`,
// positionalLoad): wherever the fast one answers, it must give exactly what `yaml` gives,
// and on every policy of the repo it must answer (else loading is slow again).
import t from 'tap';
import fc from 'fast-check';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { LineCounter, parseDocument } from 'yaml';
import { coreScalar, fastParseYaml, NOT_CORE } from '../../../collector/policy/fast-yaml.js';
import { fastLoad, loadPolicyText, positionalLoad } from '../../../collector/policy/load.js';
import { bigPolicyYaml } from '../../../bench/big-policy.js';
import { siteAround } from '../../helpers/profile-site.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// SEGWATCH_POLICY_FUZZ_RUNS and _SEED run the random part longer or elsewhere
const RUNS = Number(process.env.SEGWATCH_POLICY_FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.SEGWATCH_POLICY_FUZZ_SEED ?? 20241122);

/** What load.ts's positional path reads: the first error, or the plain value. */
function slow(text: string): { ok: true; value: unknown } | { ok: false; why: string } {
  const doc = parseDocument(text, { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  if (doc.errors.length > 0) return { ok: false, why: doc.errors[0].message };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}

/** Same keys in the same order all the way down (isDeepStrictEqual ignores order). */
function sameOrder(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return true;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.join('\0') !== kb.join('\0')) return false;
  return ka.every((k) => sameOrder((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The contract: no answer, or exactly `yaml`'s value. Returns a complaint or ''. */
function agrees(text: string): string {
  const f = fastParseYaml(text);
  if (f === null) return '';
  const s = slow(text);
  if (!s.ok) return `fast reading accepted what yaml refuses (${s.why})`;
  if (!isDeepStrictEqual(f.value, s.value) || !sameOrder(f.value, s.value)) {
    return `values differ: fast ${JSON.stringify(f.value)} vs yaml ${JSON.stringify(s.value)}`;
  }
  return '';
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    if (f === 'node_modules' || f === 'dist' || f.startsWith('.')) return [];
    const p = join(dir, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}


/** The policy of scale.test.ts (1,000 devices, 10,000 rules), in block style for a change. */
function scalePolicy(): string {
  const lines = ['---', 'version: 1', 'segments:', '  iot:', '    - 10.50.0.0/16', '    - "fd00:50::/64"', '  lan: [192.168.1.0/24]',
    'watch:', '- iot', 'protected: [lan]', 'resolvers: [10.50.0.1]', 'devices:'];
  for (let i = 0; i < 1000; i++) {
    lines.push(`  - name: d${i}`, i % 10 === 9 ? `    hostname: 'host-${i}-*'` : `    mac: "02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}"`,
      `    profile: p${i % 50}   # entry ${i}`);
  }
  lines.push('default_profile: p0', 'profiles:');
  for (let p = 0; p < 50; p++) {
    lines.push(`  p${p}:`, `    description: profile ${p}`, '    allow:');
    for (let k = 0; k < 200; k++) {
      if (k % 4 === 0) lines.push('      - service: dns');
      else if (k % 4 === 1) lines.push(`      - to: "*.svc${k}.example${p}.com"`, '        ports: [443/tcp, "3478-3479/udp"]');
      else if (k % 4 === 2) lines.push(`      - { to: 2600:${k.toString(16)}::/32, ports: ["${k + 1}/tcp"], comment: 'v6 #${k}' }`);
      else lines.push(`      - to: device:d${(p * 7) % 1000}`, '        ports:', '          - 554/tcp');
    }
    lines.push('    limits: { bytes_per_hour: 10GB, bytes_per_day: 100000000 }');
  }
  return lines.join('\r\n') + '\r\n';
}

/** Every policy the repo has or generates: [name, text]. */
function repoPolicies(): [string, string][] {
  const out: [string, string][] = [
    ['policies/site.example.yaml', readFileSync(join(root, 'policies/site.example.yaml'), 'utf8')],
    ['test/fixtures/demo/policy.yaml', readFileSync(join(root, 'test/fixtures/demo/policy.yaml'), 'utf8')],
    ['bench/big-policy.ts', bigPolicyYaml([])],
    ['scale policy (block style, CRLF)', scalePolicy()],
  ];
  for (const f of readdirSync(join(root, 'policies/profiles')).filter((f) => f.endsWith('.yaml'))) {
    out.push([`policies/profiles/${f}`, siteAround(readFileSync(join(root, 'policies/profiles', f), 'utf8'), f.replace(/\.yaml$/, ''))]);
  }
  return out;
}

t.test('every YAML file of the repo reads as yaml reads it', async (t) => {
  const files = yamlFiles(root);
  t.ok(files.length >= 10, `${files.length} files`);
  for (const f of files) t.equal(agrees(readFileSync(f, 'utf8')), '', f);
});

t.test('every policy of the repo takes the fast path, to the same policy as the positional path', async (t) => {
  for (const [name, text] of repoPolicies()) {
    const f = fastParseYaml(text);
    t.ok(f, `${name}: read by the fast reader`);
    t.equal(agrees(text), '', name);
    const fast = fastLoad(text, name);
    const pos = positionalLoad(text, name);
    t.same(pos.errors, [], `${name} is valid`);
    t.ok(fast, `${name}: loaded by the fast path`);
    t.ok(isDeepStrictEqual(fast, pos), `${name}: same compiled policy both ways`);
  }
});

t.test('plain scalars resolve as in yaml\'s YAML 1.2 core schema', async (t) => {
  const cases: [string, unknown][] = [
    ['yes', 'yes'], ['no', 'no'], ['on', 'on'], ['off', 'off'], ['y', 'y'], ['True', true], ['FALSE', false], ['tRue', 'tRue'],
    ['0o17', 15], ['017', 17], ['0x1F', 31], ['0X1F', '0X1F'], ['0b101', '0b101'], ['1_000', '1_000'], ['+12', 12], ['-0', -0],
    ['~', null], ['null', null], ['NULL', null], ['nUll', 'nUll'], ['', null],
    ['.inf', Infinity], ['-.Inf', -Infinity], ['+.INF', Infinity], ['.nan', NaN], ['.NaN', NaN], ['nan', 'nan'],
    ['1.5', 1.5], ['1.', 1], ['.5', 0.5], ['1e3', 1000], ['1.5E-2', 0.015], ['1e', '1e'], ['12:30', '12:30'], ['2024-01-01', '2024-01-01'],
  ];
  for (const [s, want] of cases) {
    const v = coreScalar(s);
    t.ok(Object.is(v === NOT_CORE ? s : v, want), `${JSON.stringify(s)} -> ${String(want)}`);
    const doc = slow(`k: ${s}\n`);
    t.ok(doc.ok && Object.is((doc.value as { k: unknown }).k, want), `yaml reads ${JSON.stringify(s)} the same`);
  }
});

t.test('tricky inputs: the same value as yaml, or the positional path', async (t) => {
  // [text, true when the fast reader should take it itself]
  const cases: [string, boolean][] = [
    ['a: yes\nb: no\nc: on\nd: off\n', true],
    ['a: 0o17\nb: 017\nc: ~\nd: null\ne: .inf\nf: -.inf\ng: .nan\n', true],
    ['1: a\n1.5: b\ntrue: c\n0x10: d\n', true],
    ['---\nversion: 1\n', true],
    ['# head\n\n---\nversion: 1\n', true],
    ['a: b\r\nc: [d, e]\r\n', true],
    ['a:\n- b\n- c: d\n  e: f\n', true],
    ['a: { b: [c, { d: e }], f: "g h", \'i\': \'j\', k: aa:bb:* }\n', true],
    ['a: b # comment\nc: "d" # comment\ne: [f] # comment\n', true],
    ['a: "é 😀"\n', true],
    ['constructor: 1\ntoString: 2\n', true],
    ['<<: 1\n', false],
    // duplicate keys: yaml refuses them, with a position
    ['a: 1\na: 2\n', false], ['a: 1\n"a": 2\n', false], ['{a: 1, a: 2}\n', false], ['1: a\n1.0: b\n', false],
    // anchors, aliases, merge keys
    ['a: &x 1\nb: *x\n', false], ['base: &b { x: 1 }\nc:\n  <<: *b\n  y: 2\n', false], ['a: *x\n', false],
    ['a: &x [1, 2]\nb: [*x, *x, *x, *x]\n', false],
    // several documents, directives, markers
    ['a: 1\n---\nb: 2\n', false], ['%YAML 1.1\n---\na: yes\n', false], ['a: 1\n...\n', false], ['--- a: 1\n', false],
    // tabs, BOM, odd line breaks, control characters
    ['a:\tb\n', false], ['a: b\t# c\n', false], ['\uFEFFa: b\n', false], ['a: b\rc: d\n', false], ['a: b\u0085c\n', false], ['a: "\u0001"\n', false],
    // tags, block scalars, explicit keys, collection and null keys
    ['a: !!str 1\n', false], ['a: ! 1\n', false], ['a: |\n  x\n', false], ['a: >-\n  x\n  y\n', false], ['? a\n: b\n', false],
    ['[a]: b\n', false], ['{a: 1}: b\n', false], ['~: a\n', false], ['null: a\n', false], [': a\n', false], ['__proto__: 1\n', false],
    // layout yaml refuses or reads in ways not worth copying
    ['a: [b,\n  c]\n', false], ['a: [b,\nc]\n', false], ['a: "b\n c"\n', false], ['a: "b"#c\n', false], ['a: b\n  c\n', false],
    ['- - a\n  - b\n', false], ['- a\n-  -\n  - b\n', false], ['a:\n  b: 1\n c: 2\n', false], ['a: b: c\n', false], ['a: "\\n"\n', false],
    ["a: 'it''s'\n", false], ['a: [b, , c]\n', false], ['a: {b}\n', false], ['a: {b: 1,}\n', false], ['{"a":1}\n', false], ['', false],
    ['# only a comment\n', false], ['just text\n', false],
  ];
  for (const [text, fast] of cases) {
    t.equal(agrees(text), '', JSON.stringify(text));
    t.equal(fastParseYaml(text) !== null, fast, `${JSON.stringify(text)} ${fast ? 'read fast' : 'left to yaml'}`);
  }
});

t.test('loadPolicyText equals the positional load on broken and odd policies', async (t) => {
  const base = readFileSync(join(root, 'policies/site.example.yaml'), 'utf8');
  const variants = [
    base,
    base.replace('vlan: 50', 'vlan: 5000'),
    base.replace('vlan: 50', 'vlan: 50\nvlan: 51'),
    base.replace('watch: [iot, cameras]', 'watch: [iot, cameras, dmz]'),
    base.replace('version: 1', 'version: yes'),
    base.replace('version: 1', 'version: 0o1'),
    base.replace('version: 1', 'version: 1.0'),
    base.replace('version: 1', 'version: &v 1\nx: *v'),
    base.replace('\n', '\n\t\n'),
    base.replace('segments:', 'segments:\n  null: ["10.9.0.0/16"]'),
    base.replace('segments:', 'segments:\n  ~: ["10.9.0.0/16"]'),
    base.replace('segments:', 'segments:\n  ? [x]\n  : ["10.9.0.0/16"]'),
    base.replace('segments:', 'segments:\n  "quoted": ["10.9.0.0/16"]'),
    '',
    '- a\n',
  ];
  for (const text of variants) {
    const fast = fastLoad(text, 'site.yaml');
    const pos = positionalLoad(text, 'site.yaml');
    t.ok(fast === null || (pos.errors.length === 0 && isDeepStrictEqual(fast, pos)), 'fast answer only for a valid policy, and the same');
    t.ok(isDeepStrictEqual(loadPolicyText(text, 'site.yaml'), pos), 'loadPolicyText gives the positional result');
  }
});

/** Small edits of the kind a person or a bug makes, applied to real policy text. */
const EDITS = [' ', '  ', '\n', '\n  ', ':', ': ', '-', '- ', '#', ' #', '[', ']', '{', '}', ',', '"', "'", '?', '? ', '|', '>',
  '&a ', '*a', '!', '!!str ', '%', '---', '...', '\t', '\r\n', '\r', '~', 'null', '0', '1.5', 'x', '\\', '@', '`', '\uFEFF', '<<',
  'é', '\u0001', ': |', 'yes', '0o7', '0x', '.5', '- - ', '"a"', "''"];

t.test('mutated policies: the fast reading never disagrees with yaml', async (t) => {
  const seeds = repoPolicies().filter(([n]) => !n.startsWith('bench') && !n.startsWith('scale')).map(([, s]) => s);
  seeds.push('a:\n  - # c\n    b: 1\n  -\n    c: [d, {e: f}]\n  - g: h #x\n    i: j\nk: # c\n  l: m\n');
  let taken = 0, runs = 0;
  const edit = fc.record({ at: fc.nat(), kind: fc.integer({ min: 0, max: 4 }), what: fc.constantFrom(...EDITS), len: fc.integer({ min: 1, max: 3 }), other: fc.nat() });
  fc.assert(fc.property(fc.nat(), fc.nat(), fc.integer({ min: 2, max: 14 }), fc.array(edit, { minLength: 1, maxLength: 3 }), (si, from, count, edits) => {
    // a window of lines keeps each case small
    const lines = seeds[si % seeds.length].split('\n');
    const a = from % lines.length;
    let s = lines.slice(a, a + count).join('\n') + '\n';
    for (const e of edits) {
      const p = e.at % (s.length + 1);
      if (e.kind === 0) s = s.slice(0, p) + e.what + s.slice(p);
      else if (e.kind === 1) s = s.slice(0, p) + s.slice(p + e.len);
      else if (e.kind === 2) s = s.slice(0, p) + e.what + s.slice(p + 1);
      else {
        const ls = s.split('\n');
        const i = e.at % ls.length, j = e.other % ls.length;
        if (e.kind === 3) [ls[i], ls[j]] = [ls[j], ls[i]];
        else ls[i] = e.len === 1 ? ls[i].replace(/^ /, '') : ' ' + ls[i];
        s = ls.join('\n');
      }
    }
    runs++;
    if (fastParseYaml(s) !== null) taken++;
    const why = agrees(s);
    if (why) throw new Error(`${why}\ntext: ${JSON.stringify(s)}`);
  }), { numRuns: RUNS, seed: SEED });
  t.ok(taken > runs / 10, `the fast reader took ${taken} of ${runs} mutated texts itself`);
});
