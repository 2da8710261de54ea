// Writes the draft policy: the skeleton (a policy a person wrote, or one inferred from the
// private ranges the devices used) with each device's learned rules added. The skeleton's
// text is edited through yaml's document model, so every hand-written entry, rule and
// comment stays as it was; what is added is marked "learned" and says how often and when
// it was seen; what was seen and is not learned is listed in comments.

import { Document, isMap, isSeq, parseDocument, Scalar, YAMLMap, YAMLSeq, type Node } from 'yaml';
import { memberName } from '../policy/compile.js';
import type { CompiledPolicy } from '../policy/types.js';
import { POLICY_SCHEMA } from '../policy/schema-document.js';
import { isLocalIp } from '../inventory/addresses.js';
import type { DeviceObs, OutObs } from './observer.js';
import { generalise, seenText, sizeText, type Learned, type LearnedRule, type Site } from './generalise.js';

/** Profile names the policy language keeps for itself (a device entry's `profile: learn`). */
export const RESERVED_PROFILES: ReadonlySet<string> = new Set(['learn', 'mud']);

/** The language has inbound rules (`allow_in`) when its schema says so. */
export function inboundSupported(): boolean {
  return JSON.stringify(POLICY_SCHEMA).includes('"allow_in"');
}

/** The language has `proto: N` rules when its schema says so. */
function protoSupported(): boolean {
  return JSON.stringify(POLICY_SCHEMA).includes('"proto":{');
}

export interface DraftInput {
  devices: readonly DeviceObs[];
  /** what the inventory knows of a device (for its name and for the policy's entry match). */
  facts(d: DeviceObs): { vendor: string; hostname: string };
  /** the skeleton, compiled, and its text (edited in place); see inferSkeleton() without one. */
  policy: CompiledPolicy;
  text: string;
  /** `device:NAME` rules: the named device's addresses. */
  deviceIps(name: string): readonly string[];
  /** what the inventory knows of the device at ip (for `device:NAME` targets), undefined when none. */
  deviceAt?(ip: string): { mac: string; vendor: string; hostname: string } | undefined;
  /** what was learned from, for the header (file names, an interface). */
  from: string;
  maxRules?: number;
}

export interface DraftDevice {
  name: string;
  mac: string;
  profile: string;
  /** true when the skeleton did not list it. */
  added: boolean;
  rules: number;
  notLearned: number;
  learned: Learned;
}

export interface Draft {
  yaml: string;
  devices: DraftDevice[];
}

/** The draft policy: the skeleton with what each device did added. */
export function draftPolicy(input: DraftInput): Draft {
  const p = input.policy;
  const doc = parseDocument(input.text);
  const inbound = inboundSupported(), protoNumbers = protoSupported();
  const site: Site = {
    isResolver: (ip) => p.isResolver(ip), protectedSegment: (ip) => p.protectedSegment(ip), segmentOf: (ip) => p.segmentOf(ip),
    deviceName: (ip) => {
      const f = input.deviceAt?.(ip);
      if (!f) return '';
      // only an entry that names one device exactly (its name is the entry's own)
      const placed = p.place({ mac: f.mac, ip, vendor: f.vendor, hostname: f.hostname });
      return placed.known && placed.name === placed.entry ? placed.entry : '';
    },
  };
  const profiles = doc.get('profiles') as YAMLMap;
  let devices = doc.get('devices') as YAMLSeq | undefined;
  if (!isSeq(devices)) {
    devices = new YAMLSeq();
    doc.set('devices', devices);
  }
  // `devices: []` in a skeleton: one entry a line once entries are added
  devices.flow = false;
  const taken = new Set<string>([...entryNames(devices), ...p.profiles(), ...RESERVED_PROFILES]);
  /** rules added per profile, so devices sharing one add each rule once */
  const added = new Map<string, Set<string>>();
  const out: DraftDevice[] = [];

  const sorted = [...input.devices].filter((d) => d.ips.some((ip) => p.isWatched(ip)))
    .sort((a, b) => a.key.localeCompare(b.key));
  for (const d of sorted) {
    const ip = d.ips.find((x) => p.isWatched(x)) ?? d.ips[0];
    const facts = input.facts(d);
    const placed = p.place({ mac: d.mac, ip, vendor: facts.vendor, hostname: facts.hostname });
    const keep = placed.known && !RESERVED_PROFILES.has(placed.profile) && profiles.has(placed.profile);
    const allowed = keep
      ? (o: OutObs) => p.evaluate(placed.profile, { proto: o.proto, dst: o.dst, dport: o.dport }, [...o.sni, ...o.dns], input.deviceIps).allowed
      : undefined;
    const learned = generalise(d, site, { maxRules: input.maxRules, inbound, allowed, mark: 'learned', protoNumbers });
    let name: string, profile: string;
    if (keep) {
      name = placed.name;
      profile = placed.profile;
    } else if (placed.known) {
      // `profile: learn`: the entry stays, and names the profile learned for it
      name = placed.name;
      profile = unique(slug(placed.entry) || 'learned', taken);
      const entry = devices.items.find((e) => isMap(e) && e.get('name') === placed.entry) as YAMLMap | undefined;
      entry?.set('profile', profile);
    } else {
      name = unique(memberName(slug(facts.hostname) || slug(facts.vendor.split(/[\s,]/)[0] ?? '') || 'device', d.mac, d.mac ? '' : ip), taken);
      profile = name;
      const entry = flow(doc, { name, ...(d.mac ? { mac: d.mac } : { ip }), profile, comment: `learned: ${seenText(learned.seen)}` });
      devices.items.push(entry);
    }
    let prof = profiles.get(profile) as YAMLMap | undefined;
    const fresh = !isMap(prof);
    if (fresh) {
      prof = new YAMLMap();
      prof.set('description', `learned from ${input.from}${facts.hostname ? ` (${facts.hostname}${facts.vendor ? `, ${facts.vendor}` : ''})` : facts.vendor ? ` (${facts.vendor})` : ''}`);
      prof.set('allow', new YAMLSeq());
      profiles.set(profile, prof);
    }
    const done = added.get(profile) ?? added.set(profile, new Set()).get(profile)!;
    let n = 0;
    n += addRules(doc, prof!, 'allow', learned.allow, done);
    n += addRules(doc, prof!, 'allow_in', learned.allowIn, done);
    if (!prof!.has('limits') && learned.bytesPerHour !== undefined) {
      prof!.items.push(doc.createPair(commented(doc, 'limits', 'learned: twice the busiest hour seen'), flow(doc, { bytes_per_hour: sizeText(learned.bytesPerHour) })) as never);
    }
    const notes = [
      ...learned.notLearned.map((l) => `not learned: ${l}`),
      ...learned.seenIn.map((l) => `seen inbound (no inbound rules in this policy language): ${l}`),
    ];
    if (notes.length) {
      const item = profiles.items.find((it) => keyText(it.key) === profile);
      if (item) item.key = commented(doc, profile, [`${name}:`, ...notes].join('\n'), keyComment(item.key));
    }
    out.push({ name, mac: d.mac, profile, added: !placed.known, rules: learned.allow.length + learned.allowIn.length, notLearned: learned.notLearned.length, learned });
  }
  if (devices.items.length === 0) devices.flow = true;
  return { yaml: doc.toString({ lineWidth: 0, flowCollectionPadding: true }), devices: out };
}

/**
 * A skeleton for a site without a policy: a segment per private /24 (IPv6: /64) the devices
 * used, all watched; none protected; the resolvers the devices asked, the site's own when
 * there are any. Returned as policy text whose comments say it was inferred.
 */
export function inferSkeleton(devices: readonly DeviceObs[]): string {
  const nets = new Map<string, number>();
  const resolvers = new Set<string>();
  for (const d of devices) {
    for (const ip of d.ips) if (isLocalIp(ip) && !ip.toLowerCase().startsWith('fe80')) nets.set(net(ip), (nets.get(net(ip)) ?? 0) + 1);
    for (const o of d.out.values()) if (o.dport === 53 && (o.proto === 'udp' || o.proto === 'tcp')) resolvers.add(o.dst);
  }
  const local = [...resolvers].filter((r) => isLocalIp(r));
  const approved = (local.length ? local : [...resolvers]).sort();
  const cidrs = [...nets.keys()].sort();
  const segs: Record<string, string[]> = {};
  if (cidrs.length === 0) segs.local = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];
  else if (cidrs.length === 1) segs.local = cidrs;
  else for (const c of cidrs) segs[`net-${c.replace(/\/\d+$/, '').replace(/[.:]+/g, '-').replace(/-+$/, '')}`] = [c];
  const lines = [
    '# Skeleton inferred by segwatch learn (no --policy given): review it.',
    '#   segments: one per private network the devices used, all watched, none protected;',
    `#   resolvers: the DNS servers the devices asked${local.length ? ' inside the site' : ''}.`,
    '# Give `--policy` a skeleton of your own (segments, watch, protected, resolvers) to have',
    '# crossings into protected segments and DNS to other resolvers left out of what is learned.',
    'version: 1',
    'segments:',
    ...Object.entries(segs).map(([k, v]) => `  ${k}: [${v.map((c) => JSON.stringify(c)).join(', ')}]`),
    `watch: [${Object.keys(segs).join(', ')}]`,
    ...(approved.length ? [`resolvers: [${approved.map((r) => JSON.stringify(r)).join(', ')}]`] : []),
    'devices: []',
    'default_profile: quarantine',
    'profiles:',
    '  quarantine:',
    // `service: dns` needs an approved resolver
    `    allow: [ { service: dhcp }${approved.length ? ', { service: dns }' : ''} ]`,
    '',
  ];
  return lines.join('\n');
}

/** The policy used while learning without a skeleton: every private address watched, nothing listed. */
export const LEARN_ALL_POLICY = [
  'version: 1',
  'segments:',
  '  private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]',
  'watch: [private]',
  'default_profile: quarantine',
  'profiles:',
  '  quarantine: { allow: [] }',
  '',
].join('\n');

function net(ip: string): string {
  if (!ip.includes(':')) return ip.split('.').slice(0, 3).join('.') + '.0/24';
  const g = ip.split('::')[0].split(':').slice(0, 4);
  while (g.length < 4) g.push('0');
  return `${g.map((x) => parseInt(x || '0', 16).toString(16)).join(':')}::/64`;
}

function addRules(doc: Document, prof: YAMLMap, key: 'allow' | 'allow_in', rules: readonly LearnedRule[], done: Set<string>): number {
  if (!rules.length) return 0;
  let seq = prof.get(key) as YAMLSeq | undefined;
  if (!isSeq(seq)) {
    seq = new YAMLSeq();
    prof.set(key, seq);
  }
  // an inline list (`allow: [ ... ]`) gets block style once it grows: one rule a line
  seq.flow = false;
  let n = 0;
  for (const r of rules) {
    const { comment, ...what } = r;
    const id = `${key}:${JSON.stringify(what)}`;
    if (done.has(id)) continue;
    done.add(id);
    seq.items.push(flow(doc, { ...what, comment }));
    n++;
  }
  return n;
}

function flow(doc: Document, obj: object): Node {
  const node = doc.createNode(obj) as YAMLMap;
  node.flow = true;
  return node;
}

function commented(doc: Document, key: string, comment: string, before?: string): Scalar {
  const s = doc.createNode(key) as Scalar;
  const lines = comment.split('\n').map((l) => ` ${l}`).join('\n');
  s.commentBefore = before ? `${before}\n${lines}` : lines;
  return s;
}

function keyText(k: unknown): string {
  return k instanceof Scalar ? String(k.value) : String(k);
}

function keyComment(k: unknown): string | undefined {
  return k instanceof Scalar ? k.commentBefore ?? undefined : undefined;
}

function entryNames(devices: YAMLSeq): string[] {
  return devices.items.filter(isMap).map((e) => String((e as YAMLMap).get('name')));
}

/** A policy name from free text: lower case letters, digits and "-". */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
}

function unique(base: string, taken: Set<string>): string {
  let name = base, i = 2;
  while (taken.has(name)) name = `${base}-${i++}`;
  taken.add(name);
  return name;
}
