// The API as a Fastify instance that does not listen (server.ts does): error
// handling first, then the open /health, then the token-guarded routes.

import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Log } from '../types.js';
import { bearerAuth } from './auth.js';
import type { CollectorFacade } from './facade.js';
import { createMetrics } from './metrics.js';
import { healthRoutes, metricsRoutes, v1Routes } from './routes.js';

export interface AppOptions {
  /** the bearer token every route but /health requires. */
  token: string;
  /** Fastify's own request logging (pino to stdout); off by default. */
  logger?: boolean;
  /** where 5xx causes are reported, since the client is told nothing of them. */
  log?: Log;
}

export function buildApp(facade: CollectorFacade, opts: AppOptions): FastifyInstance {
  if (typeof opts.token !== 'string' || opts.token.length === 0) {
    throw new Error('buildApp: a non-empty API token is required');
  }
  const app = Fastify({
    logger: opts.logger ?? false,
    // No route takes a body; a small cap turns a large upload into a quick 413.
    bodyLimit: 4096,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  });
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

  app.register(healthRoutes);
  app.register(async (secured) => {
    secured.addHook('onRequest', bearerAuth(opts.token));
    await secured.register(v1Routes, { prefix: '/api/v1', facade });
    await secured.register(metricsRoutes, { metrics });
  });
  return app;
}
