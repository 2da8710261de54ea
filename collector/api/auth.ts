// Bearer-token checks for the API: onRequest hooks, so an unauthenticated request is
// refused before its query or body is even looked at. Two tokens: the read token opens the
// read routes, the admin token opens those too and the routes that change anything.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const REALM = 'Bearer realm="segwatch"';

export type Role = 'read' | 'admin';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Compares SHA-256 digests rather than the tokens themselves: timingSafeEqual needs
 * equal-length buffers, and comparing lengths first would leak the token's length.
 */
export function tokenMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

export interface Auth {
  /** onRequest: 401 unless `Authorization: Bearer <read or admin token>`; notes the role. */
  authenticate(req: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  /** onRequest after authenticate: 403 unless the admin token was given. */
  requireAdmin(req: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

/**
 * The hooks of one API instance. `admin` undefined: no admin token is configured, so every
 * admin route answers 403. The two tokens must differ (a read token must not open admin routes).
 */
export function createAuth(read: string, admin?: string): Auth {
  if (read.length === 0) throw new Error('createAuth: empty read token');
  if (admin !== undefined && admin.length === 0) throw new Error('createAuth: empty admin token');
  if (admin !== undefined && admin === read) throw new Error('the admin token must differ from the read token');
  const readDigest = digest(read);
  const adminDigest = admin === undefined ? null : digest(admin);
  // per instance, not per module: two apps in one process never see each other's requests
  const roles = new WeakMap<FastifyRequest, Role>();
  return {
    async authenticate(req, reply) {
      const header = req.headers.authorization;
      const m = typeof header === 'string' ? /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header) : null;
      if (m !== null) {
        // both compared every time, so the answer's timing does not tell which one matched
        const isRead = tokenMatches(m[1], readDigest);
        const isAdmin = adminDigest !== null && tokenMatches(m[1], adminDigest);
        if (isAdmin) { roles.set(req, 'admin'); return undefined; }
        if (isRead) { roles.set(req, 'read'); return undefined; }
      }
      // RFC 6750 §3: say which scheme is wanted; name invalid_token only when one was offered.
      return reply
        .code(401)
        .header('www-authenticate', m === null ? REALM : `${REALM}, error="invalid_token"`)
        .send({ statusCode: 401, error: 'Unauthorized', message: 'a valid bearer token is required' });
    },
    async requireAdmin(req, reply) {
      if (roles.get(req) === 'admin') return undefined;
      return reply
        .code(403)
        .header('www-authenticate', `${REALM}, error="insufficient_scope"`)
        .send({
          statusCode: 403, error: 'Forbidden',
          message: adminDigest === null
            ? 'this route needs the admin token, and none is configured (SEGWATCH_API_ADMIN_TOKEN or SEGWATCH_API_ADMIN_TOKEN_FILE)'
            : 'this route needs the admin token; the read token is not enough',
        });
    },
  };
}
