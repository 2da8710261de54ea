// Turns what one device was seen doing (observer.ts) into a few allow rules a person can
// read: built-in services recognised, peer names grouped under their registrable domain
// (the Public Suffix List, through tldts) when the device used several below it, unnamed
// addresses kept exact or widened to their /24, port sets written as ranges. When that gives
// more than `maxRules`, it generalises harder, level by level (a /24 for two addresses, a
// peer in the site by its segment, many high ports as one range, then /16s); what still
// does not fit is listed as not learned rather than widened into "any host".
// Crossings into protected segments and DNS to unapproved resolvers are never learned.

import { getDomain } from 'tldts';
import type { Proto } from '../types.js';
import { ICMP4_TYPES, ICMP6_TYPES } from '../policy/schema-names.js';
import type { DeviceObs, InObs, OutObs, Seen } from './observer.js';
import { BUCKET_MS } from './observer.js';

export type ServiceName = 'dns' | 'ntp' | 'dhcp' | 'mdns' | 'ssdp';

/** An allow rule (`to`) or an inbound one (`from`), as the policy file spells it. */
export interface LearnedRule {
  to?: string;
  from?: string;
  ports?: string[];
  /** ICMP / ICMPv6 types (by name where the language has one), "TYPE/CODE" for one code. */
  icmp?: Array<string | number>;
  icmpv6?: Array<string | number>;
  /** an IP protocol without ports (IGMP is 2). */
  proto?: number;
  service?: ServiceName;
  comment: string;
}

/** What the site's skeleton says about an address. */
export interface Site {
  isResolver(ip: string): boolean;
  /** the protected segment ip lies in, "" when none. */
  protectedSegment(ip: string): string;
  /** the site segment ip lies in, "" when outside the site. */
  segmentOf(ip: string): string;
  /** the name of the device listed (by an exact entry) at ip, "" when none: a `device:NAME` target. */
  deviceName?(ip: string): string;
}

export interface GeneraliseOptions {
  /** allow + allow_in rules at most (the issue asks for 8). */
  maxRules?: number;
  /** write inbound rules (the policy language has `allow_in`); else inbound flows are listed in `seenIn`. */
  inbound: boolean;
  /** an outbound observation the device's profile allows already: nothing to learn. */
  allowed?: (o: OutObs) => boolean;
  /** put before each rule's comment, e.g. "learned". */
  mark?: string;
  /** the language has `proto: N`: a protocol without ports gets a rule of its own, not "any protocol". */
  protoNumbers?: boolean;
}

export interface Learned {
  allow: LearnedRule[];
  allowIn: LearnedRule[];
  /** lines for a person: what was seen and deliberately not learned, and why. */
  notLearned: string[];
  /** inbound flows seen, when rules for them cannot be written. */
  seenIn: string[];
  /** proposed bytes_per_hour (with headroom), undefined when nothing was counted. */
  bytesPerHour?: number;
  /** how many flows the rules stand for, and when. */
  seen: Seen;
}

const DNS_PORTS = new Set(['udp:53', 'tcp:53', 'tcp:853']);
const MDNS_GROUPS = new Set(['224.0.0.251', 'ff02::fb']);
const SSDP_GROUPS = new Set(['239.255.255.250', 'ff02::c']);
const SERVICE_ORDER: readonly ServiceName[] = ['dhcp', 'dns', 'ntp', 'mdns', 'ssdp'];
const LEVELS = 3;

interface Group {
  target: string;
  /** proto -> ports; "any" (no ports: every protocol) for protocols without ports. In an ICMP group, icmp/icmpv6 -> type*256+code. */
  ports: Map<string, Set<number>>;
  /** an ICMP group: `icmp:`/`icmpv6:` type lists, which the language keeps out of a rule with ports. */
  icmp?: boolean;
  any: boolean;
  seen: Seen;
  /** what the group stands for, for a "not learned" line. */
  what: string;
  /** the generalisation level it was made at (its ports are written at the same level). */
  level: number;
  /** a group of one protocol without ports (protoNumbers). */
  proto?: number;
}

export function generalise(d: DeviceObs, site: Site, opts: GeneraliseOptions): Learned {
  const max = opts.maxRules ?? 8;
  const mark = opts.mark ? `${opts.mark}: ` : '';
  const notLearned: string[] = [];
  const services = new Map<ServiceName, Seen>();
  const outs: OutObs[] = [];
  const all: Seen = { count: 0, first: Infinity, last: -Infinity };

  for (const o of [...d.out.values()].sort(byKey)) {
    if (opts.allowed?.(o)) continue;
    const pk = `${protoText(o.proto)}:${o.dport}`;
    const seg = site.protectedSegment(o.dst);
    if (seg !== '') {
      notLearned.push(`segment.crossing: to ${o.dst} ${portText(o.proto, o.dport)} in protected segment ${seg} (${seenText(o)})`);
      continue;
    }
    if (DNS_PORTS.has(pk) && !site.isResolver(o.dst)) {
      notLearned.push(`dns.bypass: DNS to ${o.dst} ${portText(o.proto, o.dport)}, not an approved resolver (${seenText(o)})`);
      continue;
    }
    merge(all, o);
    const svc = serviceOf(o, site);
    if (svc) {
      const s = services.get(svc);
      if (s) merge(s, o); else services.set(svc, { ...pick(o) });
      continue;
    }
    outs.push(o);
  }
  const ins = [...d.in.values()].sort(byKey);
  for (const o of ins) merge(all, o);

  const names = chooseNames(outs);
  const svcRules: LearnedRule[] = SERVICE_ORDER.filter((s) => services.has(s))
    .map((s) => ({ service: s, comment: mark + seenText(services.get(s)!) }));

  let outGroups: Group[] = [], inGroups: Group[] = [];
  for (let level = 0; level < LEVELS; level++) {
    outGroups = groupOut(outs, names, site, level, opts.protoNumbers === true);
    inGroups = opts.inbound ? groupIn(ins, site, level, opts.protoNumbers === true) : [];
    if (svcRules.length + outGroups.length + inGroups.length <= max) break;
  }
  const room = Math.max(0, max - svcRules.length);
  if (outGroups.length + inGroups.length > room) {
    // still too many: the most used stay, the rest are listed (never widened to "any host")
    const ranked = [...outGroups.map((g) => ({ g, out: true })), ...inGroups.map((g) => ({ g, out: false }))]
      .sort((a, b) => b.g.seen.count - a.g.seen.count || a.g.target.localeCompare(b.g.target));
    const keep = new Set(ranked.slice(0, room).map((x) => x.g));
    for (const x of ranked.slice(room)) {
      notLearned.push(`rare (left out to keep ${max} rules): ${x.out ? 'to' : 'from'} ${x.g.target} ${portsOf(x.g, x.g.level)?.join(', ') ?? 'any'} (${seenText(x.g.seen)})`);
    }
    outGroups = outGroups.filter((g) => keep.has(g));
    inGroups = inGroups.filter((g) => keep.has(g));
  }

  const allow = [...svcRules, ...outGroups.map((g) => rule('to', g, mark))];
  const allowIn = inGroups.map((g) => rule('from', g, mark));
  const seenIn = opts.inbound ? [] : ins.map((o) => `from ${o.src} to ${portText(o.proto, o.dport)} (${seenText(o)})`);
  if (d.overflow) notLearned.push(`${d.overflow} more peers than could be kept`);
  return { allow, allowIn, notLearned, seenIn, bytesPerHour: proposeHourly(d), seen: all };
}

/** Hourly bytes with headroom: the busiest rolling hour seen (a shorter capture scaled to an hour), doubled, rounded up to 1, 2 or 5 times a power of ten, at least 1 MB. */
export function proposeHourly(d: DeviceObs): number | undefined {
  if (d.buckets.size === 0) return undefined;
  const keys = [...d.buckets.keys()].sort((a, b) => a - b);
  const per = 3_600_000 / BUCKET_MS;
  let best = 0;
  for (let i = 0; i < keys.length; i++) {
    let sum = 0;
    for (let j = i; j < keys.length && keys[j] - keys[i] < per; j++) sum += d.buckets.get(keys[j])!;
    if (sum > best) best = sum;
  }
  const spanMs = (keys[keys.length - 1] - keys[0] + 1) * BUCKET_MS;
  const hourly = spanMs < 3_600_000 ? best * 3_600_000 / Math.max(spanMs, 15 * 60_000) : best;
  return niceUp(Math.max(hourly * 2, 1e6));
}

function niceUp(n: number): number {
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** "20MB", "1GB": the policy's size syntax. */
export function sizeText(n: number): string {
  for (const [u, v] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['KB', 1e3]] as const) {
    if (n >= v && Number.isInteger(n / v)) return `${n / v}${u}`;
  }
  return String(n);
}

function serviceOf(o: OutObs, site: Site): ServiceName | null {
  // ICMP is not `service: icmp` (every type to every host): the types seen, to whom, are rules
  if (o.proto !== 'udp' && o.proto !== 'tcp') return null;
  const p = o.dport;
  if (p === 53) return site.isResolver(o.dst) ? 'dns' : null;
  if (o.proto !== 'udp') return null;
  if (p === 123) return 'ntp';
  if (p === 67 || p === 68 || p === 546 || p === 547) return 'dhcp';
  if (p === 5353 && MDNS_GROUPS.has(o.dst)) return 'mdns';
  if (p === 1900 && SSDP_GROUPS.has(o.dst)) return 'ssdp';
  return null;
}

/**
 * One name per peer: the TLS SNI or HTTP Host the device sent, else, of the DNS names it
 * got for the address (a CNAME chain gives several), the one under the registrable domain
 * the device used most, so a CDN's CNAME target does not stand for the vendor's name.
 */
function chooseNames(outs: readonly OutObs[]): Map<OutObs, string> {
  const domCount = new Map<string, number>();
  for (const o of outs) for (const n of new Set([...o.sni, ...o.dns])) {
    const dom = domainOf(n);
    domCount.set(dom, (domCount.get(dom) ?? 0) + 1);
  }
  const out = new Map<OutObs, string>();
  for (const o of outs) {
    const cand = o.sni.size ? [...o.sni] : [...o.dns];
    if (!cand.length) continue;
    cand.sort((a, b) => (domCount.get(domainOf(b)) ?? 0) - (domCount.get(domainOf(a)) ?? 0) || a.length - b.length || a.localeCompare(b));
    const n = cand[0].replace(/\.$/, '');
    if (validName(n)) out.set(o, n);
  }
  return out;
}

function domainOf(name: string): string {
  return getDomain(name, { allowPrivateDomains: false }) ?? name;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
function validName(n: string): boolean {
  if (n.length === 0 || n.length > 253 || /^[0-9.]+$/.test(n) || n.includes(':')) return false;
  return n.split('.').every((l) => LABEL.test(l));
}

function groupOut(outs: readonly OutObs[], names: Map<OutObs, string>, site: Site, level: number, protoNumbers: boolean): Group[] {
  // names below each registrable domain: several make a "*.domain" rule
  const below = new Map<string, Set<string>>();
  for (const [, n] of names) {
    const dom = domainOf(n);
    (below.get(dom) ?? below.set(dom, new Set()).get(dom)!).add(n);
  }
  const unnamed = outs.filter((o) => !names.has(o)).map((o) => o.dst);
  const widen = addrWidener(unnamed, site, level);
  const groups = new Map<string, Group>();
  for (const o of outs) {
    const n = names.get(o);
    let target: string;
    if (n !== undefined) {
      const dom = domainOf(n);
      target = below.get(dom)!.size > 1 && n !== dom ? `*.${dom}` : n;
    } else {
      target = widen(o.dst);
    }
    add(groups, target, o.proto, o.dport, o, `to ${target}`, protoNumbers);
  }
  return finish(groups, level);
}

function groupIn(ins: readonly InObs[], site: Site, level: number, protoNumbers: boolean): Group[] {
  const widen = addrWidener(ins.map((o) => o.src), site, level);
  const groups = new Map<string, Group>();
  for (const o of ins) {
    const target = widen(o.src);
    add(groups, target, o.proto, o.dport, o, `from ${target}`, protoNumbers);
  }
  return finish(groups, level);
}

/**
 * How an unnamed address is written at a level: a listed device's as `device:NAME`, else
 * exact; its /24 (/64) when several share it
 * (4 at level 0, 2 from level 1); a peer inside the site as its segment (from level 1, or when
 * 4 share it); its
 * /16 (/48) when two share it from level 2. Multicast and broadcast groups stay exact.
 */
function addrWidener(addrs: readonly string[], site: Site, level: number): (ip: string) => string {
  const distinct = [...new Set(addrs)];
  const n24 = countBy(distinct, (ip) => prefix(ip, 24));
  const n16 = countBy(distinct, (ip) => prefix(ip, 16));
  const nSeg = countBy(distinct, (ip) => site.segmentOf(ip));
  return (ip) => {
    if (isGroup(ip)) return ip;
    const seg = site.segmentOf(ip);
    if (seg !== '' && (level >= 1 || (nSeg.get(seg) ?? 0) >= 4)) return `segment:${seg}`;
    // a listed device by its name: its address may change, its name does not
    const dev = site.deviceName?.(ip) ?? '';
    if (dev !== '') return `device:${dev}`;
    if (level >= 2 && (n16.get(prefix(ip, 16)) ?? 0) >= 2) return prefix(ip, 16);
    const need = level === 0 ? 4 : 2;
    if ((n24.get(prefix(ip, 24)) ?? 0) >= need) return prefix(ip, 24);
    return ip;
  };
}

/** The /24 or /16 of an IPv4 address; for IPv6 the /64 or /48. */
function prefix(ip: string, v4len: 16 | 24): string {
  if (ip.includes(':')) {
    const groups = expand6(ip);
    const keep = v4len === 24 ? 4 : 3;
    return `${groups.slice(0, keep).map((g) => parseInt(g, 16).toString(16)).join(':')}::/${keep * 16}`;
  }
  const p = ip.split('.');
  return v4len === 24 ? `${p[0]}.${p[1]}.${p[2]}.0/24` : `${p[0]}.${p[1]}.0.0/16`;
}

function expand6(ip: string): string[] {
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(Math.max(0, 8 - h.length - t.length)).fill('0');
  return [...h, ...fill, ...t].slice(0, 8);
}

function isGroup(ip: string): boolean {
  if (ip.includes(':')) return ip.toLowerCase().startsWith('ff');
  const first = Number(ip.split('.')[0]);
  return ip === '255.255.255.255' || (first >= 224 && first <= 239);
}

function countBy(xs: readonly string[], f: (x: string) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(f(x), (m.get(f(x)) ?? 0) + 1);
  return m;
}

function add(groups: Map<string, Group>, target: string, proto: Proto, port: number, s: Seen, what: string, protoNumbers: boolean): void {
  const own = protoNumbers && typeof proto === 'number';
  const icmp = proto === 'icmp' || proto === 'icmpv6';
  const key = own ? `${target}#${proto}` : icmp ? `${target}#icmp` : target;
  let g = groups.get(key);
  if (!g) {
    g = { target, ports: new Map(), any: false, seen: pick(s), what, level: 0, ...(own ? { proto } : {}), ...(icmp ? { icmp } : {}) };
    groups.set(key, g);
  } else {
    merge(g.seen, s);
  }
  if (proto === 'tcp' || proto === 'udp') {
    (g.ports.get(proto) ?? g.ports.set(proto, new Set()).get(proto)!).add(port);
  } else if (icmp) {
    // an ICMP flow's port is type*256+code of its first packet
    (g.ports.get(proto) ?? g.ports.set(proto, new Set()).get(proto)!).add(port);
  } else if (!own) {
    // a protocol without ports (IGMP, ESP, ...) where the language has no `proto:`: a rule
    // without ports is the only way to say it
    g.any = true;
  }
}

function finish(groups: Map<string, Group>, level: number): Group[] {
  for (const g of groups.values()) g.level = level;
  return [...groups.values()].sort((a, b) => b.seen.count - a.seen.count || a.target.localeCompare(b.target));
}

/** A group's ports as the policy spells them: ranges of neighbours; from level 1 many high ports become one range. */
function portsOf(g: Group, level: number): string[] | undefined {
  if (g.any) return undefined;
  if (g.icmp) return [...g.ports.keys()].sort().map((p) => `${p} ${icmpTypes(g.ports.get(p)!, p === 'icmpv6').join(', ')}`);
  const out: string[] = [];
  for (const proto of [...g.ports.keys()].sort()) {
    const ports = [...g.ports.get(proto)!].sort((a, b) => a - b);
    const high = ports.filter((p) => p >= 1024);
    const coarse = level >= 1 && high.length > 4;
    const rs = runs(coarse ? ports.filter((p) => p < 1024) : ports);
    if (coarse) rs.push([high[0], high[high.length - 1]]);
    for (const [lo, hi] of rs) out.push(lo === hi ? `${lo}/${proto}` : `${lo}-${hi}/${proto}`);
  }
  return out;
}

function runs(sorted: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && p <= last[1] + 1) last[1] = Math.max(last[1], p);
    else out.push([p, p]);
  }
  return out;
}

/**
 * The types of type*256+code values as `icmp:` lists them, by type number: a type by its name
 * (its number where the language has none) when several of its codes were seen or its code
 * was 0, the usual one; "TYPE/CODE" for one other code.
 */
export function icmpTypes(values: Iterable<number>, v6: boolean): Array<string | number> {
  const byType = new Map<number, Set<number>>();
  for (const v of values) {
    const t = (v >> 8) & 0xff;
    (byType.get(t) ?? byType.set(t, new Set()).get(t)!).add(v & 0xff);
  }
  const names = v6 ? ICMP6_NAMES : ICMP4_NAMES;
  return [...byType.keys()].sort((a, b) => a - b).map((t) => {
    const codes = byType.get(t)!;
    const name = names.get(t) ?? t;
    const code = codes.size === 1 ? [...codes][0] : 0;
    return code === 0 ? name : `${name}/${code}`;
  });
}

const reverse = (m: Readonly<Record<string, number>>) => new Map(Object.entries(m).map(([k, v]) => [v, k]));
const ICMP4_NAMES = reverse(ICMP4_TYPES);
const ICMP6_NAMES = reverse(ICMP6_TYPES);

function rule(side: 'to' | 'from', g: Group, mark: string): LearnedRule {
  if (g.proto !== undefined) return { [side]: g.target, proto: g.proto, comment: mark + seenText(g.seen) } as LearnedRule;
  if (g.icmp) {
    const types = (p: string) => { const v = g.ports.get(p); return v ? { [p]: icmpTypes(v, p === 'icmpv6') } : {}; };
    return { [side]: g.target, ...types('icmp'), ...types('icmpv6'), comment: mark + seenText(g.seen) } as LearnedRule;
  }
  const ports = portsOf(g, g.level);
  return { [side]: g.target, ...(ports ? { ports } : {}), comment: mark + seenText(g.seen) } as LearnedRule;
}

function pick(s: Seen): Seen {
  return { count: s.count, first: s.first, last: s.last };
}

function merge(into: Seen, s: Seen): void {
  into.count += s.count;
  if (s.first < into.first) into.first = s.first;
  if (s.last > into.last) into.last = s.last;
}

function byKey(a: { first: number }, b: { first: number }): number {
  return a.first - b.first;
}

function protoText(p: Proto): string {
  return typeof p === 'number' ? `proto${p}` : p;
}

function portText(p: Proto, port: number): string {
  if (p === 'icmp' || p === 'icmpv6') return p;
  return typeof p === 'number' ? `protocol ${p}` : `${port}/${p}`;
}

/** "12 flows, 2019-02-01 10:00 - 10:45 UTC" */
export function seenText(s: Seen): string {
  const a = new Date(s.first).toISOString(), b = new Date(s.last).toISOString();
  const from = `${a.slice(0, 10)} ${a.slice(11, 16)}`;
  const to = a.slice(0, 10) === b.slice(0, 10) ? b.slice(11, 16) : `${b.slice(0, 10)} ${b.slice(11, 16)}`;
  return `${s.count} flow${s.count === 1 ? '' : 's'}, ${from} - ${to} UTC`;
}
