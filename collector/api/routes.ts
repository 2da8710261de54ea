// The API's routes as Fastify plugins. Each reads the read-only collector facade
// and declares its request and response schemas.

import type { FastifyPluginAsync } from 'fastify';
import type { CollectorFacade } from './facade.js';
import type { Metrics } from './metrics.js';
import {
  anomaliesQuerySchema, anomaliesResponseSchema, DEFAULT_ANOMALY_LIMIT, devicesResponseSchema,
  errorResponses, healthResponseSchema, metricsResponseSchema, statsResponseSchema,
} from './schemas.js';

/** Liveness only: answers without a token, so it says nothing about the network. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', {
    schema: { response: { 200: healthResponseSchema, ...errorResponses } },
  }, async () => ({ status: 'ok' as const }));
};

export const v1Routes: FastifyPluginAsync<{ facade: CollectorFacade }> = async (app, { facade }) => {
  app.get('/devices', {
    schema: { response: { 200: devicesResponseSchema, ...errorResponses } },
  }, async () => {
    const devices = facade.devices();
    return { count: devices.length, devices };
  });

  app.get<{ Querystring: { limit?: number } }>('/anomalies', {
    schema: { querystring: anomaliesQuerySchema, response: { 200: anomaliesResponseSchema, ...errorResponses } },
  }, async (req) => {
    const limit = req.query.limit ?? DEFAULT_ANOMALY_LIMIT;
    // The facade is trusted to honour limit, but a longer answer must not slip through.
    const anomalies = facade.recentAnomalies(limit).slice(0, limit);
    return { count: anomalies.length, anomalies };
  });

  app.get('/stats', {
    schema: { response: { 200: statsResponseSchema, ...errorResponses } },
  }, async () => {
    const c = facade.counters();
    return { ...c, uptimeSeconds: Math.max(0, (Date.now() - c.startedAt) / 1000) };
  });
};

export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', {
    schema: { response: { 200: metricsResponseSchema, ...errorResponses } },
  }, async (_req, reply) => {
    const text = await metrics.scrape();
    reply.type(metrics.contentType);
    return text;
  });
};
