// Compiles a validated policy document into look-up structures (prefix tries, a domain
// trie, port range sets) so evaluate() costs a few trie walks, whatever the rule count.

import type { DetectorsDoc, InRuleDoc, PolicyDoc, RuleDoc, ServiceName } from './schema.js';
import type { DetectSettings, PlaintextPort } from '../detect/settings.js';
import type { CompiledPolicy, DeviceFacts, DeviceIps, DevicePlacement, EvalContext, FlowFacts, PeerNames, ProfileLimits, Verdict } from './types.js';
import type { Anomaly, Proto } from '../types.js';
import { textOf } from '../types.js';
import { Exceptions } from './exceptions.js';
import { AddrTable, addrInto, cidrContains, parseCidr, parseIp, type Cidr } from './net.js';
import { PortIndex, PortIndexBuilder, type RuleMatch } from './ports.js';
import { DomainTrie, globToRegExp } from './glob.js';
import { parsePort, parseSize, type PortSpec } from './units.js';
import { parseDuration, parseIcmp, parseTarget, RuleMemo, type IcmpSpec, type Target } from './validate.js';

const ANY4: Cidr = { v6: false, bytes: new Uint8Array(16), len: 0 };
const ANY6: Cidr = { v6: true, bytes: new Uint8Array(16), len: 0 };
const cidr = (s: string): Cidr => parseCidr(s) as Cidr;

/**
 * What each built-in service expands to. dns: 53/udp+tcp to an approved resolver only
 * (DoT 853 is not part of it); dhcp: the client ports of DHCPv4 (also to the
 * 255.255.255.255 broadcast) and DHCPv6; mdns and ssdp: their multicast groups only.
 */
function serviceParts(svc: ServiceName, resolvers: readonly Cidr[]): { to: Cidr[]; ports: PortSpec[] }[] {
  const udp = (lo: number, hi = lo): PortSpec => ({ proto: 'udp', lo, hi });
  switch (svc) {
    case 'dns': return [{ to: [...resolvers], ports: [udp(53), { proto: 'tcp', lo: 53, hi: 53 }] }];
    case 'ntp': return [{ to: [ANY4, ANY6], ports: [udp(123)] }];
    case 'dhcp': return [{ to: [ANY4], ports: [udp(67, 68)] }, { to: [ANY6], ports: [udp(546, 547)] }];
    case 'mdns': return [{ to: [cidr('224.0.0.251'), cidr('ff02::fb')], ports: [udp(5353)] }];
    case 'ssdp': return [{ to: [cidr('239.255.255.250'), cidr('ff02::c')], ports: [udp(1900)] }];
    case 'icmp': return [{ to: [ANY4, ANY6], ports: [{ proto: 'icmp', lo: 0, hi: 65535 }] }];
  }
}

/**
 * Names of clear-text protocols by server port, for `detectors.plaintext_ports` (messages
 * say "telnet", not "23/tcp"). Ports not here are named "port N".
 */
const PLAINTEXT_NAMES: Readonly<Record<string, string>> = {
  '21/tcp': 'ftp', '23/tcp': 'telnet', '2323/tcp': 'telnet', '25/tcp': 'smtp', '69/udp': 'tftp',
  '79/tcp': 'finger', '80/tcp': 'http', '110/tcp': 'pop3', '119/tcp': 'nntp', '143/tcp': 'imap',
  '161/udp': 'snmp', '162/udp': 'snmp-trap', '389/tcp': 'ldap', '512/tcp': 'rexec', '513/tcp': 'rlogin',
  '514/tcp': 'rsh', '514/udp': 'syslog', '1883/tcp': 'mqtt', '5683/udp': 'coap', '5900/tcp': 'vnc',
  '6667/tcp': 'irc', '8080/tcp': 'http',
};

/** `detectors:` as DetectSettings fields; only what the policy sets (the caller overlays defaults). */
export function detectorSettings(det: DetectorsDoc | undefined): Partial<DetectSettings> {
  const out: Partial<DetectSettings> = {};
  if (det === undefined) return out;
  const ms = (v: string) => (parseDuration(v) as { ms: number }).ms;
  if (det.scan_hosts?.threshold !== undefined) out.scanHostsThreshold = det.scan_hosts.threshold;
  if (det.scan_hosts?.window !== undefined) out.scanHostsWindowMs = ms(det.scan_hosts.window);
  if (det.scan_ports?.threshold !== undefined) out.scanPortsThreshold = det.scan_ports.threshold;
  if (det.scan_ports?.window !== undefined) out.scanPortsWindowMs = ms(det.scan_ports.window);
  if (det.scan_hosts?.fast_threshold !== undefined) out.scanHostsFastThreshold = det.scan_hosts.fast_threshold;
  if (det.scan_hosts?.fast_window !== undefined) out.scanHostsFastWindowMs = ms(det.scan_hosts.fast_window);
  if (det.scan_ports?.fast_threshold !== undefined) out.scanPortsFastThreshold = det.scan_ports.fast_threshold;
  if (det.scan_ports?.fast_window !== undefined) out.scanPortsFastWindowMs = ms(det.scan_ports.fast_window);
  if (det.suppress_window !== undefined) out.anomalyIdleMs = ms(det.suppress_window);
  if (det.anomaly_idle !== undefined) out.anomalyIdleMs = ms(det.anomaly_idle);
  if (det.anomaly_update !== undefined) out.anomalyUpdateMs = ms(det.anomaly_update);
  if (det.dns_grace !== undefined) out.dnsGraceMs = ms(det.dns_grace);
  if (det.plaintext_ports !== undefined) {
    const list: PlaintextPort[] = [];
    const seen = new Set<string>();
    for (const q of det.plaintext_ports) {
      const x = parsePort(q) as PortSpec;
      if (x.proto !== 'tcp' && x.proto !== 'udp') continue;
      for (let port = x.lo; port <= x.hi; port++) {
        const key = `${port}/${x.proto}`;
        if (seen.has(key)) continue;
        seen.add(key);
        list.push({ port, proto: x.proto, name: PLAINTEXT_NAMES[key] ?? `port ${port}` });
      }
    }
    out.plaintextPorts = list;
  }
  if (det.critical_ips !== undefined) {
    // canonical text, as the inventory reports addresses ("FD00::1" -> "fd00::1")
    out.spoofCriticalIps = det.critical_ips.map((r) => (parseIp(r) as { ip: string }).ip);
  }
  if (det.severity !== undefined) {
    // a partial table: resolveSettings() merges severity per kind over the defaults
    out.severity = { ...det.severity } as DetectSettings['severity'];
  }
  return out;
}

class ProfileBuilder {
  addr = new AddrTable<PortIndexBuilder>();
  domains = new DomainTrie();
  domainPorts = new PortIndexBuilder();
  devices = new Map<string, PortIndexBuilder>();
  manufacturers = new Map<string, PortIndexBuilder>();
  sameManufacturer: PortIndexBuilder | null = null;
  ruleIds: string[] = [];

  private rule = 0;
  private ports: readonly PortSpec[] | RuleMatch | undefined;
  /** one merge function for every insert (not a closure per rule): reads rule and ports set just before. */
  private readonly merge = (old: PortIndexBuilder | undefined): PortIndexBuilder => {
    const b = old ?? new PortIndexBuilder();
    b.add(this.rule, this.ports);
    return b;
  };

  addAddr(c: Cidr, rule: number, ports: readonly PortSpec[] | RuleMatch | undefined): void {
    this.rule = rule;
    this.ports = ports;
    this.addr.insert(c, this.merge);
  }
}

/** A profile's rules of one direction (`allow` or `allow_in`) ready to evaluate. */
class Profile {
  constructor(
    readonly addr: AddrTable<PortIndex>,
    readonly domains: DomainTrie,
    readonly domainPorts: PortIndex | null,
    readonly devices: readonly { name: string; ports: PortIndex }[],
    readonly devicePorts: PortIndex | null,
    /** `manufacturer:HOST` rules by MUD URL host, and their union (the cheap floor). */
    readonly manufacturers: ReadonlyMap<string, PortIndex>,
    readonly manufacturerPorts: PortIndex | null,
    readonly sameManufacturer: PortIndex | null,
    readonly ruleIds: readonly string[],
    /** one frozen verdict per rule, so an allow allocates nothing. */
    readonly verdicts: readonly Verdict[],
    readonly limits: ProfileLimits,
    /** some rule has `from_ports`: a verdict may depend on the opener's port */
    readonly usesFromPorts: boolean,
    /** this profile's number in its policy's verdict memo (Policy.judge) */
    readonly memoId: number,
  ) {}
}

/**
 * Verdicts remembered per policy (Policy.judge), direct-mapped: a device's flows go to the
 * same few servers, ports and resolver again and again, and each verdict otherwise walks the
 * profile's address trie and every rule set on its path.
 */
const MEMO_BITS = 12;

class VerdictMemo {
  /** per slot: the peer (IPv4), proto << 16 | port, the profile's memoId */
  readonly keys = new Int32Array(3 << MEMO_BITS).fill(-1);
  /** per slot: the one name the verdict was reached with, '' for none */
  readonly names: string[] = new Array<string>(1 << MEMO_BITS).fill('');
  readonly verdicts: Verdict[] = new Array<Verdict>(1 << MEMO_BITS).fill(DENIED);
}

/** type*256+code ranges of `icmp:` items, as (lo, hi) pairs. */
function icmpRanges(list: readonly (string | number)[], v6: boolean): number[] {
  const out: number[] = [];
  for (const q of list) {
    const x = parseIcmp(q, v6) as IcmpSpec;
    if (x.code < 0) out.push(x.type * 256, x.type * 256 + 255);
    else out.push(x.type * 256 + x.code, x.type * 256 + x.code);
  }
  return out;
}

/** What a rule matches besides its host: its ports alone (the common case) or a RuleMatch. */
function ruleMatch(r: RuleDoc | InRuleDoc, memo: RuleMemo): readonly PortSpec[] | RuleMatch | undefined {
  const ports = r.ports === undefined ? undefined : memo.portsAgain(r.ports);
  if (r.from_ports === undefined && r.icmp === undefined && r.icmpv6 === undefined && r.proto === undefined) return ports;
  const m: RuleMatch = { ports };
  if (r.from_ports !== undefined) m.from = r.from_ports.map((q) => parsePort(q) as PortSpec);
  if (r.icmp !== undefined) m.icmp4 = icmpRanges(r.icmp, false);
  if (r.icmpv6 !== undefined) m.icmp6 = icmpRanges(r.icmpv6, true);
  if (r.proto !== undefined) m.proto = r.proto;
  return m;
}

/** The judged device's side of evaluate(): a bare deviceIps function stands for a context without MUD URLs. */
const NO_MUD = (): string => '';

interface DeviceMatcher {
  name: string;
  profile: string;
  rule: string;
  mac: RegExp | null;
  /** exact lower-case MAC: a string compare instead of a RegExp. */
  macExact: string | null;
  ip: Cidr | null;
  vendor: RegExp | null;
  hostname: RegExp | null;
  /** the entry names one device exactly (an exact `mac:`, or `ip:` with one address): its name is the entry's. */
  single: boolean;
}

/**
 * The name of a device that an entry able to match several devices (`vendor:`, `hostname:`,
 * MAC or IP globs and CIDRs) matched: `<entry>-<last three MAC bytes>` ("plugs-c30042", lower
 * case hex, no colons), so each match has its own name from its first match on and none is
 * renamed when another appears. Without a MAC (a NetFlow device known by its address)
 * `<entry>-<ip>`; with neither, the entry's name.
 */
export function memberName(entry: string, mac: string, ip: string): string {
  if (mac.length === 17) return `${entry}-${mac.slice(9, 11)}${mac.slice(12, 14)}${mac.slice(15, 17)}`.toLowerCase();
  return ip !== '' ? `${entry}-${ip}` : entry;
}

/** The first rule of a profile's name rules that could apply to this protocol and port, -1 for none. */
function domainFloor(p: Profile, proto: number, port: number, sport: number): number {
  return p.domainPorts !== null ? p.domainPorts.match(proto, port, sport) : -1;
}

function protoNum(p: Proto): number {
  switch (p) {
    case 'tcp': return 6;
    case 'udp': return 17;
    case 'icmp': return 1;
    case 'icmpv6': return 58;
    default: return p;
  }
}

const DENIED: Verdict = Object.freeze({ allowed: false, rule: '', awaitingName: false });
const AWAITING: Verdict = Object.freeze({ allowed: false, rule: '', awaitingName: true });
const NO_NAMES: readonly string[] = Object.freeze([]);

export class Policy implements CompiledPolicy {
  readonly vlan: number | undefined;
  private segs = new AddrTable<string>();
  readonly watchedCidrs: readonly string[];
  private watched: ReadonlySet<string>;
  private protectedSet: ReadonlySet<string>;
  private resolvers: ReadonlySet<string>;
  private matchers: DeviceMatcher[] = [];
  /** entries matched by an exact MAC, by that MAC (several may share one); the rest in order. */
  private byMac = new Map<string, number[]>();
  private nonMac: number[] = [];
  private defaultProfile: string;
  private profs = new Map<string, Profile>();
  private profileNames: string[];
  /** scratch for address bytes and trie paths: evaluate allocates nothing for IPv4 peers. */
  private buf = new Uint8Array(16);
  private pathOut: PortIndex[] = new Array(129);
  /** verdicts remembered (judge), made at the first judged flow */
  private memo: VerdictMemo | null = null;
  private memoIds = 0;
  /** `allow_in` rules of the profiles that have them. */
  private inProfs = new Map<string, Profile>();
  private detectors: Partial<DetectSettings>;
  private exceptions: Exceptions;
  private readonly mudSection: { auto: boolean; dir?: string };

  constructor(readonly source: string, doc: PolicyDoc, memo: RuleMemo = new RuleMemo()) {
    this.vlan = doc.vlan;
    this.detectors = detectorSettings(doc.detectors);
    this.exceptions = new Exceptions(doc.exceptions ?? []);
    this.mudSection = doc.mud?.dir !== undefined ? { auto: doc.mud.auto ?? false, dir: doc.mud.dir } : { auto: doc.mud?.auto ?? false };
    for (const [name, list] of Object.entries(doc.segments)) {
      for (const c of list) this.segs.insert(cidr(c), () => name);
    }
    this.watched = new Set(doc.watch);
    this.watchedCidrs = doc.watch.flatMap((w) => doc.segments[w] ?? []);
    this.protectedSet = new Set(doc.protected ?? []);
    const resolverCidrs: Cidr[] = [];
    const rs = new Set<string>();
    for (const r of doc.resolvers ?? []) {
      const p = parseIp(r);
      if ('ip' in p) { rs.add(p.ip); resolverCidrs.push(cidr(p.ip)); }
    }
    this.resolvers = rs;
    this.defaultProfile = doc.default_profile;
    (doc.devices ?? []).forEach((d, i) => {
      const mac = d.mac?.toLowerCase();
      const ip = d.ip !== undefined ? cidr(d.ip) : null;
      const macExact = mac !== undefined && !/[*?]/.test(mac) ? mac : null;
      this.matchers.push({
        name: d.name, profile: d.profile, rule: `devices[${i}]`,
        macExact,
        mac: mac !== undefined && /[*?]/.test(mac) ? globToRegExp(mac) : null,
        ip,
        vendor: d.vendor !== undefined ? globToRegExp(d.vendor) : null,
        hostname: d.hostname !== undefined ? globToRegExp(d.hostname) : null,
        single: macExact !== null || (ip !== null && ip.len === (ip.v6 ? 128 : 32)),
      });
    });
    this.matchers.forEach((m, i) => {
      if (m.macExact === null) { this.nonMac.push(i); return; }
      const l = this.byMac.get(m.macExact);
      if (l) l.push(i); else this.byMac.set(m.macExact, [i]);
    });
    this.profileNames = Object.keys(doc.profiles);
    for (const name of this.profileNames) {
      const p = doc.profiles[name];
      this.profs.set(name, this.compileProfile(`profiles.${name}.allow[`, p.allow, doc, resolverCidrs, p.limits, memo));
      if (p.allow_in !== undefined) this.inProfs.set(name, this.compileProfile(`profiles.${name}.allow_in[`, p.allow_in, doc, resolverCidrs, undefined, memo));
    }
  }

  private compileProfile(idPrefix: string, rules: readonly (RuleDoc | InRuleDoc)[], doc: PolicyDoc, resolvers: readonly Cidr[],
    lim: { bytes_per_hour?: string | number; bytes_per_day?: string | number } | undefined, memo: RuleMemo): Profile {
    const b = new ProfileBuilder();
    // every rule toward a device, for the cheap "could any device rule allow this" floor
    const devUnion = new PortIndexBuilder();
    const manuUnion = new PortIndexBuilder();
    const addTarget = (t: Target, i: number, m: readonly PortSpec[] | RuleMatch | undefined, depth: number): void => {
      switch (t.kind) {
        case 'cidr': b.addAddr(t.cidr, i, m); break;
        case 'segment': for (const c of doc.segments[t.name] ?? []) b.addAddr(cidr(c), i, m); break;
        case 'local-networks': for (const list of Object.values(doc.segments)) for (const c of list) b.addAddr(cidr(c), i, m); break;
        case 'domain': b.domains.add(t.glob, i, m); b.domainPorts.add(i, m); break;
        case 'device': {
          let d = b.devices.get(t.name);
          if (!d) { d = new PortIndexBuilder(); b.devices.set(t.name, d); }
          d.add(i, m);
          devUnion.add(i, m);
          break;
        }
        case 'controller':
          // a named set of hosts: its members become this rule's own targets
          if (depth > 0) break;
          for (const h of doc.controllers?.[t.name] ?? []) {
            const ht = parseTarget(h);
            if (!('error' in ht)) addTarget(ht, i, m, depth + 1);
          }
          break;
        case 'manufacturer': {
          let d = b.manufacturers.get(t.host);
          if (!d) { d = new PortIndexBuilder(); b.manufacturers.set(t.host, d); }
          d.add(i, m);
          manuUnion.add(i, m);
          break;
        }
        case 'same-manufacturer': (b.sameManufacturer ??= new PortIndexBuilder()).add(i, m); break;
      }
    };
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      b.ruleIds.push(`${idPrefix}${i}]`);
      if ('service' in r && r.service !== undefined) {
        for (const part of serviceParts(r.service, resolvers)) for (const c of part.to) b.addAddr(c, i, part.ports);
        continue;
      }
      const m = ruleMatch(r, memo);
      const host = 'to' in r ? r.to : (r as InRuleDoc).from;
      if (host === undefined) { b.addAddr(ANY4, i, m); b.addAddr(ANY6, i, m); continue; }
      const t = memo.targetAgain(host);
      if (!('error' in t)) addTarget(t, i, m, 0);
    }
    const devices = [...b.devices].map(([n, pb]) => ({ name: n, ports: pb.build() }));
    const manus = new Map([...b.manufacturers].map(([h, pb]) => [h, pb.build()] as const));
    const limits: ProfileLimits = {};
    if (lim?.bytes_per_hour !== undefined) limits.bytesPerHour = (parseSize(lim.bytes_per_hour) as { bytes: number }).bytes;
    if (lim?.bytes_per_day !== undefined) limits.bytesPerDay = (parseSize(lim.bytes_per_day) as { bytes: number }).bytes;
    return new Profile(
      b.addr.map((pb) => pb.build()), b.domains.build(),
      b.domains.count > 0 ? b.domainPorts.build() : null,
      devices, devices.length > 0 ? devUnion.build() : null,
      manus, manus.size > 0 ? manuUnion.build() : null, b.sameManufacturer?.build() ?? null,
      b.ruleIds, b.ruleIds.map((rule) => Object.freeze({ allowed: true, rule, awaitingName: false })), limits,
      rules.some((r) => 'from_ports' in r && r.from_ports !== undefined), this.memoIds++,
    );
  }

  segmentOf(ip: string): string {
    const fam = addrInto(ip, this.buf);
    return fam === 0 ? '' : this.segs.longest(fam, this.buf) ?? '';
  }

  isWatched(ip: string): boolean {
    const s = this.segmentOf(ip);
    return s !== '' && this.watched.has(s);
  }

  isWatched4(v: number): boolean {
    const s = this.segmentOf4(v);
    return s !== '' && this.watched.has(s);
  }

  segmentOf4(v: number): string {
    return this.segs.v4.longest32(v) ?? '';
  }

  /** Judged by the address's most specific segment: a /24 carved out of a protected /16 is not protected. */
  protectedSegment(ip: string): string {
    const s = this.segmentOf(ip);
    return s !== '' && this.protectedSet.has(s) ? s : '';
  }

  isResolver(ip: string): boolean {
    if (this.resolvers.has(ip)) return true;
    const p = parseIp(ip);
    return 'ip' in p && this.resolvers.has(p.ip);
  }

  place(d: DeviceFacts): DevicePlacement {
    // First match wins. Entries with an exact MAC are looked up, not scanned, so a policy of
    // thousands of devices places one in time proportional to its entries without one.
    const mac = d.mac.toLowerCase();
    const exact = this.byMac.get(mac);
    const other = this.nonMac;
    let i = 0, j = 0;
    const ipBox = { done: false, fam: 0 as 0 | 4 | 6 };
    while (i < other.length || (exact !== undefined && j < exact.length)) {
      const takeExact = exact !== undefined && j < exact.length && (i >= other.length || exact[j] < other[i]);
      const m = this.matchers[takeExact ? exact![j++] : other[i++]];
      if (this.matches(m, mac, d, ipBox)) {
        const name = m.single ? m.name : memberName(m.name, mac, d.ip);
        return { name, entry: m.name, profile: m.profile, known: true, rule: m.rule };
      }
    }
    return { name: '', entry: '', profile: this.defaultProfile, known: false, rule: 'default_profile' };
  }

  private matches(m: DeviceMatcher, mac: string, d: DeviceFacts, ipBox: { done: boolean; fam: 0 | 4 | 6 }): boolean {
    if (m.macExact !== null && m.macExact !== mac) return false;
    if (m.mac !== null && (mac === '' || !m.mac.test(mac))) return false;
    if (m.ip !== null) {
      if (!ipBox.done) { ipBox.fam = d.ip ? addrInto(d.ip, this.buf) : 0; ipBox.done = true; }
      if (ipBox.fam === 0 || !cidrContains(m.ip, ipBox.fam === 6, this.buf)) return false;
    }
    if (m.vendor !== null && (d.vendor === '' || !m.vendor.test(d.vendor))) return false;
    if (m.hostname !== null && (d.hostname === '' || !m.hostname.test(d.hostname))) return false;
    return true;
  }

  evaluate(profile: string, flow: FlowFacts, names: PeerNames, ctx: EvalContext | DeviceIps): Verdict {
    const p = this.profs.get(profile);
    return p === undefined ? DENIED : this.judge(p, flow, names, ctx);
  }

  evaluateIn(profile: string, flow: FlowFacts, names: PeerNames, ctx: EvalContext | DeviceIps): Verdict {
    const p = this.inProfs.get(profile);
    return p === undefined ? DENIED : this.judge(p, flow, names, ctx);
  }

  hasAllowIn(profile: string): boolean {
    return this.inProfs.has(profile);
  }

  /** The rules of one direction against a flow: flow.dst is the peer, whichever side opened. */
  private judge(p: Profile, flow: FlowFacts, peerNames: PeerNames, ctx: EvalContext | DeviceIps): Verdict {
    const proto = protoNum(flow.proto);
    const port = flow.dport;
    const sport = flow.sport ?? -1;
    let best = -1;
    // no name rule for this protocol and port: the verdict is the same whatever the names
    const floor = domainFloor(p, proto, port, sport);
    const names = floor < 0 ? NO_NAMES : typeof peerNames === 'function' ? peerNames() : peerNames;
    const k = flow.dstKey;
    let fam: 0 | 4 | 6;
    if (typeof k === 'number') {
      const b = this.buf;
      b[0] = k >>> 24; b[1] = (k >>> 16) & 255; b[2] = (k >>> 8) & 255; b[3] = k & 255;
      fam = 4;
    } else fam = addrInto(textOf(flow.dst), this.buf);
    // no device, manufacturer or opener's port rule can apply and at most one name is known:
    // the verdict is a function of (profile, peer, protocol, port, name), remembered
    let slot = -1, a = 0;
    const name = names.length === 0 ? '' : names[0], pp = proto << 16 | port;
    if (fam === 4 && names.length <= 1 && !p.usesFromPorts && p.manufacturerPorts === null && p.sameManufacturer === null &&
        (p.devicePorts === null || p.devicePorts.match(proto, port, sport) < 0)) {
      const b = this.buf;
      a = (b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) | 0;
      slot = Math.imul(a ^ Math.imul(pp ^ (p.memoId << 24), 0x9e3779b1), 0x85ebca6b) >>> (32 - MEMO_BITS);
      const m = this.memo ??= new VerdictMemo();
      if (m.keys[slot * 3] === a && m.keys[slot * 3 + 1] === pp && m.keys[slot * 3 + 2] === p.memoId && m.names[slot] === name) return m.verdicts[slot];
    }
    if (fam !== 0) {
      const n = p.addr.path(fam, this.buf, this.pathOut);
      for (let i = 0; i < n; i++) {
        const r = this.pathOut[i].match(proto, port, sport);
        if (r >= 0 && (best < 0 || r < best)) best = r;
      }
    }
    if (floor >= 0) {
      for (let i = 0; i < names.length; i++) {
        const r = p.domains.match(names[i], proto, port, sport);
        if (r >= 0 && (best < 0 || r < best)) best = r;
      }
    }
    if (p.devicePorts !== null && fam !== 0) {
      const floor = p.devicePorts.match(proto, port, sport);
      if (floor >= 0 && (best < 0 || floor < best)) {
        const deviceIps = typeof ctx === 'function' ? ctx : ctx.deviceIps;
        for (const d of p.devices) {
          const r = d.ports.match(proto, port, sport);
          if (r < 0 || (best >= 0 && r >= best)) continue;
          if (this.ownsAddress(deviceIps(d.name), textOf(flow.dst), fam)) best = r;
        }
      }
    }
    if ((p.manufacturerPorts !== null || p.sameManufacturer !== null) && fam !== 0) {
      // the peer's MUD URL host: looked up only when a manufacturer rule could allow this flow
      const mf = p.manufacturerPorts !== null ? p.manufacturerPorts.match(proto, port, sport) : -1;
      const sf = p.sameManufacturer !== null ? p.sameManufacturer.match(proto, port, sport) : -1;
      const self = sf >= 0 && typeof ctx !== 'function' ? ctx.selfMudHost : '';
      if ((mf >= 0 && (best < 0 || mf < best)) || (sf >= 0 && self !== '' && (best < 0 || sf < best))) {
        const host = (typeof ctx === 'function' ? NO_MUD : ctx.mudHostOf)(textOf(flow.dst));
        if (host !== '') {
          if (mf >= 0) {
            const r = p.manufacturers.get(host)?.match(proto, port, sport) ?? -1;
            if (r >= 0 && (best < 0 || r < best)) best = r;
          }
          if (sf >= 0 && host === self && (best < 0 || sf < best)) best = sf;
        }
      }
    }
    const v = best >= 0 ? p.verdicts[best] : floor >= 0 ? AWAITING : DENIED;
    if (slot >= 0) {
      const m = this.memo!;
      m.keys[slot * 3] = a; m.keys[slot * 3 + 1] = pp; m.keys[slot * 3 + 2] = p.memoId;
      m.names[slot] = name;
      m.verdicts[slot] = v;
    }
    return v;
  }

  /** Does one of `ips` equal dst? Compared as bytes, so "fd00::1" and "FD00:0::1" agree. */
  private ownsAddress(ips: readonly string[], dst: string, fam: 4 | 6): boolean {
    const want = this.buf.slice(0, fam === 4 ? 4 : 16);
    const tmp = new Uint8Array(16);
    for (const ip of ips) {
      if (ip === dst) return true;
      if (addrInto(ip, tmp) !== fam) continue;
      let same = true;
      for (let k = 0; k < want.length; k++) if (tmp[k] !== want[k]) { same = false; break; }
      if (same) return true;
    }
    return false;
  }

  limits(profile: string): ProfileLimits {
    return this.profs.get(profile)?.limits ?? {};
  }

  profiles(): readonly string[] {
    return this.profileNames;
  }

  /** A fresh copy each call: callers may merge into it. */
  suppresses(a: Pick<Anomaly, 'device' | 'kind' | 'peer' | 'peerName' | 'peerPort'>, now: number): boolean {
    return this.exceptions.size > 0 && this.exceptions.suppresses(a, now);
  }

  nextExceptionEnd(now: number): number {
    return this.exceptions.nextEnd(now);
  }

  mud(): { auto: boolean; dir?: string } {
    return { ...this.mudSection };
  }

  detectSettings(): Partial<DetectSettings> {
    const d = this.detectors;
    const out: Partial<DetectSettings> = { ...d };
    if (d.plaintextPorts) out.plaintextPorts = d.plaintextPorts.map((p) => ({ ...p }));
    if (d.spoofCriticalIps) out.spoofCriticalIps = [...d.spoofCriticalIps];
    if (d.severity) out.severity = { ...d.severity };
    return out;
  }
}

/**
 * Compile a document that passed validation (load.ts guarantees that). `memo` may hold
 * what the validation already read of the rules.
 */
export function compilePolicy(doc: PolicyDoc, source: string, memo: RuleMemo = new RuleMemo()): CompiledPolicy {
  return new Policy(source, doc, memo);
}
