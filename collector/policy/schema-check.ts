// A yes/no JSON Schema check for the fast load (load.ts): is the document valid?
//
// Why not ajv here: compiling the policy schema with ajv costs 150-300 ms in a fresh
// process, more than the whole fast load of a 10,000-rule policy may take. This builds a
// tree of small closures from the same schema object in well under a millisecond. It
// only says yes or no; whenever it says no, load.ts takes the positional path, where ajv
// (validate.ts) finds and words every error. So it must agree with ajv on what is valid,
// and it follows ajv 8's generated code keyword by keyword (noted below). A keyword it
// does not know makes makeSchemaCheck return null, and load.ts uses ajv instead.
// test/unit/policy/schema-check.test.ts compares both on many mutated policies.

import ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';

type Check = (v: unknown) => boolean;
type SchemaObject = Record<string, unknown>;

// ajv counts minLength in code points (its runtime ucs2length)
const ucs2length = (ucs2lengthModule as unknown as { default: (s: string) => number }).default;

/** Keywords that only annotate. */
const ANNOTATIONS = new Set(['$id', '$schema', 'title', 'description', 'default', 'examples', '$comment']);
const KNOWN = new Set(['type', 'const', 'anyOf', 'minimum', 'maximum', 'minLength', 'pattern', 'minItems', 'items',
  'properties', 'required', 'additionalProperties', 'patternProperties']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ajv's type tests: "number" and "integer" both refuse NaN and the infinities. */
function typeCheck(t: string): Check | null {
  switch (t) {
    case 'object': return isObject;
    case 'array': return Array.isArray;
    case 'string': return (v) => typeof v === 'string';
    case 'number': return (v) => typeof v === 'number' && isFinite(v);
    case 'integer': return (v) => typeof v === 'number' && Number.isInteger(v);
    case 'boolean': return (v) => typeof v === 'boolean';
    case 'null': return (v) => v === null;
    default: return null;
  }
}

/** A check equal to ajv's verdict on `schema`, or null when the schema uses a keyword not handled here. */
export function makeSchemaCheck(schema: unknown): Check | null {
  if (!isObject(schema)) return null;
  const checks: Check[] = [];
  for (const k of Object.keys(schema)) {
    if (!KNOWN.has(k) && !ANNOTATIONS.has(k)) return null;
  }
  const s = schema as SchemaObject;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const ts: Check[] = [];
    for (const t of types) { const c = typeof t === 'string' ? typeCheck(t) : null; if (!c) return null; ts.push(c); }
    checks.push(ts.length === 1 ? ts[0] : (v) => ts.some((c) => c(v)));
  }
  if (s.const !== undefined) {
    // ajv compares with fast-deep-equal; for a primitive that is ===, with NaN equal to NaN
    const c = s.const;
    if (typeof c === 'object' && c !== null) return null;
    checks.push((v) => v === c || (c !== c && v !== v));
  }
  if (s.anyOf !== undefined) {
    if (!Array.isArray(s.anyOf)) return null;
    const alts: Check[] = [];
    for (const a of s.anyOf) { const c = makeSchemaCheck(a); if (!c) return null; alts.push(c); }
    checks.push((v) => { for (let i = 0; i < alts.length; i++) if (alts[i](v)) return true; return false; });
  }
  // number keywords apply to numbers only; ajv also fails NaN on them
  if (s.minimum !== undefined) {
    const m = s.minimum;
    if (typeof m !== 'number') return null;
    checks.push((v) => typeof v !== 'number' || v >= m);
  }
  if (s.maximum !== undefined) {
    const m = s.maximum;
    if (typeof m !== 'number') return null;
    checks.push((v) => typeof v !== 'number' || v <= m);
  }
  // string keywords; ajv builds patterns with the "u" flag
  if (s.minLength !== undefined) {
    const m = s.minLength;
    if (typeof m !== 'number') return null;
    // at most two UTF-16 units per code point: most texts are decided by their length alone
    checks.push((v) => typeof v !== 'string' || v.length >= 2 * m || (v.length >= m && ucs2length(v) >= m));
  }
  if (s.pattern !== undefined) {
    if (typeof s.pattern !== 'string') return null;
    const re = new RegExp(s.pattern, 'u');
    checks.push((v) => typeof v !== 'string' || re.test(v));
  }
  // array keywords
  if (s.minItems !== undefined) {
    const m = s.minItems;
    if (typeof m !== 'number') return null;
    checks.push((v) => !Array.isArray(v) || v.length >= m);
  }
  if (s.items !== undefined) {
    const item = makeSchemaCheck(s.items);
    if (!item) return null;
    checks.push((v) => {
      if (!Array.isArray(v)) return true;
      for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
      return true;
    });
  }
  const obj = objectChecks(s);
  if (obj === null) return null;
  if (obj !== undefined) checks.push(obj);
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0];
  return (v) => { for (let i = 0; i < checks.length; i++) if (!checks[i](v)) return false; return true; };
}

/**
 * properties, required, additionalProperties (false only), patternProperties: on objects
 * only. As in ajv's code, a property is present when `v[name] !== undefined` and the
 * extra keys are those of `for (key in v)`.
 */
function objectChecks(s: SchemaObject): Check | null | undefined {
  const { properties, required, additionalProperties, patternProperties } = s;
  if (properties === undefined && required === undefined && additionalProperties === undefined && patternProperties === undefined) return undefined;
  const props: [string, Check][] = [];
  if (properties !== undefined) {
    if (!isObject(properties)) return null;
    for (const [k, sub] of Object.entries(properties)) { const c = makeSchemaCheck(sub); if (!c) return null; props.push([k, c]); }
  }
  const req: string[] = [];
  if (required !== undefined) {
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) return null;
    req.push(...(required as string[]));
  }
  if (additionalProperties !== undefined && additionalProperties !== false) return null;
  const pats: [RegExp, Check][] = [];
  if (patternProperties !== undefined) {
    if (!isObject(patternProperties)) return null;
    for (const [p, sub] of Object.entries(patternProperties)) { const c = makeSchemaCheck(sub); if (!c) return null; pats.push([new RegExp(p, 'u'), c]); }
  }
  const closed = additionalProperties === false;
  // plain arrays and index loops: this runs once per object of the policy, often cold
  const propNames = props.map(([k]) => k), propChecks = props.map(([, c]) => c);
  const patRes = pats.map(([re]) => re), patChecks = pats.map(([, c]) => c);
  const names = new Set(propNames);
  const keyed = patRes.length > 0 || closed;
  return (v) => {
    if (!isObject(v)) return true;
    for (let i = 0; i < req.length; i++) if (v[req[i]] === undefined) return false;
    for (let i = 0; i < propNames.length; i++) { const x = v[propNames[i]]; if (x !== undefined && !propChecks[i](x)) return false; }
    if (keyed) {
      for (const key in v) {
        let matched = names.has(key);
        for (let i = 0; i < patRes.length; i++) {
          if (patRes[i].test(key)) { matched = true; if (!patChecks[i](v[key])) return false; }
        }
        if (closed && !matched) return false;
      }
    }
    return true;
  };
}
