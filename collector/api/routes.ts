// The API's routes as Fastify plugins. Each reads the read-only collector facade
// and declares its request and response schemas (the OpenAPI document is made from them).

import { isIP } from 'node:net';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { loadPolicyText } from '../policy/load.js';
import { untilMs } from '../policy/exceptions.js';
import type { Anomaly, Device, FlowRecord } from '../types.js';
import {
  filterAnomalies, severitiesFrom, type ActiveFlowMatch, type AnomalyFilter, type AnomalyPosition,
  type CollectorFacade, type PolicyInfo,
} from './facade.js';
import type { Metrics } from './metrics.js';
import {
  ackBodySchema, ackResponseSchema, anomaliesQuerySchema, anomaliesResponseSchema, anomalyParamsSchema, anomalySchema, DEFAULT_ANOMALY_LIMIT,
  DEFAULT_FLOW_LIMIT, deviceDetailResponseSchema, deviceParamsSchema, devicesResponseSchema, errorResponses,
  flowsQuerySchema, flowsResponseSchema, healthResponseSchema, MAX_ANOMALY_LIMIT, metricsResponseSchema,
  policyInfoSchema, policyReloadResponseSchema, policyTextBodySchema, policyValidateResponseSchema, statsResponseSchema,
  proposalParamsSchema, proposalSchema, proposalsResponseSchema,
} from './schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route changes something: it needs the admin token (app.ts) */
    admin?: boolean;
  }
}

/** how many anomalies the in-memory fallback reads from the ring (its capacity bounds it anyway) */
const RING_READ = 1_000_000;
/** media types the policy routes take as YAML text */
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const SECURITY_READ = [{ bearerAuth: [] }];

/** A 4xx whose message tells the client what was wrong (the error handler keeps 4xx messages). */
function clientError(statusCode: number, message: string): FastifyError {
  const e = new Error(message) as FastifyError;
  e.statusCode = statusCode;
  return e;
}

/** ms since epoch from digits or an ISO 8601 date (a date alone is midnight UTC). */
export function parseTime(name: string, text: string): number {
  let ms = NaN;
  if (/^\d{1,15}$/.test(text)) ms = Number(text);
  else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(text)) ms = Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw clientError(400, `querystring/${name}: expected ms since epoch or an ISO 8601 date-time such as 2026-12-05T21:00:00Z, got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** Opaque to clients: base64url of [first_ms, id]. */
export function encodeCursor(p: AnomalyPosition): string {
  return Buffer.from(JSON.stringify([p.firstMs, p.id]), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): AnomalyPosition {
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { firstMs: v[0] as number, id: v[1] };
    }
  } catch { /* answered below */ }
  throw clientError(400, 'querystring/cursor: not a cursor this API gave (use the `next` of a previous page unchanged)');
}

/** Liveness only: answers without a token, so it says nothing about the network. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', {
    schema: { summary: 'Liveness; needs no token', tags: ['health'], response: { 200: healthResponseSchema, ...errorResponses } },
  }, async () => ({ status: 'ok' as const }));
};

interface AnomaliesQuery {
  limit?: number; cursor?: string; from?: string; to?: string; kind?: string; severity?: string;
  min_severity?: string; device?: string; state?: 'open' | 'closed';
}

interface FlowsQuery { limit?: number; device?: string; ip?: string; proto?: string; port?: number }

const PROTO_NUMBERS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

export interface V1Options {
  facade: CollectorFacade;
  /** bytes a policy text sent to validate may have (413 beyond) */
  policyBodyLimit: number;
}

export const v1Routes: FastifyPluginAsync<V1Options> = async (app, { facade, policyBodyLimit }) => {
  // YAML bodies only for this plugin's routes; other types keep Fastify's (JSON, text/plain)
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: policyBodyLimit }, (_req, body, done) => done(null, body));

  const anomaliesOf = (f: AnomalyFilter, limit: number, after?: AnomalyPosition) =>
    facade.findAnomalies
      ? facade.findAnomalies(f, limit, after)
      : filterAnomalies(facade.recentAnomalies(RING_READ), f, limit, after);

  const findDevice = (id: string): Device | undefined => {
    const lower = id.toLowerCase();
    const all = facade.devices();
    return all.find((d) => d.id === id || d.id === lower) ?? all.find((d) => d.mac !== '' && d.mac === lower) ?? all.find((d) => d.name === id);
  };

  const policyInfo = (): PolicyInfo | null => facade.policy?.() ?? null;
  const policyOut = (p: PolicyInfo) => {
    const byProfile = new Map<string, number>();
    for (const d of facade.devices()) byProfile.set(d.profile, (byProfile.get(d.profile) ?? 0) + 1);
    return {
      ...p, loadedAt: new Date(p.loadedAt).toISOString(),
      profiles: p.profiles.map((x) => ({ ...x, devices: byProfile.get(x.name) ?? 0 })),
    };
  };

  app.get('/devices', {
    schema: { summary: 'The device inventory', tags: ['inventory'], security: SECURITY_READ, response: { 200: devicesResponseSchema, ...errorResponses } },
  }, async () => {
    const devices = facade.devices();
    return { count: devices.length, devices };
  });

  app.get<{ Params: { id: string } }>('/devices/:id', {
    schema: {
      summary: 'One device: its inventory fields, its profile and its open anomalies', tags: ['inventory'], security: SECURITY_READ,
      params: deviceParamsSchema, response: { 200: deviceDetailResponseSchema, ...errorResponses },
    },
  }, async (req) => {
    const device = findDevice(req.params.id);
    if (!device) throw clientError(404, `no device with id, MAC or name ${JSON.stringify(req.params.id)}`);
    const prof = policyInfo()?.profiles.find((p) => p.name === device.profile);
    const open = anomaliesOf({ device: device.name, state: 'open' }, MAX_ANOMALY_LIMIT).map((r) => r.anomaly);
    return { device, profile: { ...(prof ?? {}), name: device.profile, defined: prof !== undefined }, openAnomalies: open };
  });

  app.get<{ Querystring: AnomaliesQuery }>('/anomalies', {
    schema: {
      summary: 'Anomalies, newest first by first packet, filtered and paged',
      description: 'From the state database (every open anomaly, closed ones for the retention time). '
        + 'Page on with the `next` cursor of the answer, the other parameters unchanged.',
      tags: ['anomalies'], security: SECURITY_READ,
      querystring: anomaliesQuerySchema, response: { 200: anomaliesResponseSchema, ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    const limit = q.limit ?? DEFAULT_ANOMALY_LIMIT;
    const f: AnomalyFilter = {};
    if (q.from !== undefined) f.from = parseTime('from', q.from);
    if (q.to !== undefined) f.to = parseTime('to', q.to);
    if (f.from !== undefined && f.to !== undefined && f.from > f.to) {
      throw clientError(400, `querystring: from (${q.from}) is after to (${q.to})`);
    }
    if (q.kind !== undefined) f.kinds = q.kind.split(',');
    if (q.severity !== undefined || q.min_severity !== undefined) {
      const listed = q.severity?.split(',');
      const above = q.min_severity !== undefined ? severitiesFrom(q.min_severity) : undefined;
      f.severities = listed && above ? listed.filter((s) => above.includes(s)) : (listed ?? above);
      // severity=low&min_severity=high asks for nothing: answer nothing, not everything
      if (f.severities!.length === 0) return { count: 0, anomalies: [] };
    }
    if (q.device !== undefined) f.device = q.device;
    if (q.state !== undefined) f.state = q.state;
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    // one more than asked: tells whether a next page exists without a count query
    const rows = anomaliesOf(f, limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const anomalies: Anomaly[] = page.map((r) => r.anomaly);
    return rows.length > limit && last
      ? { count: anomalies.length, anomalies, next: encodeCursor({ firstMs: last.firstMs, id: last.anomaly.id }) }
      : { count: anomalies.length, anomalies };
  });

  app.get<{ Params: { id: string } }>('/anomalies/:id', {
    schema: {
      summary: 'One anomaly by id', tags: ['anomalies'], security: SECURITY_READ,
      params: anomalyParamsSchema, response: { 200: anomalySchema, ...errorResponses },
    },
  }, async (req) => {
    const id = req.params.id;
    const a = facade.anomaly ? facade.anomaly(id) : facade.recentAnomalies(RING_READ).find((x) => x.id === id);
    if (!a) throw clientError(404, `no anomaly with id ${JSON.stringify(id)} (closed anomalies are kept for the retention time only)`);
    return a;
  });

  app.post<{ Params: { id: string }; Body: { comment: string; until?: string } }>('/anomalies/:id/ack', {
    config: { admin: true },
    schema: {
      summary: 'Accept the behaviour of an anomaly: an exception for its device, kind, peer and port; admin token', tags: ['anomalies'],
      description: 'Appends the exception to exceptions.yaml in the state directory (the policy file is never rewritten) and reloads '
        + 'the policy: the anomaly and its repeats are marked suppressed and not alerted until `until` (default 30 days).',
      security: [{ bearerAuth: [] }], params: anomalyParamsSchema, body: ackBodySchema, response: { 200: ackResponseSchema, ...errorResponses },
    },
  }, async (req) => {
    if (!facade.acknowledge) throw clientError(404, 'acknowledging needs the state directory');
    const { comment, until } = req.body;
    if (until !== undefined && Number.isNaN(untilMs(until))) throw clientError(400, `body/until: expected a date such as 2027-01-31 or a date-time, got ${JSON.stringify(until)}`);
    const r = await facade.acknowledge(req.params.id, comment, until);
    if (!r) throw clientError(404, `no anomaly with id ${JSON.stringify(req.params.id)}`);
    return r;
  });

  app.get('/proposals', {
    schema: {
      summary: 'Devices learned by run --learn-for and the profile proposed for each', tags: ['learning'],
      security: SECURITY_READ, response: { 200: proposalsResponseSchema, ...errorResponses },
    },
  }, async () => {
    if (!facade.proposals) throw clientError(404, 'no devices are learned: start segwatch run with --learn-for DURATION');
    return { proposals: facade.proposals() };
  });

  app.post<{ Params: { device: string } }>('/proposals/:device/accept', {
    config: { admin: true },
    schema: {
      summary: 'End a device\'s learning now: its learned profile is in force, its proposal written to the state directory; admin token', tags: ['learning'],
      security: [{ bearerAuth: [] }], params: proposalParamsSchema, response: { 200: proposalSchema, ...errorResponses },
    },
  }, async (req) => {
    if (!facade.acceptProposal) throw clientError(404, 'no devices are learned: start segwatch run with --learn-for DURATION');
    const p = facade.acceptProposal(req.params.device);
    if (!p) throw clientError(404, `no device ${JSON.stringify(req.params.device)} is learned`);
    return p;
  });

  app.get<{ Querystring: FlowsQuery }>('/flows', {
    schema: {
      summary: 'Active flows of the flow table (packet sources), filtered', tags: ['flows'], security: SECURITY_READ,
      querystring: flowsQuerySchema, response: { 200: flowsResponseSchema, ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    const match: ActiveFlowMatch = {};
    if (q.ip !== undefined) {
      if (isIP(q.ip) === 0) throw clientError(400, `querystring/ip: expected an IPv4 or IPv6 address, got ${JSON.stringify(q.ip)}`);
      match.ips = [q.ip.toLowerCase()];
    }
    if (q.proto !== undefined) {
      const n = PROTO_NUMBERS[q.proto] ?? Number(q.proto);
      if (!Number.isInteger(n) || n > 255) throw clientError(400, `querystring/proto: expected tcp, udp, icmp, icmpv6 or 0..255, got ${JSON.stringify(q.proto)}`);
      match.proto = n;
    }
    if (q.port !== undefined) match.port = q.port;
    if (q.device !== undefined) {
      const d = findDevice(q.device);
      if (!d) throw clientError(404, `no device with id, MAC or name ${JSON.stringify(q.device)}`);
      // a device's frames carry its MAC; one known by address only is matched by its addresses
      if (d.mac !== '') match.macs = [d.mac];
      else match.ips = match.ips ? match.ips.filter((ip) => d.ips.includes(ip)) : d.ips;
    }
    const flows: FlowRecord[] = facade.activeFlows?.(q.limit ?? DEFAULT_FLOW_LIMIT, match) ?? [];
    return {
      count: flows.length, active: facade.counters().flowsActive,
      flows: flows.map((f) => ({ ...f, proto: String(f.proto) })),
    };
  });

  app.get('/policy', {
    schema: {
      summary: 'The policy in force: file, when it was loaded, its hash and profiles', tags: ['policy'], security: SECURITY_READ,
      response: { 200: policyInfoSchema, ...errorResponses },
    },
  }, async () => {
    const p = policyInfo();
    if (!p) throw clientError(404, 'no policy is loaded in this collector');
    return policyOut(p);
  });

  app.post<{ Body: string }>('/policy/validate', {
    bodyLimit: policyBodyLimit,
    schema: {
      summary: 'Validate a policy (YAML text in the body) without loading it',
      description: 'Send the YAML as application/yaml, text/yaml or text/plain. Answers 200 with `valid` and every error '
        + 'with its line and column; the policy in force is not changed.',
      tags: ['policy'], security: SECURITY_READ,
      consumes: [...YAML_TYPES, 'text/plain'],
      body: policyTextBodySchema, response: { 200: policyValidateResponseSchema, ...errorResponses },
    },
  }, async (req) => {
    const r = loadPolicyText(req.body, 'request');
    const errors = r.errors.map(({ line, col, message, path }) => ({ line, col, message, path }));
    return r.policy ? { valid: true, errors, profiles: [...r.policy.profiles()] } : { valid: false, errors };
  });

  app.post('/policy/reload', {
    // app.ts puts the admin check after the token check on routes marked so
    config: { admin: true },
    schema: {
      summary: 'Reload the policy file now (as SIGHUP does); admin token', tags: ['policy'], security: [{ bearerAuth: [] }],
      description: 'Answers 200 when the file is in force, 422 with its errors when it was refused (the last good policy stays).',
      response: { 200: policyReloadResponseSchema, 422: policyReloadResponseSchema, ...errorResponses },
    },
  }, async (_req: FastifyRequest, reply: FastifyReply) => {
    if (!facade.reloadPolicy) throw clientError(404, 'this collector has no policy file to reload');
    const r = await facade.reloadPolicy();
    const out = {
      reloaded: r.reloaded,
      errors: r.errors.map(({ line, col, message, path }) => ({ line, col, message, path })),
      ...(r.policy ? { policy: policyOut(r.policy) } : {}),
    };
    return reply.code(r.reloaded ? 200 : 422).send(out);
  });

  app.get('/stats', {
    schema: { summary: 'Collector counters', tags: ['collector'], security: SECURITY_READ, response: { 200: statsResponseSchema, ...errorResponses } },
  }, async () => {
    const c = facade.counters();
    return { ...c, uptimeSeconds: Math.max(0, (Date.now() - c.startedAt) / 1000) };
  });
};

export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics (text exposition format)', tags: ['collector'], security: SECURITY_READ,
      response: { 200: metricsResponseSchema, ...errorResponses },
    },
  }, async (_req, reply) => {
    const text = await metrics.scrape();
    reply.type(metrics.contentType);
    return text;
  });
};
