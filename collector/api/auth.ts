// Bearer-token check for the API: an onRequest hook, so an unauthenticated
// request is refused before its query or body is even looked at.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const REALM = 'Bearer realm="segwatch"';

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

/** An onRequest hook that lets through only `Authorization: Bearer <token>`. */
export function bearerAuth(token: string) {
  if (token.length === 0) throw new Error('bearerAuth: empty token');
  const expected = digest(token);
  return async function checkBearer(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header) : null;
    if (m !== null && tokenMatches(m[1], expected)) return undefined;
    // RFC 6750 §3: say which scheme is wanted; name invalid_token only when one was offered.
    return reply
      .code(401)
      .header('www-authenticate', m === null ? REALM : `${REALM}, error="invalid_token"`)
      .send({ statusCode: 401, error: 'Unauthorized', message: 'a valid bearer token is required' });
  };
}
