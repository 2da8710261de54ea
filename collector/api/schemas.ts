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
    closeReason: { type: 'string', enum: ['', 'idle', 'end', 'allowed', 'capacity'] },
    suppressed: { type: 'boolean' },
  },
} as const;

export const MAX_ANOMALY_LIMIT = 1000;
export const DEFAULT_ANOMALY_LIMIT = 100;

export const anomaliesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_ANOMALY_LIMIT, default: DEFAULT_ANOMALY_LIMIT },
  },
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
    anomalies: { type: 'array', items: anomalySchema, description: 'newest first' },
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
export const metricsResponseSchema = { type: 'string' } as const;
