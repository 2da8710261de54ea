// The fast yes/no schema check says exactly what ajv says (valid or not) on the policy schema.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { makeSchemaCheck } from '../../../collector/policy/schema-check.js';
import { makeSchemaValidator } from '../../../collector/policy/validate.js';
import { PolicySchema } from '../../../collector/policy/schema.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// SEGWATCH_POLICY_FUZZ_RUNS and _SEED run the random part longer or elsewhere
const RUNS = Number(process.env.SEGWATCH_POLICY_FUZZ_RUNS ?? 4000);
const SEED = Number(process.env.SEGWATCH_POLICY_FUZZ_SEED ?? 424242);
const check = makeSchemaCheck(PolicySchema);
const ajv = makeSchemaValidator();

t.test('handles the policy schema; gives up on keywords it does not know', async (t) => {
  t.ok(check, 'the policy schema is within what makeSchemaCheck handles');
  t.equal(makeSchemaCheck({ type: 'string', format: 'email' }), null);
  t.equal(makeSchemaCheck({ type: 'object', additionalProperties: { type: 'string' } }), null);
  t.equal(makeSchemaCheck({ const: { a: 1 } }), null);
  t.equal(makeSchemaCheck({ type: 'date' }), null);
  t.equal(makeSchemaCheck({ anyOf: [{ type: 'string' }, { oneOf: [] }] }), null);
  t.equal(makeSchemaCheck({ properties: { a: { maxLength: 3 } } }), null);
});

t.test('small schemas: ajv\'s rules for numbers, strings and objects', async (t) => {
  const c = (s: object) => makeSchemaCheck(s)!;
  t.notOk(c({ type: 'number' })(NaN));
  t.notOk(c({ type: 'number' })(Infinity));
  t.ok(c({ type: 'integer' })(-0));
  t.notOk(c({ type: 'integer' })(1.5));
  t.ok(c({ minimum: 1 })('x'), 'minimum only judges numbers');
  t.notOk(c({ minimum: 1 })(NaN));
  t.ok(c({ minLength: 2 })(5), 'minLength only judges strings');
  t.notOk(c({ minLength: 2 })('😀'), 'one code point');
  t.notOk(c({ pattern: '^.$' })('ab'));
  t.ok(c({ pattern: '^.$' })('😀'), 'patterns are unicode');
  t.ok(c({ const: 1 })(1));
  t.notOk(c({ const: 1 })('1'));
  t.notOk(c({ type: 'object', required: ['a'] })({}));
  t.notOk(c({ type: 'object', additionalProperties: false, properties: { a: {} } })({ a: 1, b: 2 }));
  t.ok(c({ type: 'object', additionalProperties: false, patternProperties: { '^x': {} } })({ xy: 1 }));
  t.ok(c({ type: 'object', properties: { a: { type: 'string' } } })({ a: undefined }), 'undefined counts as absent');
});

const policyValues = [
  parse(readFileSync(`${root}policies/site.example.yaml`, 'utf8')),
  parse(readFileSync(`${root}test/fixtures/demo/policy.yaml`, 'utf8')),
];

t.test('the repo policies are valid both ways', async (t) => {
  for (const v of policyValues) {
    t.ok(ajv(v));
    t.ok(check!(v));
  }
});

/** Every path to a value inside v (objects and arrays). */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...at, k], out);
  return out;
}

const atoms = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, 1, -1, 1.5, 2, 4094, 4095, 64, NaN, Infinity, -Infinity, 1e21, '', ' ', 'x', '1', 'iot',
    'a'.repeat(64), 'a'.repeat(65), '-x', 'x y', 'é', '😀', 'x😀', 'dns', 'telnet', 'high', 'HIGH', '500MB', '1.5GB', '10 KiB', '1e3', '500mb',
    '60s', '5m', '060s', '1.5h', '0ms', '443/tcp', 'icmp', '192.168.1.0/24', '*.ring.com', 'segment:iot', [], {}, ['iot'], { a: 1 }),
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.double(),
);
const keys = fc.oneof(fc.constantFrom('to', 'ports', 'service', 'comment', 'allow', 'limits', 'description', 'bytes_per_hour', 'name', 'mac',
  'profile', 'x', 'iot', 'a'.repeat(65), 'é', '_x', 'x y', '', 'constructor', '__proto__', 'version', 'threshold', 'window', 'policy.violation'), fc.string({ maxLength: 5 }));

t.test('mutated policies: the same verdict as ajv', async (t) => {
  let valid = 0, runs = 0;
  const op = fc.record({ path: fc.nat(), kind: fc.integer({ min: 0, max: 3 }), value: atoms, key: keys });
  fc.assert(fc.property(fc.nat(), fc.array(op, { minLength: 1, maxLength: 3 }), (which, ops) => {
    const v = structuredClone(policyValues[which % policyValues.length]);
    for (const o of ops) {
      const ps = paths(v).filter((p) => p.length > 0);
      const p = ps[o.path % ps.length];
      let parent: unknown = v;
      for (const seg of p.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[seg];
      const last = p[p.length - 1];
      const box = parent as Record<string | number, unknown>;
      if (o.kind === 0) box[last] = o.value;
      else if (o.kind === 1) { if (Array.isArray(box)) box.splice(last as number, 1); else delete box[last]; }
      else if (o.kind === 2) {
        const target = box[last];
        if (typeof target === 'object' && target !== null && !Array.isArray(target)) Object.defineProperty(target, o.key, { value: o.value, enumerable: true, writable: true, configurable: true });
        else box[last] = o.value;
      } else if (!Array.isArray(box)) {
        // rename a key, keeping the value
        const val = box[last];
        delete box[last];
        Object.defineProperty(box, o.key, { value: val, enumerable: true, writable: true, configurable: true });
      }
    }
    runs++;
    const a = ajv(v);
    if (a) valid++;
    if (check!(v) !== a) throw new Error(`ajv says ${a}, the check ${!a}: ${JSON.stringify(v)}`);
  }), { numRuns: RUNS, seed: SEED });
  t.ok(valid > runs / 20 && valid < runs - runs / 20, `both valid and invalid documents were tried (${valid} of ${runs} valid)`);
});
