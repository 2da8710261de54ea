// JSON Schemas of the API's requests and responses: one place, so the routes,
// the serializer and any OpenAPI export agree on the shapes (types.ts Device, Anomaly).

import { ANOMALY_KINDS, SEVERITIES } from '../types.js';

/** What every 4xx/5xx body looks like; 5xx bodies carry no detail (see app.ts). */
export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  additionalProperties: false,
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

/** Error responses every authenticated route can give. */
export const errorResponses = {
  '4xx': errorSchema,
  '5xx': errorSchema,
} as const;

export const deviceSchema = {
  type: 'object',
  required: ['id', 'name', 'mac', 'ips', 'vendor', 'hostname', 'profile', 'segment', 'firstSeen', 'lastSeen', 'known'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', description: 'MAC when known, else IP' },
    name: { type: 'string' },
    mac: { type: 'string' },
    ips: { type: 'array', items: { type: 'string' } },
    vendor: { type: 'string' },
    hostname: { type: 'string' },
    profile: { type: 'string' },
    segment: { type: 'string' },
    firstSeen: { type: 'number', description: 'ms since epoch' },
    lastSeen: { type: 'number', description: 'ms since epoch' },
    known: { type: 'boolean', description: 'listed in the policy' },
    mudUrl: { type: 'string', description: 'the MUD URL (RFC 8520) the device announced by DHCPv4, DHCPv6 or LLDP; absent when none' },
  },
} as const;

export const anomalySchema = {
  type: 'object',
  required: [
    'id', 'time', 'kind', 'severity', 'device', 'mac', 'ip', 'segment', 'profile', 'peer', 'peerName',
    'peerPort', 'proto', 'bytes', 'packets', 'count', 'firstSeen', 'lastSeen', 'rule', 'message',
    'state', 'closeReason', 'suppressed',
  ],
  additionalProperties: false,
  properties: {
    id: { type: 'string', description: 'stable id: the same in every sink and across restarts' },
    time: { type: 'string', description: 'ISO 8601, first packet' },
    // a detector registered beside the bundled ones may report a kind of its own
    kind: { type: 'string', description: `e.g. ${ANOMALY_KINDS.join(', ')}` },
    severity: { type: 'string', enum: [...SEVERITIES] },
    device: { type: 'string' },
    mac: { type: 'string' },
    ip: { type: 'string' },
    segment: { type: 'string' },
    profile: { type: 'string' },
    peer: { type: 'string' },
    peerName: { type: 'string' },
    peerPort: { type: 'integer' },
    proto: { type: 'string' },
    bytes: { type: 'number' },
    packets: { type: 'number' },
    count: { type: 'integer' },
    firstSeen: { type: 'string' },
    lastSeen: { type: 'string' },
    rule: { type: 'string' },
    message: { type: 'string' },
    state: { type: 'string', enum: ['open', 'closed'] },
    closeReason: { type: 'string', enum: ['', 'idle', 'end', 'allowed', 'capacity', 'cleared'] },
    suppressed: { type: 'boolean' },
  },
} as const;

export const MAX_ANOMALY_LIMIT = 1000;
export const DEFAULT_ANOMALY_LIMIT = 100;

const SEVERITY_LIST = `^(${SEVERITIES.join('|')})(,(${SEVERITIES.join('|')}))*$`;
/** ms since epoch (digits) or an ISO 8601 date-time; the handler parses and range-checks it. */
const timeParam = (what: string) => ({
  type: 'string', minLength: 1, maxLength: 40,
  description: `${what}: ISO 8601 (2026-12-05T21:00:00Z) or ms since epoch`,
}) as const;

export const anomaliesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_ANOMALY_LIMIT, default: DEFAULT_ANOMALY_LIMIT },
    cursor: { type: 'string', minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$', description: 'the `next` of the previous page' },
    from: timeParam('anomalies whose last occurrence is at or after this'),
    to: timeParam('anomalies whose first packet is at or before this'),
    kind: { type: 'string', minLength: 1, maxLength: 400, pattern: '^[a-z0-9_.-]+(,[a-z0-9_.-]+)*$', description: 'one kind or several, comma-separated, e.g. scan.hosts,scan.ports' },
    severity: { type: 'string', maxLength: 60, pattern: SEVERITY_LIST, description: 'one severity or several, comma-separated' },
    min_severity: { type: 'string', enum: [...SEVERITIES], description: 'this severity and the ones above it' },
    device: { type: 'string', minLength: 1, maxLength: 200, description: 'the device name anomalies carry, or its MAC' },
    state: { type: 'string', enum: ['open', 'closed'] },
  },
} as const;

export const anomalyParamsSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export const deviceParamsSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200, description: 'the device id (MAC, or address), its MAC, or its name' } },
} as const;

export const profileSummarySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    bytesPerHour: { type: 'number', description: 'byte limit per rolling hour, when set' },
    bytesPerDay: { type: 'number', description: 'byte limit per day, when set' },
    devices: { type: 'integer', description: 'devices of the inventory placed in this profile' },
  },
} as const;

export const deviceDetailResponseSchema = {
  type: 'object',
  required: ['device', 'profile', 'openAnomalies'],
  additionalProperties: false,
  properties: {
    device: deviceSchema,
    profile: {
      type: 'object',
      required: ['name', 'defined'],
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        defined: { type: 'boolean', description: 'the policy in force defines this profile' },
        bytesPerHour: { type: 'number' },
        bytesPerDay: { type: 'number' },
      },
    },
    openAnomalies: { type: 'array', items: anomalySchema, description: 'newest first' },
  },
} as const;

export const MAX_FLOW_LIMIT = 1000;
export const DEFAULT_FLOW_LIMIT = 100;

export const flowsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_FLOW_LIMIT, default: DEFAULT_FLOW_LIMIT },
    device: { type: 'string', minLength: 1, maxLength: 200, description: 'flows of this device (id, MAC or name): by its MAC and addresses' },
    ip: { type: 'string', minLength: 2, maxLength: 45, description: 'flows with this address at either end' },
    proto: { type: 'string', pattern: '^(tcp|udp|icmp|icmpv6|[0-9]{1,3})$', description: 'tcp, udp, icmp, icmpv6 or a protocol number' },
    port: { type: 'integer', minimum: 0, maximum: 65535, description: 'flows with this port at either end' },
  },
} as const;

export const flowSchema = {
  type: 'object',
  required: ['id', 'start', 'end', 'proto', 'src', 'sport', 'dst', 'dport', 'packets', 'bytes', 'packetsRev', 'bytesRev', 'srcMac', 'dstMac', 'vlan', 'tcpFlags'],
  additionalProperties: false,
  properties: {
    id: { type: 'number' },
    start: { type: 'number', description: 'ms since epoch, first packet' },
    end: { type: 'number', description: 'ms since epoch, last packet so far' },
    proto: { type: 'string', description: 'tcp, udp, icmp, icmpv6, or the protocol number' },
    src: { type: 'string', description: 'the initiator' },
    sport: { type: 'integer' },
    dst: { type: 'string' },
    dport: { type: 'integer' },
    packets: { type: 'number', description: 'initiator to responder' },
    bytes: { type: 'number', description: 'initiator to responder, IP length' },
    packetsRev: { type: 'number' },
    bytesRev: { type: 'number' },
    srcMac: { type: 'string' },
    dstMac: { type: 'string' },
    vlan: { type: 'integer' },
    tcpFlags: { type: 'integer' },
    serverName: { type: 'string', description: 'TLS SNI or HTTP Host, when seen' },
  },
} as const;

export const flowsResponseSchema = {
  type: 'object',
  required: ['count', 'active', 'flows'],
  additionalProperties: false,
  properties: {
    count: { type: 'integer' },
    active: { type: 'integer', description: 'flows in the table now, matching or not' },
    flows: { type: 'array', items: flowSchema },
  },
} as const;

export const policyInfoSchema = {
  type: 'object',
  required: ['file', 'loadedAt', 'sha256', 'bytes', 'profiles'],
  additionalProperties: false,
  properties: {
    file: { type: 'string', description: 'absolute path of the policy file' },
    loadedAt: { type: 'string', description: 'ISO 8601: when the load that put it in force happened' },
    sha256: { type: 'string', description: 'SHA-256 of the file as loaded, hex' },
    bytes: { type: 'integer' },
    vlan: { type: 'integer' },
    profiles: { type: 'array', items: profileSummarySchema },
  },
} as const;

export const policyErrorSchema = {
  type: 'object',
  required: ['line', 'col', 'message', 'path'],
  additionalProperties: false,
  properties: {
    line: { type: 'integer', description: '1-based' },
    col: { type: 'integer', description: '1-based' },
    message: { type: 'string', description: 'what was expected' },
    path: { type: 'string', description: 'dotted path in the document, e.g. profiles.camera.allow.0.to' },
  },
} as const;

export const policyValidateResponseSchema = {
  type: 'object',
  required: ['valid', 'errors'],
  additionalProperties: false,
  properties: {
    valid: { type: 'boolean' },
    errors: { type: 'array', items: policyErrorSchema, description: 'sorted by line and column; empty when valid' },
    profiles: { type: 'array', items: { type: 'string' }, description: 'the profiles a valid policy defines' },
  },
} as const;

export const ackBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['comment'],
  properties: {
    comment: { type: 'string', minLength: 1, maxLength: 500, description: 'why this behaviour is accepted' },
    until: { type: 'string', minLength: 10, maxLength: 40, description: 'when the acceptance ends: a date (2027-01-31) or date-time; default 30 days from now' },
  },
} as const;

export const ackResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['exception', 'reloaded'],
  properties: {
    exception: {
      type: 'object', additionalProperties: false, required: ['comment'],
      properties: { device: { type: 'string' }, kind: { type: 'string' }, peer: { type: 'string' }, port: { type: 'integer' }, comment: { type: 'string' }, until: { type: 'string' } },
      description: 'the entry appended to exceptions.yaml in the state directory',
    },
    reloaded: { type: 'boolean', description: 'the policy with the new exception is in force' },
  },
} as const;

export const policyReloadResponseSchema = {
  type: 'object',
  required: ['reloaded', 'errors'],
  additionalProperties: false,
  properties: {
    reloaded: { type: 'boolean' },
    errors: { type: 'array', items: policyErrorSchema, description: 'why the file was refused; the last good policy stays in force' },
    policy: policyInfoSchema,
  },
} as const;

/** A policy text for validation: YAML, sent as application/yaml, text/yaml or text/plain. */
export const policyTextBodySchema = {
  type: 'string',
  minLength: 1,
  description: 'the policy as YAML text',
} as const;

export const devicesResponseSchema = {
  type: 'object',
  required: ['count', 'devices'],
  additionalProperties: false,
  properties: {
    count: { type: 'integer' },
    devices: { type: 'array', items: deviceSchema },
  },
} as const;

export const anomaliesResponseSchema = {
  type: 'object',
  required: ['count', 'anomalies'],
  additionalProperties: false,
  properties: {
    count: { type: 'integer' },
    anomalies: { type: 'array', items: anomalySchema, description: 'newest first by first packet' },
    next: { type: 'string', description: 'cursor of the next page; absent on the last page' },
  },
} as const;

export const statsResponseSchema = {
  type: 'object',
  required: [
    'startedAt', 'uptimeSeconds', 'source', 'policy', 'packets', 'bytes', 'decodeErrors', 'flows',
    'flowsActive', 'anomalies', 'anomaliesByKind', 'drops', 'spoolBytes',
  ],
  additionalProperties: false,
  properties: {
    startedAt: { type: 'number', description: 'ms since epoch' },
    uptimeSeconds: { type: 'number' },
    source: { type: 'string' },
    policy: { type: 'string' },
    packets: { type: 'number' },
    bytes: { type: 'number' },
    decodeErrors: { type: 'number' },
    flows: { type: 'number' },
    flowsActive: { type: 'number' },
    anomalies: { type: 'number' },
    anomaliesByKind: { type: 'object', additionalProperties: { type: 'number' } },
    drops: { type: 'number' },
    spoolBytes: { type: 'number' },
  },
} as const;

export const healthResponseSchema = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const;

/** Prometheus text exposition; sent as a string with its own content type, so not JSON-serialized. */
export const metricsResponseSchema = {
  description: 'Prometheus text exposition format 0.0.4',
  content: { 'text/plain': { schema: { type: 'string' } } },
} as const;

/** A device learned by `run --learn-for` and what is proposed for it (learn/period.ts Proposal). */
export const proposalSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'id', 'state', 'started', 'ends', 'accepted', 'rules', 'yaml'],
  properties: {
    device: { type: 'string', description: 'the name the proposal gives the device' },
    id: { type: 'string', description: 'the device id (MAC, else address)' },
    state: { type: 'string', enum: ['learning', 'ready'], description: 'learning: its findings are held back; ready: its learned profile is in force' },
    started: { type: 'string', description: 'when learning began (ISO 8601)' },
    ends: { type: 'string', description: 'when learning ends or ended (ISO 8601)' },
    accepted: { type: 'boolean', description: 'ended early through POST /proposals/{device}/accept' },
    rules: { type: 'integer', description: 'rules learned' },
    yaml: { type: 'string', description: 'the device entry and profile to copy into the policy file' },
  },
} as const;

export const proposalsResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['proposals'],
  properties: { proposals: { type: 'array', items: proposalSchema } },
} as const;

export const proposalParamsSchema = {
  type: 'object',
  required: ['device'],
  additionalProperties: false,
  properties: { device: { type: 'string', minLength: 1, maxLength: 200, description: 'the proposal\'s device name or the device id (MAC)' } },
} as const;
