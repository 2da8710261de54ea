// RFC 8520 MUD files -> segwatch profiles: the `ietf-mud:mud` container and the ACL model it
// uses (RFC 8519 with the ietf-acldns and ietf-mud augments), read as data (no I/O). Also reads
// the pre-RFC draft shapes real MUD files still use (NIST mud-manager's and osMUD's examples:
// `access-lists`, `acl-name`, `access-list-entries`, `ipv4-acl`, `*-port-range`,
// `ietf-mud:mud-acl`), since devices in the field announce those too.

import type { InRuleDoc, RuleDoc } from './schema.js';

/** An outbound rule as the policy language spells it (the device opens); never a `service:`. */
export type MudRule = Omit<RuleDoc, 'service'>;

/** An inbound rule (`allow_in`): who may open flows to the device. */
export type MudInRule = InRuleDoc;

/** One ACE (or ACL, or file-level item) the import could not express, and what happened to it. */
export interface MudIssue {
  /** "ACL/ACE" names, or an ACL name alone */
  ace: string;
  what: string;
}

export interface MudImport {
  /** a policy name (NAME_PATTERN) made from the MUD URL's last path segment */
  profileName: string;
  mudUrl?: string;
  /** the MUD URL's host: what `same-manufacturer` means for this device (RFC 8520 section 8) */
  manufacturer?: string;
  /** the `mud-signature` URL, when the file names one */
  signatureUrl?: string;
  /** hours the file may be cached (`cache-validity`, 1-168; 48 when absent, as the RFC says) */
  cacheValidityHours: number;
  profile: { description?: string; allow: MudRule[]; allow_in: MudInRule[] };
  /**
   * controller names used as `controller:NAME` targets -> hosts. MUD names controllers by URI
   * and never says where they are, so each list holds CONTROLLER_PLACEHOLDER until a person (or
   * the policy's own `controllers:` entry) says which hosts they are.
   */
  controllers: Record<string, string[]>;
  /** controller name -> the URI it stands for (`my-controller` for that abstraction) */
  controllerUris: Record<string, string>;
  /** everything not expressible: the CLI prints it and writes it at the top of the output */
  unsupported: MudIssue[];
  /** ACEs that need no rule (replies of flows the device opened), said so nothing vanishes */
  notes: MudIssue[];
}

export class MudError extends Error { override name = 'MudError'; }

/**
 * Stands in for a controller's hosts: a name under `.invalid` (RFC 6761) never resolves nor
 * appears in a DNS answer, so until someone fills it in the rule matches no flow (the flows to
 * the real controller are then reported, rather than allowed to a made-up address such as
 * TEST-NET 192.0.2.1 which some lab may well use), and `policy check` still accepts it.
 */
export const CONTROLLER_PLACEHOLDER = 'fill-in-controller.invalid';

const DEFAULT_CACHE_HOURS = 48;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const pick = (o: Obj, ...keys: string[]): unknown => { for (const k of keys) if (o[k] !== undefined) return o[k]; return undefined; };

/** A policy name from free text: invalid characters become "-", at most 64. */
export function policyName(s: string, fallback = 'mud-device'): string {
  const n = s.replace(/\.json$/i, '').replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64).replace(/[.-]+$/, '');
  return NAME_RE.test(n) ? n : fallback;
}

/**
 * Parse a MUD document (its text, or already-parsed JSON) into a profile.
 * @throws MudError when it is not JSON or not a MUD document at all; anything inside it that
 *   segwatch cannot express goes to `unsupported` instead.
 */
export function parseMud(input: string | unknown): MudImport {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try { doc = JSON.parse(input); } catch (err) { throw new MudError(`not JSON: ${(err as Error).message}`); }
  }
  if (!isObj(doc)) throw new MudError('not a MUD file: expected a JSON object');
  const mud = doc['ietf-mud:mud'];
  if (!isObj(mud)) throw new MudError('not a MUD file: no "ietf-mud:mud" container');
  const container = pick(doc, 'ietf-access-control-list:acls', 'ietf-access-control-list:access-lists');
  const aclList = isObj(container) && Array.isArray(container.acl) ? container.acl : [];

  const mudUrl = typeof mud['mud-url'] === 'string' ? mud['mud-url'] : undefined;
  let manufacturer: string | undefined;
  let lastSegment = '';
  if (mudUrl) {
    try {
      const u = new URL(mudUrl);
      manufacturer = u.hostname.toLowerCase() || undefined;
      lastSegment = u.pathname.split('/').filter(Boolean).pop() ?? '';
    } catch { /* a bad URL only costs the name and the manufacturer */ }
  }
  const cv = mud['cache-validity'];
  const out: MudImport = {
    profileName: policyName(lastSegment || String(mud['model-name'] ?? '')),
    mudUrl,
    manufacturer,
    signatureUrl: typeof mud['mud-signature'] === 'string' ? mud['mud-signature'] : undefined,
    cacheValidityHours: typeof cv === 'number' && Number.isInteger(cv) && cv >= 1 && cv <= 168 ? cv : DEFAULT_CACHE_HOURS,
    profile: { allow: [], allow_in: [] },
    controllers: {},
    controllerUris: {},
    unsupported: [],
    notes: [],
  };
  const desc = [mud['mfg-name'], mud['model-name'], mud.systeminfo].filter((x) => typeof x === 'string' && x !== '');
  out.profile.description = `from MUD file ${mudUrl ?? '(no mud-url)'}${desc.length ? `: ${desc.join(', ')}` : ''}`;
  if (mud['is-supported'] === false) out.notes.push({ ace: '-', what: 'is-supported: false: the manufacturer no longer updates this device' });

  const byName = new Map<string, Obj>();
  for (const acl of aclList) {
    if (!isObj(acl)) { out.unsupported.push({ ace: '?', what: 'an ACL that is not an object: skipped' }); continue; }
    const n = pick(acl, 'name', 'acl-name');
    if (typeof n !== 'string') { out.unsupported.push({ ace: '?', what: 'an ACL without a name: skipped' }); continue; }
    byName.set(n, acl);
  }
  const used = new Set<string>();
  const seen = new Map<string, MudRule | MudInRule>();
  for (const [policyKey, dir] of [['from-device-policy', 'from'], ['to-device-policy', 'to']] as const) {
    const p = mud[policyKey];
    const lists = isObj(p) && isObj(p['access-lists']) ? p['access-lists']['access-list'] : undefined;
    if (!Array.isArray(lists)) continue;
    for (const ref of lists) {
      const n = isObj(ref) ? pick(ref, 'name', 'acl-name') : undefined;
      if (typeof n !== 'string') { out.unsupported.push({ ace: '?', what: `${policyKey}: an access-list entry without a name: skipped` }); continue; }
      const acl = byName.get(n);
      if (!acl) { out.unsupported.push({ ace: n, what: `${policyKey} names ACL "${n}", which the file does not define: skipped` }); continue; }
      used.add(n);
      const aces = pick(acl, 'aces', 'access-list-entries');
      const list = isObj(aces) && Array.isArray(aces.ace) ? aces.ace : [];
      const v6Acl = /ipv6/.test(String(pick(acl, 'type', 'acl-type') ?? ''));
      list.forEach((ace, i) => convertAce(out, seen, n, ace, i, dir, v6Acl));
    }
  }
  markMirrors(out);
  for (const n of byName.keys()) {
    if (!used.has(n)) out.unsupported.push({ ace: n, what: 'ACL named by neither from-device-policy nor to-device-policy: not imported (it applies to nothing)' });
  }
  return out;
}

interface Ports { ports: string[]; from_ports: string[]; bad?: string }

function convertAce(out: MudImport, seen: Map<string, MudRule | MudInRule>, aclName: string, ace: unknown, index: number, dir: 'from' | 'to', v6Acl: boolean): void {
  const aceName = isObj(ace) && typeof pick(ace, 'name', 'rule-name') === 'string' ? String(pick(ace, 'name', 'rule-name')) : `#${index + 1}`;
  const id = `${aclName}/${aceName}`;
  const skip = (what: string) => { out.unsupported.push({ ace: id, what: `${what}: no rule` }); };
  const wider = (what: string) => { out.unsupported.push({ ace: id, what: `${what}: rule kept without it (wider than the ACE)` }); };
  if (!isObj(ace)) return skip('an ACE that is not an object');
  const actions = ace.actions;
  const fwd = isObj(actions) ? actions.forwarding : undefined;
  if (fwd !== undefined && !/(^|:)accept$/.test(String(fwd))) return skip(`forwarding "${String(fwd)}": profiles only allow`);
  const m = isObj(ace.matches) ? ace.matches : {};

  // The remote end ("peer"): one target, from the IP header or from MUD's abstractions.
  const peers: Array<{ target: string; specific: boolean }> = [];
  let proto: number | undefined;
  let ip: Obj | undefined;
  let family: 4 | 6 = v6Acl ? 6 : 4;
  for (const [k, fam] of [['ipv4', 4], ['ipv4-acl', 4], ['ipv6', 6], ['ipv6-acl', 6]] as const) {
    if (isObj(m[k])) { ip = m[k] as Obj; family = fam; }
  }
  const l4Draft: Obj = {};
  if (ip) {
    const peerName = ip[dir === 'from' ? 'ietf-acldns:dst-dnsname' : 'ietf-acldns:src-dnsname'];
    const ownName = ip[dir === 'from' ? 'ietf-acldns:src-dnsname' : 'ietf-acldns:dst-dnsname'];
    const net = (side: 'source' | 'destination') => ip![`${side}-ipv${family}-network`] ?? ip![`${side}-ipv4-network`] ?? ip![`${side}-ipv6-network`];
    const peerNet = net(dir === 'from' ? 'destination' : 'source');
    const ownNet = net(dir === 'from' ? 'source' : 'destination');
    if (typeof peerName === 'string') peers.push({ target: peerName.toLowerCase().replace(/\.$/, ''), specific: true });
    if (typeof peerNet === 'string') peers.push({ target: peerNet, specific: true });
    if (ownName !== undefined) wider(`the device's own name ${JSON.stringify(ownName)}`);
    if (ownNet !== undefined) wider(`the device's own address ${JSON.stringify(ownNet)}`);
    for (const [k, v] of Object.entries(ip)) {
      if (k === 'protocol') {
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) proto = v;
        else return skip(`protocol ${JSON.stringify(v)} is not a number 0-255`);
      } else if (/-port-range(-or-operator)?$/.test(k)) l4Draft[k] = v;
      else if (!/dnsname$|-network$/.test(k)) wider(`${k} ${JSON.stringify(v)} (segwatch does not match on it)`);
    }
  }
  for (const key of ['ietf-mud:mud', 'ietf-mud:mud-acl']) {
    const x = m[key];
    if (x === undefined) continue;
    if (!isObj(x)) return skip(`${key} is not an object`);
    for (const [k, v] of Object.entries(x)) {
      const t = mudTarget(out, k, v);
      if (typeof t === 'string') peers.push({ target: t, specific: k !== 'local-networks' });
      else return skip(t.error);
    }
  }
  for (const k of ['ietf-mud:same-manufacturer', 'ietf-mud:manufacturer', 'ietf-mud:controller', 'ietf-mud:my-controller', 'ietf-mud:local-networks', 'ietf-mud:model']) {
    if (m[k] === undefined) continue;
    const t = mudTarget(out, k.slice('ietf-mud:'.length), m[k]);
    if (typeof t === 'string') peers.push({ target: t, specific: k !== 'ietf-mud:local-networks' });
    else return skip(t.error);
  }
  let peer: string | undefined;
  if (peers.length === 1) peer = peers[0].target;
  else if (peers.length > 1) {
    // An ACE matches when all of them do; a rule has one target. Keep the most specific (an
    // address or name beside local-networks is the broadcast or multicast group it means).
    const keep = peers.find((p) => p.specific) ?? peers[0];
    peer = keep.target;
    out.unsupported.push({ ace: id, what: `${peers.map((p) => p.target).join(' AND ')}: a rule has one target: kept ${keep.target} (wider than the ACE when the others narrowed it)` });
  }

  // Ethernet: IP's own ethertypes add nothing; other ethertypes are frames segwatch never judges.
  const eth = m.eth ?? m['eth-acl'];
  if (eth !== undefined) {
    if (!isObj(eth)) return skip('eth is not an object');
    for (const [k, v] of Object.entries(eth)) {
      if (k === 'ethertype') {
        const et = typeof v === 'number' ? v : parseInt(String(v), 16);
        if (et !== 0x0800 && et !== 0x86dd) return skip(`ethertype ${JSON.stringify(v)} is not IP (segwatch judges IP flows)`);
      } else wider(`eth ${k} ${JSON.stringify(v)} (segwatch does not match on it)`);
    }
  }
  for (const k of Object.keys(m)) {
    if (!/^(ipv[46](-acl)?|tcp|udp|icmp|eth|eth-acl|ietf-mud:.*)$/.test(k)) wider(`matches ${k} (segwatch does not match on it)`);
  }

  // Protocol and ports. In ACE terms source/destination are of the packet; the rule wants the
  // peer's port (ports of `allow`) and the device's port (ports of `allow_in`).
  const tcp = isObj(m.tcp) ? m.tcp : undefined;
  const udp = isObj(m.udp) ? m.udp : undefined;
  const icmpM = isObj(m.icmp) ? m.icmp : undefined;
  if (proto === undefined) proto = tcp ? 6 : udp ? 17 : icmpM ? (family === 6 ? 58 : 1) : undefined;
  if ((tcp && proto !== 6) || (udp && proto !== 17) || (icmpM && proto !== 1 && proto !== 58)) {
    return skip(`protocol ${proto} contradicts the ${tcp ? 'tcp' : udp ? 'udp' : 'icmp'} match (matches nothing)`);
  }
  const initiated = tcp?.['ietf-mud:direction-initiated'];
  if (initiated !== undefined && initiated !== 'from-device' && initiated !== 'to-device') return skip(`direction-initiated ${JSON.stringify(initiated)}`);
  const l4 = tcp ?? udp ?? l4Draft;
  const pn = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : undefined;
  const srcP = portList(pick(l4, 'source-port', 'source-port-range', 'source-port-range-or-operator') ?? pick(l4Draft, 'source-port-range', 'source-port-range-or-operator'), pn);
  const dstP = portList(pick(l4, 'destination-port', 'destination-port-range', 'destination-port-range-or-operator') ?? pick(l4Draft, 'destination-port-range', 'destination-port-range-or-operator'), pn);
  if (typeof srcP === 'object' && !Array.isArray(srcP)) return skip(`source port: ${srcP.error}`);
  if (typeof dstP === 'object' && !Array.isArray(dstP)) return skip(`destination port: ${dstP.error}`);
  for (const k of Object.keys(tcp ?? udp ?? {})) {
    if (!/^(source-port|destination-port|ietf-mud:direction-initiated)$/.test(k)) wider(`${tcp ? 'tcp' : 'udp'} ${k} (segwatch does not match on it)`);
  }

  // Who opens: a from-device ACE is the device's packets; it opens unless the ACE says the
  // remote initiated. A to-device ACE is the remote's packets; it opens unless the ACE says the
  // device did, and then these are the replies of a flow some `allow` rule already covers.
  const inbound = dir === 'from' ? initiated === 'to-device' : initiated !== 'from-device';
  if (dir === 'to' && initiated === 'from-device') {
    out.notes.push({ ace: id, what: 'to-device ACE with direction-initiated: from-device: the replies of a flow the device opens; a flow is judged as a whole, so it needs no rule' });
    return;
  }
  // device's port and peer's port
  const devPorts = (dir === 'from' ? srcP : dstP) as string[];
  const peerPorts = (dir === 'from' ? dstP : srcP) as string[];
  const rule: MudRule & MudInRule = {};
  if (peer !== undefined) { if (inbound) rule.from = peer; else rule.to = peer; }
  if (pn) {
    const own = inbound ? devPorts : peerPorts;
    const theirs = inbound ? peerPorts : devPorts;
    if (own.length) rule.ports = own;
    if (theirs.length) rule.from_ports = theirs;
    if (!own.length && !theirs.length) rule.proto = proto;
  } else if (proto === 1 || proto === 58) {
    const t = icmpM?.type, c = icmpM?.code;
    if (icmpM && (t !== undefined || c !== undefined)) {
      if (typeof t !== 'number' || t < 0 || t > 255 || (c !== undefined && (typeof c !== 'number' || c < 0 || c > 255))) return skip(`icmp type/code ${JSON.stringify(icmpM)}`);
      rule[proto === 1 ? 'icmp' : 'icmpv6'] = [icmpName(proto, t, c as number | undefined)];
    } else rule.proto = proto;
    if (icmpM) for (const k of Object.keys(icmpM)) if (k !== 'type' && k !== 'code') wider(`icmp ${k} (segwatch does not match on it)`);
  } else if (proto !== undefined) {
    rule.proto = proto;
    if ((srcP as string[]).length || (dstP as string[]).length) wider(`ports with protocol ${proto}`);
  }
  if (Object.keys(rule).length === 0) {
    // An ACE that matches everything: the RFC allows it; segwatch says it as a rule with no keys
    // only by leaving `to` out, which `policy check` refuses, so "any host" is spelled out.
    if (inbound) rule.from = '0.0.0.0/0'; else rule.to = '0.0.0.0/0';
    wider('an ACE matching every packet: written as 0.0.0.0/0 (IPv4 only)');
  }
  const key = `${inbound ? 'in' : 'out'}|${JSON.stringify(rule)}`;
  const dup = seen.get(key);
  if (dup) { dup.comment += `; ${id}`; return; }
  rule.comment = `MUD ${id}`;
  seen.set(key, rule);
  if (inbound) out.profile.allow_in.push(rule as MudInRule); else out.profile.allow.push(rule as MudRule);
}

/** A MUD abstraction as a target, or why it cannot be one. */
function mudTarget(out: MudImport, k: string, v: unknown): string | { error: string } {
  switch (k) {
    case 'manufacturer':
      if (typeof v === 'string' && /^[A-Za-z0-9.-]+$/.test(v)) return `manufacturer:${v.toLowerCase()}`;
      return { error: `manufacturer ${JSON.stringify(v)} is not a domain` };
    case 'same-manufacturer': return 'same-manufacturer';
    case 'local-networks': return 'local-networks';
    case 'my-controller': return controllerTarget(out, 'my-controller', 'my-controller');
    case 'controller':
      if (typeof v === 'string' && v !== '') return controllerTarget(out, controllerName(v), v);
      return { error: `controller ${JSON.stringify(v)} is not a URI` };
    case 'model': return { error: `model ${JSON.stringify(v)}: segwatch has no target for "devices of this model"` };
    default: return { error: `ietf-mud match ${k} is unknown` };
  }
}

function controllerTarget(out: MudImport, name: string, uri: string): string {
  out.controllers[name] ??= [CONTROLLER_PLACEHOLDER];
  out.controllerUris[name] ??= uri;
  return `controller:${name}`;
}

/** A controller's policy name from its URI: urn:ietf:params:mud:dns -> dns; URLs -> host-path. */
export function controllerName(uri: string): string {
  const urn = /^urn:ietf:params:mud:(.+)$/i.exec(uri);
  if (urn) return policyName(urn[1].toLowerCase(), 'controller');
  try {
    const u = new URL(uri);
    return policyName(`${u.hostname}${u.pathname}`.replace(/\//g, '-'), 'controller');
  } catch {
    return policyName(uri, 'controller');
  }
}

const ICMP4_NAMES: Record<number, string> = { 0: 'echo-reply', 8: 'echo-request' };
const ICMP6_NAMES: Record<number, string> = { 128: 'echo-request', 129: 'echo-reply' };

function icmpName(proto: number, t: number, c: number | undefined): string | number {
  const name = (proto === 1 ? ICMP4_NAMES : ICMP6_NAMES)[t];
  // echo has only code 0, so the name says all of it
  if (name && (c === undefined || c === 0)) return name;
  return c === undefined ? t : `${t}/${c}`;
}

/** A port match of the ACL model as policy port strings ([] when absent); policy ports run 1-65535. */
function portList(v: unknown, pn: string | undefined): string[] | { error: string } {
  if (v === undefined) return [];
  if (!isObj(v)) return { error: `expected an object, got ${JSON.stringify(v)}` };
  if (!pn) return { error: 'a port match without tcp, udp or sctp' };
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
  // port 0 is no port a flow uses, so a range starting there starts at 1
  const range = (lo: number, hi: number): string[] => (hi < 1 ? [] : [Math.max(lo, 1) === hi ? `${hi}/${pn}` : `${Math.max(lo, 1)}-${hi}/${pn}`]);
  let r: string[];
  if (v['lower-port'] !== undefined || v['upper-port'] !== undefined) {
    const lo = v['lower-port'], hi = v['upper-port'];
    if (!ok(lo) || !ok(hi) || lo > hi) return { error: `range ${JSON.stringify(v)}` };
    r = range(lo, hi);
  } else {
    const op = v.operator ?? 'eq', p = v.port;
    if (!ok(p)) return { error: `port ${JSON.stringify(p)} is not 0-65535` };
    switch (op) {
      case 'eq': r = range(p, p); break;
      case 'lte': r = range(0, p); break;
      case 'gte': r = range(p, 65535); break;
      case 'neq': r = [...range(0, p - 1), ...(p < 65535 ? range(p + 1, 65535) : [])]; break;
      default: return { error: `operator ${JSON.stringify(op)}` };
    }
  }
  return r.length ? r : { error: `${JSON.stringify(v)} allows only port 0` };
}

/**
 * A stateless ACL needs a to-device ACE for the replies of every flow the device opens (UDP has
 * no direction-initiated, and many files leave it out for TCP too). Such an ACE is written as the
 * allow_in rule it literally is, and its comment says it mirrors the outbound rule, so a person
 * can delete it where the peer never opens flows itself.
 */
function markMirrors(out: MudImport): void {
  const key = (peer: string | undefined, own: string[] | undefined, theirs: string[] | undefined, r: MudRule) =>
    JSON.stringify([peer, own ?? null, theirs ?? null, r.proto ?? null, r.icmp ?? null, r.icmpv6 ?? null]);
  const outbound = new Map<string, string>();
  for (const r of out.profile.allow) outbound.set(key(r.to, r.from_ports, r.ports, r), r.comment ?? '');
  for (const r of out.profile.allow_in) {
    const o = outbound.get(key(r.from, r.ports, r.from_ports, r));
    if (o !== undefined) r.comment += ` (the replies of ${o.replace(/^MUD /, '')}; as written it also lets the peer open)`;
  }
}
