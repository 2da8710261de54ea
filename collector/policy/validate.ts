// Validation of a parsed policy: the JSON Schema (ajv, all errors) and the checks the
// schema cannot express (CIDRs, ports, sizes, references between sections).

import type { ErrorObject } from 'ajv';
import { validate as policySchemaValidate } from './schema-validator.js';
import { parseCidr, parseIp, type Cidr } from './net.js';
import { parsePort, parseSize, show, type PortSpec } from './units.js';
import { checkDomainGlob, checkMacGlob } from './glob.js';
import { dottedPath, type Locator, type PathSeg } from './locate.js';
import type { PolicyError } from './types.js';
import { untilMs } from './exceptions.js';
import { ICMP4_TYPES, ICMP6_TYPES, RESERVED_PROFILES } from './schema-names.js';

/** ajv's validating function: true or false, and after false its `errors`. */
export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * The policy's schema validator, compiled ahead of time (schema-validator.ts, ajv's
 * standalone code): nothing is compiled at start. One function for the process; its
 * `errors` are those of its last call.
 */
export function makeSchemaValidator(): SchemaValidator {
  return policySchemaValidate as SchemaValidator;
}

type Validator = SchemaValidator;

/** ajv's instancePath ("/profiles/31/allow/0") as path segments: numbers only for array indexes. */
function pointerToPath(ptr: string, doc: unknown): PathSeg[] {
  if (ptr === '') return [];
  let at = doc;
  return ptr.slice(1).split('/').map((s) => {
    const u = s.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg = Array.isArray(at) ? Number(u) : u;
    at = typeof at === 'object' && at !== null ? (at as Record<string | number, unknown>)[seg] : undefined;
    return seg;
  });
}

function described(e: ErrorObject): string {
  const d = (e.parentSchema as { description?: string } | undefined)?.description;
  return d ? d : `a value of type ${(e.parentSchema as { type?: string })?.type ?? 'unknown'}`;
}

function oneList(xs: readonly string[]): string {
  return xs.length > 12 ? xs.slice(0, 12).join(', ') + ', ...' : xs.join(', ');
}

/** Schema errors, one per place (anyOf branches collapsed), positioned. */
export function schemaErrors(validate: Validator, value: unknown, loc: Locator): PolicyError[] {
  if (validate(value)) return [];
  const errs = validate.errors ?? [];
  const anyOfAt = new Set(errs.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: PolicyError[] = [];
  const seen = new Set<string>();
  for (const e of errs) {
    const path = pointerToPath(e.instancePath, value);
    // branch errors of a union: the anyOf error itself says what was expected
    if (e.keyword !== 'anyOf' && [...anyOfAt].some((p) => e.instancePath === p || e.instancePath.startsWith(p + '/'))) continue;
    let msg: string;
    let key = false;
    let at = path;
    switch (e.keyword) {
      case 'additionalProperties': {
        const k = (e.params as { additionalProperty: string }).additionalProperty;
        at = [...path, k];
        key = true;
        const ps = e.parentSchema as { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown> };
        if (ps.properties) msg = `unknown key "${k}"; expected one of: ${oneList(Object.keys(ps.properties))}`;
        else msg = `invalid name "${k}": expected letters, digits, "_", "." or "-" (at most 64, starting with a letter or digit)`;
        break;
      }
      case 'required':
        msg = `missing key "${(e.params as { missingProperty: string }).missingProperty}"`;
        break;
      case 'const':
        msg = `expected ${described(e)}, got ${show(e.data)}`;
        break;
      case 'minItems':
        msg = `expected at least ${(e.params as { limit: number }).limit} item(s)${described(e) ? ` (${described(e)})` : ''}`;
        break;
      case 'minLength':
        msg = `expected a non-empty text: ${described(e)}`;
        break;
      default:
        msg = `expected ${described(e)}, got ${show(e.data)}`;
    }
    const id = `${dottedPath(at)}|${msg}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(loc.error(at, msg, key));
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): v is string => typeof v === 'string';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_EXPECTED = 'expected a duration like "60s", "5m" or "1h" (a whole number with a unit ms, s, m, h or d)';

/**
 * Milliseconds of a duration "N<unit>", unit ms, s, m, h or d. Strict: a unit is required
 * (a bare 60 could mean seconds or ms), no fractions, signs, spaces or leading zeros.
 */
export function parseDuration(v: unknown): { ms: number } | { error: string } {
  if (typeof v === 'number') return { error: `${DURATION_EXPECTED}, got ${v} (add a unit, e.g. "${v}s")` };
  if (typeof v !== 'string') return { error: `${DURATION_EXPECTED}, got ${show(v)}` };
  const m = /^([0-9]+)([A-Za-z]+)$/.exec(v);
  if (!m) return { error: `${DURATION_EXPECTED}, got ${show(v)}${/^[0-9]+$/.test(v) ? ` (add a unit, e.g. "${v}s")` : ''}` };
  const mult = DURATION_UNITS[m[2]];
  if (mult === undefined) {
    const near = Object.keys(DURATION_UNITS).find((u) => u === m[2].toLowerCase());
    return { error: `${DURATION_EXPECTED}, got unknown unit "${m[2]}" in ${show(v)}${near ? ` (did you mean "${m[1]}${near}"?)` : ''}` };
  }
  if (m[1].length > 1 && m[1][0] === '0') return { error: `${DURATION_EXPECTED}, got a leading zero in ${show(v)}` };
  const ms = Number(m[1]) * mult;
  if (!Number.isSafeInteger(ms)) return { error: `${DURATION_EXPECTED}, got ${show(v)}, which is too long` };
  return { ms };
}

/** Most ports `plaintext_ports` may expand to: each flow's check walks the list. */
export const MAX_PLAINTEXT_PORTS = 1024;

/** Checks of `detectors:`; each is skipped where the shape is wrong (the schema says so). */
function detectorErrors(det: Record<string, unknown>, err: (path: PathSeg[], msg: string) => void): void {
  const dur = (path: PathSeg[], v: unknown, min: number) => {
    if (v === undefined) return;
    const d = parseDuration(v);
    if ('error' in d) err(path, d.error);
    else if (d.ms < min) err(path, `expected a duration of at least ${min}ms, got ${show(v)}`);
  };
  for (const k of ['scan_hosts', 'scan_ports']) {
    const sc = det[k];
    if (isObj(sc)) {
      dur(['detectors', k, 'window'], sc.window, 1);
      dur(['detectors', k, 'fast_window'], sc.fast_window, 1);
    }
  }
  dur(['detectors', 'anomaly_idle'], det.anomaly_idle, 1);
  dur(['detectors', 'anomaly_update'], det.anomaly_update, 0);
  dur(['detectors', 'suppress_window'], det.suppress_window, 1);
  dur(['detectors', 'dns_grace'], det.dns_grace, 0);
  let total = 0;
  arr(det.plaintext_ports).forEach((q, i) => {
    const at: PathSeg[] = ['detectors', 'plaintext_ports', i];
    const x = parsePort(q);
    if ('error' in x) return err(at, x.error);
    if (x.proto !== 'tcp' && x.proto !== 'udp') return err(at, `expected a tcp or udp port like "23/tcp" (a clear-text protocol's server port), got ${show(q)}`);
    total += x.hi - x.lo + 1;
    if (total > MAX_PLAINTEXT_PORTS && total - (x.hi - x.lo + 1) <= MAX_PLAINTEXT_PORTS) {
      err(at, `expected at most ${MAX_PLAINTEXT_PORTS} ports in plaintext_ports altogether, got more by ${show(q)}`);
    }
  });
  arr(det.critical_ips).forEach((r, i) => {
    if (!str(r)) return;
    const p = parseIp(r);
    if ('error' in p) err(['detectors', 'critical_ips', i], p.error);
  });
}

function unknownName(what: string, name: string, known: readonly string[]): string {
  return `unknown ${what} "${name}"; expected one of: ${known.length ? oneList(known) : `(no ${what}s defined)`}`;
}

/** What a rule's `to` (or an inbound rule's `from`) means, or an error text. */
export type Target =
  | { kind: 'cidr'; cidr: Cidr }
  | { kind: 'domain'; glob: string }
  | { kind: 'segment'; name: string }
  | { kind: 'device'; name: string }
  | { kind: 'controller'; name: string }
  /** devices whose MUD URL has this host (lower case) */
  | { kind: 'manufacturer'; host: string }
  | { kind: 'same-manufacturer' }
  /** every address of every segment (MUD's local-networks) */
  | { kind: 'local-networks' };

const TARGET_EXPECTED = 'expected an IP, a CIDR, a domain glob, "segment:NAME", "device:NAME", "controller:NAME", "manufacturer:DOMAIN", "same-manufacturer" or "local-networks"';

export function parseTarget(to: string): Target | { error: string } {
  if (to.startsWith('segment:')) return { kind: 'segment', name: to.slice(8) };
  if (to.startsWith('device:')) return { kind: 'device', name: to.slice(7) };
  if (to.startsWith('controller:')) return { kind: 'controller', name: to.slice(11) };
  if (to === 'same-manufacturer') return { kind: 'same-manufacturer' };
  if (to === 'local-networks') return { kind: 'local-networks' };
  if (to.startsWith('manufacturer:')) {
    const host = to.slice(13);
    if (host === '' || /[*?]/.test(host)) return { error: `expected "manufacturer:DOMAIN" with the host of the device's MUD URL, e.g. "manufacturer:example.com" (no wildcards), got "${to}"` };
    const d = checkDomainGlob(host);
    return d ? { error: `expected "manufacturer:DOMAIN", got "${to}": ${d}` } : { kind: 'manufacturer', host: host.toLowerCase() };
  }
  if (to.includes('/')) {
    const c = parseCidr(to);
    return 'error' in c ? c : { kind: 'cidr', cidr: c };
  }
  const pre = /^([A-Za-z_-]+):(?!:)/.exec(to);
  if (pre && !/^[0-9a-fA-F]{1,4}$/.test(pre[1])) {
    return { error: `${TARGET_EXPECTED}, got unknown prefix "${pre[1]}:" in "${to}"` };
  }
  if (/^[0-9.]+$/.test(to) || to.includes(':')) {
    const c = parseCidr(to);
    return 'error' in c ? { error: `expected an IP like "192.168.50.1" or "fd00:50::1", got "${to}"` } : { kind: 'cidr', cidr: c };
  }
  if (to === '*') return { error: `${TARGET_EXPECTED}, got "*": leave the key out to allow any host` };
  const d = checkDomainGlob(to);
  return d ? { error: d } : { kind: 'domain', glob: to.toLowerCase() };
}

/** An ICMP type (and code): code -1 = any code. */
export interface IcmpSpec { type: number; code: number }

/** `icmp:`/`icmpv6:` items: a type by name or number, optionally "/CODE". */
export function parseIcmp(v: unknown, v6: boolean): IcmpSpec | { error: string } {
  const names = v6 ? ICMP6_TYPES : ICMP4_TYPES;
  const expected = `expected an ICMP${v6 ? 'v6' : ''} type by name (${Object.keys(names).join(', ')}) or number 0-255, optionally with a code 0-255 as "TYPE/CODE"`;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? { type: v, code: -1 } : { error: `${expected}, got ${v}` };
  if (typeof v !== 'string') return { error: `${expected}, got ${show(v)}` };
  const m = /^([a-z0-9-]+)(?:\/([0-9]{1,3}))?$/.exec(v);
  if (!m) return { error: `${expected}, got ${show(v)}` };
  let type: number;
  if (/^[0-9]{1,3}$/.test(m[1])) type = Number(m[1]);
  else if (Object.hasOwn(names, m[1])) type = names[m[1]];
  else {
    const other = v6 ? ICMP4_TYPES : ICMP6_TYPES;
    const hint = Object.hasOwn(other, m[1]) ? ` ("${m[1]}" is an ICMP${v6 ? 'v4' : 'v6'} type: put it under \`${v6 ? 'icmp' : 'icmpv6'}\`)` : '';
    return { error: `${expected}, got unknown type "${m[1]}"${hint}` };
  }
  const code = m[2] === undefined ? -1 : Number(m[2]);
  if (type > 255 || code > 255) return { error: `${expected}, got ${show(v)}: types and codes run from 0 to 255` };
  return { type, code };
}

/** Where errors get their place: a Locator, or a stand-in when only their number matters. */
export type ErrorPlacer = Pick<Locator, 'error'>;

/**
 * What the checks read of each rule, its target (parseTarget) and its ports (parsePort),
 * kept for the compiler, which reads the same rules in the same order (10,000 of them in
 * a big policy): the checks record, the compiler takes the records back in turn. A turn
 * whose text (or ports list) is not the recorded one is parsed afresh, so the order is a
 * speed-up, never a condition. Results are shared: never mutate one.
 */
export class RuleMemo {
  private tos: string[] = [];
  private targets: (Target | { error: string })[] = [];
  private targetTurn = 0;
  private portLists: unknown[][] = [];
  private portSpecs: PortSpec[][] = [];
  private portTurn = 0;

  /** parseTarget(to), recorded. */
  target(to: string): Target | { error: string } {
    const r = parseTarget(to);
    this.tos.push(to);
    this.targets.push(r);
    return r;
  }

  /** parseTarget(to), from the record when the next recorded text is `to`. */
  targetAgain(to: string): Target | { error: string } {
    const i = this.targetTurn++;
    return i < this.tos.length && this.tos[i] === to ? this.targets[i] : parseTarget(to);
  }

  /** Record the parsed ports of a rule's `ports` list (all of them valid). */
  ports(list: unknown[], specs: PortSpec[]): void {
    this.portLists.push(list);
    this.portSpecs.push(specs);
  }

  /** The ports of a validated list, from the record when the next recorded list is this one. */
  portsAgain(list: readonly string[]): PortSpec[] {
    const i = this.portTurn++;
    if (i < this.portLists.length && this.portLists[i] === list) return this.portSpecs[i];
    const out: PortSpec[] = new Array(list.length);
    for (let k = 0; k < list.length; k++) out[k] = parsePort(list[k]) as PortSpec;
    return out;
  }
}

const RESERVED: ReadonlySet<string> = new Set(RESERVED_PROFILES);

/** The keys that say what a rule matches besides its host. */
const MATCH_KEYS = ['ports', 'from_ports', 'icmp', 'icmpv6', 'proto'] as const;

/** Names a target may refer to. */
interface Refs {
  segSet: ReadonlySet<string>; segNames: readonly string[];
  devSet: ReadonlySet<string>; devNames: readonly string[];
  ctrlSet: ReadonlySet<string>; ctrlNames: readonly string[];
}

type ErrFn = (path: PathSeg[], msg: string) => void;

function targetErrors(t: Target | { error: string }, at: PathSeg[], refs: Refs, err: ErrFn): void {
  if ('error' in t) err(at, t.error);
  else if (t.kind === 'segment' && !refs.segSet.has(t.name)) err(at, unknownName('segment', t.name, refs.segNames));
  else if (t.kind === 'device' && !refs.devSet.has(t.name)) err(at, unknownName('device', t.name, refs.devNames));
  else if (t.kind === 'controller' && !refs.ctrlSet.has(t.name)) err(at, `${unknownName('controller', t.name, refs.ctrlNames)} (define it under \`controllers:\`)`);
}

const protoName = (n: number): string => ({ 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' } as Record<number, string>)[n] ?? `protocol ${n}`;
const PORT_PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

/**
 * `ports`, `from_ports`, `icmp`, `icmpv6` and `proto` of one rule (outbound or inbound): each
 * item, then the combinations that cannot all hold of one flow.
 */
function matchErrors(r: Record<string, unknown>, at: PathSeg[], memo: RuleMemo, err: ErrFn): void {
  const ports = arr(r.ports);
  const specs: PortSpec[] = [];
  for (let k = 0; k < ports.length; k++) {
    const x = parsePort(ports[k]);
    if ('error' in x) err([...at, 'ports', k], x.error);
    else specs.push(x);
  }
  if (ports.length > 0 && specs.length === ports.length) memo.ports(ports, specs);
  const from: PortSpec[] = [];
  arr(r.from_ports).forEach((q, k) => {
    const x = parsePort(q);
    if ('error' in x) return err([...at, 'from_ports', k], x.error);
    if (x.proto === 'icmp') return err([...at, 'from_ports', k], `expected a port like "1024-65535/tcp" (proto tcp, udp or sctp), got ${show(q)}: ICMP has no ports (use \`icmp\` or \`icmpv6\`)`);
    from.push(x);
  });
  for (const key of ['icmp', 'icmpv6'] as const) {
    arr(r[key]).forEach((q, k) => {
      const x = parseIcmp(q, key === 'icmpv6');
      if ('error' in x) err([...at, key, k], x.error);
    });
  }
  const hasIcmp = r.icmp !== undefined || r.icmpv6 !== undefined;
  for (const key of ['icmp', 'icmpv6'] as const) {
    if (r[key] === undefined) continue;
    if (r.ports !== undefined || r.from_ports !== undefined) {
      err([...at, key], `expected \`${key}\` without \`ports\` and \`from_ports\`: ICMP has types, not ports (write the ports in a rule of their own)`);
    }
  }
  const proto = typeof r.proto === 'number' && Number.isInteger(r.proto) ? r.proto : -1;
  if (proto >= 0) {
    if (r.icmp !== undefined && proto !== 1) err([...at, 'proto'], `expected proto 1 (icmp) or no proto with \`icmp\`, got ${proto} (${protoName(proto)})`);
    if (r.icmpv6 !== undefined && proto !== 58) err([...at, 'proto'], `expected proto 58 (icmpv6) or no proto with \`icmpv6\`, got ${proto} (${protoName(proto)})`);
    if (r.icmp !== undefined && r.icmpv6 !== undefined) return;
    if (!hasIcmp) {
      for (const key of ['ports', 'from_ports'] as const) {
        arr(r[key]).forEach((q, k) => {
          const x = parsePort(q);
          if ('error' in x) return;
          const fits = x.proto === 'icmp' ? proto === 1 || proto === 58 : PORT_PROTO[x.proto] === proto;
          if (!fits) err([...at, key, k], `expected ${protoName(proto)} ports with proto ${proto}, got ${show(q)} (${x.proto}): the rule would match nothing`);
        });
      }
    }
  }
  if (specs.length > 0 && from.length > 0) {
    const dp = new Set(specs.map((x) => x.proto));
    const fp = new Set(from.map((x) => x.proto));
    arr(r.from_ports).forEach((q, k) => {
      const x = parsePort(q);
      if (!('error' in x) && x.proto !== 'icmp' && !dp.has(x.proto)) err([...at, 'from_ports', k], `expected a ${[...dp].join(' or ')} port like the rule's \`ports\`, got ${show(q)}: no flow has a ${x.proto} source port and a ${[...dp].join('/')} destination port`);
    });
    ports.forEach((q, k) => {
      const x = parsePort(q);
      if (!('error' in x) && !fp.has(x.proto)) err([...at, 'ports', k], `expected a ${[...fp].join(' or ')} port like the rule's \`from_ports\`, got ${show(q)}: it could never match together with \`from_ports\``);
    });
  }
}

/** The checks the schema cannot express. Defensive: runs on values the schema may have refused. */
export function semanticErrors(doc: unknown, loc: ErrorPlacer, skip: ReadonlySet<string>, memo: RuleMemo = new RuleMemo()): PolicyError[] {
  const out: PolicyError[] = [];
  const err = (path: PathSeg[], msg: string) => { if (!skip.has(dottedPath(path))) out.push(loc.error(path, msg)); };
  if (!isObj(doc)) return out;

  const segs = isObj(doc.segments) ? doc.segments : {};
  const segNames = Object.keys(segs);
  // names in order for the messages, in sets for the look-ups (10,000 rules, 1,000 devices)
  const segSet = new Set(segNames);
  const cidrOwner = new Map<string, string>();
  for (const s of segNames) {
    arr(segs[s]).forEach((c, i) => {
      if (!str(c)) return;
      const r = parseCidr(c);
      if ('error' in r) return err(['segments', s, i], r.error);
      const k = `${r.v6 ? 6 : 4}:${Array.from(r.bytes).join('.')}/${r.len}`;
      const owner = cidrOwner.get(k);
      if (owner !== undefined) err(['segments', s, i], `expected each CIDR in one segment only, got "${c}" again (already in segment "${owner}")`);
      else cidrOwner.set(k, s);
    });
  }
  for (const key of ['watch', 'protected'] as const) {
    arr(doc[key]).forEach((n, i) => { if (str(n) && !segSet.has(n)) err([key, i], unknownName('segment', n, segNames)); });
  }
  arr(doc.resolvers).forEach((r, i) => {
    if (!str(r)) return;
    const p = parseIp(r);
    if ('error' in p) err(['resolvers', i], p.error);
  });

  const profiles = isObj(doc.profiles) ? doc.profiles : {};
  const profNames = Object.keys(profiles);
  const profSet = new Set(profNames);
  for (const p of profNames) {
    if (RESERVED.has(p)) err(['profiles', p], `expected a profile name other than "${p}": "mud" and "learn" are reserved (a device entry's \`profile: ${p}\` needs no profile)`);
  }
  const devNames: string[] = [];
  const devSet = new Set<string>();
  arr(doc.devices).forEach((d, i) => {
    if (!isObj(d)) return;
    if (str(d.name)) {
      if (devSet.has(d.name)) err(['devices', i, 'name'], `expected a unique device name, got "${d.name}" twice`);
      devNames.push(d.name);
      devSet.add(d.name);
    }
    if (str(d.profile) && !profSet.has(d.profile) && !RESERVED.has(d.profile)) err(['devices', i, 'profile'], unknownName('profile', d.profile, [...new Set([...profNames, ...RESERVED_PROFILES])]));
    if (d.mac === undefined && d.ip === undefined && d.vendor === undefined && d.hostname === undefined) {
      err(['devices', i], 'expected at least one of mac, ip, vendor, hostname to match the device by');
    }
    if (str(d.mac)) { const m = checkMacGlob(d.mac); if (m) err(['devices', i, 'mac'], m); }
    if (str(d.ip)) { const c = parseCidr(d.ip); if ('error' in c) err(['devices', i, 'ip'], c.error); }
  });
  if (str(doc.default_profile) && !profSet.has(doc.default_profile)) {
    err(['default_profile'], unknownName('profile', doc.default_profile, profNames));
  }
  const hasResolvers = arr(doc.resolvers).length > 0;
  if (isObj(doc.detectors)) detectorErrors(doc.detectors, err);
  arr(doc.exceptions).forEach((x, i) => {
    if (isObj(x) && str(x.until) && Number.isNaN(untilMs(x.until))) err(['exceptions', i, 'until'], `expected a real date such as 2027-01-31, got "${x.until}"`);
  });

  const ctrls = isObj(doc.controllers) ? doc.controllers : {};
  const refs: Refs = { segSet, segNames, devSet, devNames, ctrlSet: new Set(Object.keys(ctrls)), ctrlNames: Object.keys(ctrls) };
  for (const c of refs.ctrlNames) {
    arr(ctrls[c]).forEach((h, i) => {
      if (!str(h)) return;
      const t = parseTarget(h);
      if (!('error' in t) && t.kind !== 'cidr' && t.kind !== 'domain' && t.kind !== 'device') {
        return err(['controllers', c, i], `expected an IP, a CIDR, a domain glob or "device:NAME" as a controller's host, got "${h}"`);
      }
      targetErrors(t, ['controllers', c, i], refs, err);
    });
  }
  for (const p of profNames) {
    const prof = profiles[p];
    if (!isObj(prof)) continue;
    // plain loops, paths built only for an error: this runs once per rule, often cold
    const allow = arr(prof.allow);
    for (let j = 0; j < allow.length; j++) {
      const r = allow[j];
      if (!isObj(r)) continue;
      if (r.service !== undefined) {
        if (r.to !== undefined || MATCH_KEYS.some((k) => r[k] !== undefined)) err(['profiles', p, 'allow', j, 'service'], 'expected `service` alone: a service brings its own hosts and ports, so leave out `to`, `ports`, `from_ports`, `icmp`, `icmpv6` and `proto` (or write a rule without `service`)');
        if (r.service === 'dns' && !hasResolvers) err(['profiles', p, 'allow', j, 'service'], 'expected at least one approved resolver in `resolvers` for `service: dns` (DNS to an approved resolver)');
      } else if (r.to === undefined && !MATCH_KEYS.some((k) => r[k] !== undefined)) {
        err(['profiles', p, 'allow', j], 'expected `service`, or `to` and/or `ports`, `from_ports`, `icmp`, `icmpv6`, `proto`: an empty rule would allow everything');
      }
      if (str(r.to)) targetErrors(memo.target(r.to), ['profiles', p, 'allow', j, 'to'], refs, err);
      matchErrors(r, ['profiles', p, 'allow', j], memo, err);
    }
    const allowIn = arr(prof.allow_in);
    for (let j = 0; j < allowIn.length; j++) {
      const r = allowIn[j];
      if (!isObj(r)) continue;
      if (r.from === undefined && !MATCH_KEYS.some((k) => r[k] !== undefined)) {
        err(['profiles', p, 'allow_in', j], 'expected `from` and/or `ports`, `from_ports`, `icmp`, `icmpv6`, `proto`: an empty inbound rule would let anyone open anything to the device');
      }
      if (str(r.from)) targetErrors(memo.target(r.from), ['profiles', p, 'allow_in', j, 'from'], refs, err);
      matchErrors(r, ['profiles', p, 'allow_in', j], memo, err);
    }
    if (isObj(prof.limits)) {
      for (const lk of ['bytes_per_hour', 'bytes_per_day']) {
        const v = prof.limits[lk];
        if (v === undefined) continue;
        const s = parseSize(v);
        if ('error' in s) err(['profiles', p, 'limits', lk], s.error);
      }
    }
  }
  return out;
}
