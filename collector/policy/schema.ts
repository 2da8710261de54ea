// The one definition of the policy file's shape: TypeScript types (Static<>) and the
// published JSON Schema (policies/schema/policy.schema.json) both come from here.

import { Type, type Static } from '@sinclair/typebox';
import { ANOMALY_KINDS, SEVERITIES } from '../types.js';
import { ICMP4_TYPES, ICMP6_TYPES } from './schema-names.js';

export { ICMP4_TYPES, ICMP6_TYPES, RESERVED_PROFILES } from './schema-names.js';

/** Names of segments, profiles and devices: what `segment:NAME` and `device:NAME` can spell. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const Name = (what: string) => Type.String({ pattern: NAME_PATTERN, description: `${what} name: letters, digits, "_", "." or "-", at most 64` });

/** `500MB`, `1GB`, `10KiB`, `1.5GB` or a bare number of bytes; checked strictly after the schema. */
const Size = Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: '^[0-9]+(\\.[0-9]+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$' }),
], { description: 'a size: a number of bytes or a number with a unit B, KB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary), e.g. "500MB"' });

export const SERVICES = ['dns', 'ntp', 'dhcp', 'mdns', 'ssdp', 'icmp'] as const;

const TARGET_TEXT = 'an IP, a CIDR, a domain glob ("*.ring.com" or "ring.com"), "segment:NAME", "device:NAME", "controller:NAME", "manufacturer:DOMAIN", "same-manufacturer" or "local-networks"';

const PortList = (what: string) => Type.Array(Type.String({
  description: 'a port: "N/proto", "N-M/proto" (proto tcp, udp or sctp) or "icmp"',
}), { minItems: 1, description: what });

const IcmpList = (v6: boolean) => Type.Array(Type.Union([
  Type.Integer({ minimum: 0, maximum: 255 }),
  Type.String({ minLength: 1 }),
], { description: `an ICMP${v6 ? 'v6' : ''} type by name (${Object.keys(v6 ? ICMP6_TYPES : ICMP4_TYPES).join(', ')}) or number 0-255, optionally with a code: "TYPE/CODE"` }),
{ minItems: 1, description: `ICMP${v6 ? 'v6' : ''} types (and codes) the rule allows, and only those` });

/** Keys an outbound (`allow`) and an inbound (`allow_in`) rule share. */
const matchKeys = (dir: 'out' | 'in') => ({
  ports: Type.Optional(PortList(dir === 'out'
    ? 'ports the rule allows; left out = any port and protocol'
    : 'the device\'s own (destination) ports the opener may reach; left out = any port and protocol')),
  from_ports: Type.Optional(PortList(dir === 'out'
    ? 'the device\'s own (source) ports the flow may come from'
    : 'the opener\'s (source) ports the flow may come from')),
  icmp: Type.Optional(IcmpList(false)),
  icmpv6: Type.Optional(IcmpList(true)),
  proto: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, description: 'an IP protocol number 0-255, e.g. 2 (IGMP), 6 (TCP), 17 (UDP); alone it allows every flow of that protocol' })),
  comment: Type.Optional(Type.String({ description: 'free text for people' })),
});

export const RuleSchema = Type.Object({
  to: Type.Optional(Type.String({
    minLength: 1,
    description: `destination: ${TARGET_TEXT}; left out = any host`,
  })),
  ...matchKeys('out'),
  service: Type.Optional(Type.Union(SERVICES.map((s) => Type.Literal(s)), {
    description: `a built-in service: ${SERVICES.join(', ')}`,
  })),
}, { additionalProperties: false, description: 'an allow rule: `service`, or `to` and/or `ports`, `from_ports`, `icmp`, `icmpv6`, `proto`' });

export const InRuleSchema = Type.Object({
  from: Type.Optional(Type.String({
    minLength: 1,
    description: `the host opening the flow: ${TARGET_TEXT}; left out = any host`,
  })),
  ...matchKeys('in'),
}, { additionalProperties: false, description: 'an inbound rule: who may open flows to the device: `from` and/or `ports`, `from_ports`, `icmp`, `icmpv6`, `proto`' });

export const LimitsSchema = Type.Object({
  bytes_per_hour: Type.Optional(Size),
  bytes_per_day: Type.Optional(Size),
}, { additionalProperties: false, description: 'byte limits, both directions together' });

export const ProfileSchema = Type.Object({
  description: Type.Optional(Type.String()),
  allow: Type.Array(RuleSchema, { description: 'allow rules; a flow is allowed when any rule allows it' }),
  limits: Type.Optional(LimitsSchema),
  allow_in: Type.Optional(Type.Array(InRuleSchema, { description: 'inbound rules: who may open flows to a device of this profile; left out = flows from inside the site are not judged, flows from the Internet always are' })),
}, { additionalProperties: false, description: 'a device profile: allow rules, inbound rules and limits' });

export const DeviceEntrySchema = Type.Object({
  name: Name('device'),
  profile: Type.String({ pattern: NAME_PATTERN, description: 'profile name (letters, digits, "_", "." or "-", at most 64), or "mud" (judged by the MUD file its MUD URL names) or "learn" (its profile is being learned)' }),
  mac: Type.Optional(Type.String({ description: 'a MAC or MAC glob, e.g. "aa:bb:cc:00:00:01" or "aa:bb:cc:*" (case-insensitive)' })),
  ip: Type.Optional(Type.String({ description: 'an IP or a CIDR' })),
  vendor: Type.Optional(Type.String({ minLength: 1, description: 'a glob on the OUI vendor name, e.g. "TP-LINK*" (case-insensitive)' })),
  hostname: Type.Optional(Type.String({ minLength: 1, description: 'a glob on the DHCP/mDNS host name, e.g. "Chromecast-*" (case-insensitive)' })),
  comment: Type.Optional(Type.String()),
}, { additionalProperties: false, description: 'a device entry: name, profile and at least one of mac, ip, vendor, hostname; all given keys must match' });

/** `90s`, `5m`, `1h`: a whole number with one unit; checked strictly after the schema (parseDuration). */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';
const Duration = (what: string) => Type.String({
  pattern: DURATION_PATTERN,
  description: `${what}. A duration: a whole number with a unit ms, s, m, h or d, e.g. "60s", "5m", "1h"`,
});

const ScanSchema = (kind: string, what: string) => Type.Object({
  threshold: Type.Optional(Type.Integer({ minimum: 1, description: `slow scans: ${kind} fires when connection attempts of one device to this many distinct ${what} failed (no answer, a RST) within the window, at least 1` })),
  window: Type.Optional(Duration(`window of the slow ${kind} rule, and how long a scan lasts after its last flow, packet time`)),
  fast_threshold: Type.Optional(Type.Integer({ minimum: 2, description: `fast scans: ${kind} fires when one device sends SYNs to this many distinct ${what} within fast_window, at least 2` })),
  fast_window: Type.Optional(Duration(`window of the fast ${kind} rule, packet time`)),
}, { additionalProperties: false, description: `${kind}: a slow rule (failed attempts: threshold, window) and a fast one (SYN rate: fast_threshold, fast_window)` });

const SeverityName = Type.Union(SEVERITIES.map((s) => Type.Literal(s)), {
  description: `a severity: ${SEVERITIES.join(', ')}`,
});

export const DetectorsSchema = Type.Object({
  scan_hosts: Type.Optional(ScanSchema('scan.hosts', 'hosts')),
  scan_ports: Type.Optional(ScanSchema('scan.ports', 'ports of one host')),
  anomaly_idle: Type.Optional(Duration('an open anomaly closes when its cause has been quiet this long (packet time in a replay, wall-clock live); repeats until then raise its count; at least 1ms')),
  anomaly_update: Type.Optional(Duration('an open anomaly that changed is written again under its id at most once per this interval; 0s writes every change at the next tick')),
  suppress_window: Type.Optional(Duration('the older name of anomaly_idle; at least 1ms')),
  dns_grace: Type.Optional(Duration('how long a DNS answer still names its address after its TTL ran out; 0s for none')),
  plaintext_ports: Type.Optional(Type.Array(Type.String({
    description: 'a clear-text protocol\'s server port: "23/tcp" or a range "512-514/tcp" (tcp or udp)',
  }), { description: 'server ports reported as protocol.plaintext; replaces the default list ([] turns the detector off)' })),
  critical_ips: Type.Optional(Type.Array(Type.String({ description: 'an IP address' }), {
    description: 'addresses (gateways) whose claim by a second MAC is critical; approved resolvers always are',
  })),
  severity: Type.Optional(Type.Object(
    Object.fromEntries(ANOMALY_KINDS.map((k) => [k, Type.Optional(SeverityName)])),
    { additionalProperties: false, description: 'severity per anomaly kind; kinds left out keep their default' },
  )),
}, { additionalProperties: false, description: 'detector thresholds, windows and severities; everything left out keeps its default' });

export const ExceptionSchema = Type.Object({
  device: Type.Optional(Type.String({ minLength: 1, description: 'a device name or glob ("plugs-*"); left out: every device' })),
  kind: Type.Optional(Type.String({ minLength: 1, description: 'an anomaly kind or glob ("scan.*"); left out: every kind' })),
  peer: Type.Optional(Type.String({ minLength: 1, description: 'the peer\'s address or name, or a glob ("*.tplinkcloud.com"); left out: every peer' })),
  port: Type.Optional(Type.Union([
    Type.Integer({ minimum: 0, maximum: 65535 }),
    Type.String({ pattern: '^[0-9*?]+$' }),
  ], { description: 'the peer port, 0-65535, or a glob of digits ("8*")' })),
  comment: Type.String({ minLength: 1, description: 'why this behaviour is accepted (required)' }),
  until: Type.Optional(Type.String({
    pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$',
    description: 'when it stops applying: a date (2027-01-31, the end of that day, UTC) or a date and time (2027-01-31T18:00:00Z)',
  })),
}, { additionalProperties: false, description: 'an accepted behaviour: matching anomalies are marked suppressed and not alerted' });

export const PolicySchema = Type.Object({
  version: Type.Literal(1, { description: 'policy language version: 1' }),
  segments: Type.Record(Type.String({ pattern: NAME_PATTERN }), Type.Array(Type.String({ description: 'a CIDR or an IP' }), { minItems: 1 }), {
    description: 'named networks: name -> list of CIDRs; the most specific CIDR wins',
    additionalProperties: false,
  }),
  watch: Type.Array(Name('segment'), { minItems: 1, description: 'segments whose devices are watched' }),
  protected: Type.Optional(Type.Array(Name('segment'), { description: 'segments a watched device must not open flows into' })),
  resolvers: Type.Optional(Type.Array(Type.String({ description: 'an IP address' }), { description: 'approved DNS resolvers' })),
  vlan: Type.Optional(Type.Integer({ minimum: 1, maximum: 4094, description: 'an 802.1Q VLAN id, 1-4094' })),
  devices: Type.Optional(Type.Array(DeviceEntrySchema, { description: 'device entries; first match wins' })),
  default_profile: Name('profile'),
  controllers: Type.Optional(Type.Record(Type.String({ pattern: NAME_PATTERN }), Type.Array(Type.String({
    minLength: 1, description: 'an IP, a CIDR, a domain glob or "device:NAME"',
  }), { minItems: 1 }), {
    description: 'named sets of hosts for "controller:NAME" targets: name -> list of IPs, CIDRs, domain globs or "device:NAME"',
    additionalProperties: false,
  })),
  mud: Type.Optional(Type.Object({
    auto: Type.Optional(Type.Boolean({ description: 'true or false: judge every watched device that announces a MUD URL and has no entry of its own by its MUD file' })),
    dir: Type.Optional(Type.String({ minLength: 1, description: 'a local folder of MUD files, for sites that fetch nothing' })),
  }, { additionalProperties: false, description: 'MUD (RFC 8520): devices judged by their manufacturer\'s MUD file' })),
  profiles: Type.Record(Type.String({ pattern: NAME_PATTERN }), ProfileSchema, { description: 'profiles by name', additionalProperties: false }),
  detectors: Type.Optional(DetectorsSchema),
  exceptions: Type.Optional(Type.Array(ExceptionSchema, { description: 'accepted behaviours: matching anomalies are stored and shown, marked suppressed, and not alerted' })),
}, {
  additionalProperties: false,
  $id: 'https://segwatch.invalid/schema/policy.schema.json',
  title: 'segwatch site policy',
  description: 'The allowlist policy of a segwatch site (policies/site.yaml).',
});

export type PolicyDoc = Static<typeof PolicySchema>;
export type RuleDoc = Static<typeof RuleSchema>;
export type InRuleDoc = Static<typeof InRuleSchema>;
export type ProfileDoc = Static<typeof ProfileSchema>;
export type DeviceEntryDoc = Static<typeof DeviceEntrySchema>;
export type DetectorsDoc = Static<typeof DetectorsSchema>;
export type ServiceName = (typeof SERVICES)[number];

/**
 * schema-document.ts: the schema as a plain object literal, which the loader uses, so loading
 * a policy does not import TypeBox (about 0.14 s of a fresh process).
 */
export function schemaDocumentModule(): string {
  return '// Generated from schema.ts by `npm run schema`; do not edit (test/unit/policy/schema.test.ts\n' +
    '// fails when it differs). The policy\'s JSON Schema as a plain object: loading a policy\n' +
    '// then needs no schema library at run time.\n\n' +
    `export const POLICY_SCHEMA: Record<string, unknown> = ${JSON.stringify(PolicySchema, null, 2)};\n`;
}

/** The published JSON Schema document, as written to policies/schema/policy.schema.json. */
export function policyJsonSchema(): string {
  const doc = { $schema: 'http://json-schema.org/draft-07/schema#', ...JSON.parse(JSON.stringify(PolicySchema)) };
  return JSON.stringify(doc, null, 2) + '\n';
}
