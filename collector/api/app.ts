// The API as a Fastify instance that does not listen (server.ts does): the error handler,
// then the external plugins (security headers, rate limit, OpenAPI and its docs page), then
// the open routes (/health, the docs), then the token-guarded ones.
//
// Hook order on a guarded route: helmet's headers, the rate limit, the bearer token, the admin
// check, and only then the body and the query: a flood of wrong tokens is limited like any
// other, and nothing unauthenticated is parsed.

import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifySchemaValidationError, type onRequestHookHandler } from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Log } from '../types.js';
import { createAuth } from './auth.js';
import type { CollectorFacade } from './facade.js';
import { createMetrics } from './metrics.js';
import { healthRoutes, metricsRoutes, v1Routes } from './routes.js';

/** requests per client address per minute, unless told otherwise. */
export const DEFAULT_RATE_LIMIT = 600;
/** bytes of a policy text sent to /api/v1/policy/validate, unless told otherwise. */
export const DEFAULT_POLICY_BODY_LIMIT = 1024 * 1024;
/** bytes of any other body: no other route takes one. */
const BODY_LIMIT = 4096;

export const DOCS_PREFIX = '/api/docs';
export const OPENAPI_PATH = '/api/v1/openapi.json';

export interface AppOptions {
  /** the bearer token every route but /health and the docs requires. */
  token: string;
  /** the token of the routes that change anything (it opens the read routes too); none: they answer 403. */
  adminToken?: string;
  /** Fastify's own request logging (pino to stdout); off by default. */
  logger?: boolean;
  /** where 5xx causes are reported, since the client is told nothing of them. */
  log?: Log;
  /** requests per client address per window (default 600 a minute); false: no limit. */
  rateLimit?: { max: number; windowMs?: number } | false;
  /** bytes of a policy text to validate, default 1 MiB. */
  policyBodyLimit?: number;
  /** serve HTTPS with this certificate chain and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export function buildApp(facade: CollectorFacade, opts: AppOptions): FastifyInstance {
  if (typeof opts.token !== 'string' || opts.token.length === 0) {
    throw new Error('buildApp: a non-empty API token is required');
  }
  const auth = createAuth(opts.token, opts.adminToken);
  const policyBodyLimit = opts.policyBodyLimit ?? DEFAULT_POLICY_BODY_LIMIT;
  const base = {
    logger: opts.logger ?? false,
    // a small cap turns a large upload into a quick 413; the policy route raises its own
    bodyLimit: BODY_LIMIT,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    // a misspelt parameter (?severty=high) is refused, not dropped to answer everything
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array' as const, useDefaults: true, allErrors: false } },
    // "querystring/foo: must NOT have additional properties" names the parameter at fault
    schemaErrorFormatter: (errors: FastifySchemaValidationError[], dataVar: string) => {
      const e = errors[0];
      const extra = (e?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
      const where = `${dataVar}${e?.instancePath ?? ''}${extra !== undefined ? `/${extra}` : ''}`;
      return new Error(`${where}: ${e?.message ?? 'is not valid'}${extra !== undefined ? ' (unknown parameter)' : ''}`);
    },
  };
  const app = (opts.tls ? Fastify({ ...base, https: { cert: opts.tls.cert, key: opts.tls.key } }) : Fastify(base)) as unknown as FastifyInstance;
  const metrics = createMetrics(facade);

  // The one error handler: 4xx keep their message (the client's mistake), 5xx are
  // reported to the log and answered with nothing a client could learn from.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600
      ? err.statusCode : 500;
    if (status >= 500) {
      opts.log?.error({ err, method: req.method, url: req.url }, 'api: request failed');
      req.log.error({ err }, 'request failed');
      return reply.code(status).send({
        statusCode: status, error: STATUS_CODES[status] ?? 'Internal Server Error', message: 'internal error',
      });
    }
    return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message: err.message });
  });
  app.setNotFoundHandler((_req, reply) => {
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'not found' });
  });

  app.register(helmet, {
    // over plain HTTP, upgrading the docs page's requests to HTTPS would break it, and HSTS means nothing
    contentSecurityPolicy: opts.tls ? true : { directives: { upgradeInsecureRequests: null } },
    hsts: opts.tls ? { maxAge: 15_552_000 } : false,
  });
  if (opts.rateLimit !== false) {
    const rl = opts.rateLimit ?? { max: DEFAULT_RATE_LIMIT };
    app.register(rateLimit, { global: true, max: rl.max, timeWindow: rl.windowMs ?? 60_000 });
  }
  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'segwatch API',
        version: '1',
        description: 'The collector\'s devices, anomalies, flows and policy. Every route but /health and these docs needs '
          + '`Authorization: Bearer <token>`; the routes that change anything need the admin token.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });
  app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // no call to the public validator service: the page must work on an isolated network
    uiConfig: { validatorUrl: null, docExpansion: 'list', deepLinking: false },
  });

  app.register(healthRoutes);
  // The document lists routes and shapes, nothing about the network: it is open like the docs page.
  app.register(async (open) => {
    open.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
  });
  app.register(async (secured) => {
    // Route-level hooks (added per route) run after the rate limiter's, which is also route-level
    // and was added first; instance-level hooks would run before it.
    secured.addHook('onRoute', (route) => {
      const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      const guards: onRequestHookHandler[] = [auth.authenticate as onRequestHookHandler];
      if (route.config?.admin === true) guards.push(auth.requireAdmin as onRequestHookHandler);
      // the rate limiter's hook first, then the guards, then any the route brought
      const limiter = own.filter((h) => !guards.includes(h as onRequestHookHandler));
      route.onRequest = [...limiter, ...guards];
    });
    await secured.register(v1Routes, { prefix: '/api/v1', facade, policyBodyLimit });
    await secured.register(metricsRoutes, { metrics });
  });
  return app;
}
