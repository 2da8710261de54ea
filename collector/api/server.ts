// Runs the API: checks the token, parses the listen address, listens, and closes.
// Everything the routes do lives in app.ts, which tests drive without a socket.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { silentLog, type Log } from '../types.js';
import { buildApp } from './app.js';
import type { CollectorFacade } from './facade.js';

/** A shorter token can be guessed; 16 characters is the floor, 32 random ones advised. */
export const MIN_TOKEN_LENGTH = 16;

export interface ApiOptions {
  /** "host:port": "127.0.0.1:9808", "[::1]:9808", "localhost:9808"; port 0 picks a free one. */
  listen: string;
  token: string | undefined;
  /** the admin token (reload, acknowledge); undefined: those routes answer 403. */
  adminToken?: string;
  facade: CollectorFacade;
  log?: Log;
  /** PEM files: serve HTTPS. Both or neither. */
  tlsCert?: string;
  tlsKey?: string;
  /** requests per client address per minute; 0 turns the limit off. Default DEFAULT_RATE_LIMIT. */
  rateLimit?: number;
  /** bytes of a policy text to validate; default 1 MiB. */
  maxBodyBytes?: number;
}

export interface RunningApi {
  /** what the server is bound to, e.g. "127.0.0.1:41234" or "[::1]:9808". */
  address: string;
  /** "http://" or "https://" and the address */
  url: string;
  close(): Promise<void>;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "host:port" with an IPv6 host in brackets. Throws with the reason. */
export function parseListen(listen: string): ListenAddress {
  const s = listen.trim();
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') throw new Error(`listen address "${listen}": expected "[IPv6]:port"`);
    host = s.slice(1, end);
    portText = s.slice(end + 2);
    if (isIP(host) !== 6) throw new Error(`listen address "${listen}": "${host}" is not an IPv6 address`);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon <= 0) throw new Error(`listen address "${listen}": expected "host:port", e.g. "127.0.0.1:9808"`);
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) throw new Error(`listen address "${listen}": put an IPv6 address in brackets, e.g. "[::1]:9808"`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`listen address "${listen}": port must be 0..65535`);
  }
  return { host, port: Number(portText) };
}

/** true for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopback(h.slice(7));
  return false;
}

/**
 * The API token from SEGWATCH_API_TOKEN or the file named by SEGWATCH_API_TOKEN_FILE
 * (trailing newline dropped); undefined when neither is set. Never from the repository.
 */
export function apiTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SEGWATCH_API_TOKEN) return env.SEGWATCH_API_TOKEN;
  const file = env.SEGWATCH_API_TOKEN_FILE;
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return undefined;
}

/**
 * The admin token from SEGWATCH_API_ADMIN_TOKEN or the file named by
 * SEGWATCH_API_ADMIN_TOKEN_FILE; undefined when neither is set (then no route changes anything).
 */
export function apiAdminTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SEGWATCH_API_ADMIN_TOKEN) return env.SEGWATCH_API_ADMIN_TOKEN;
  const file = env.SEGWATCH_API_ADMIN_TOKEN_FILE;
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return undefined;
}

function checkToken(token: string | undefined, what = 'API token', vars = 'SEGWATCH_API_TOKEN or SEGWATCH_API_TOKEN_FILE'): string {
  if (token === undefined || token === '') {
    throw new Error(`the API needs a token: set ${vars} (there is no default)`);
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`the ${what} is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
  }
  if (/[\s\x00-\x1f\x7f]/.test(token)) {
    throw new Error(`the ${what} contains whitespace or control characters, which a Bearer header cannot carry`);
  }
  return token;
}

/** The admin token when one is given: as strong as the read token, and not the same. */
export function checkAdminToken(admin: string | undefined, read: string): string | undefined {
  if (admin === undefined) return undefined;
  checkToken(admin, 'API admin token', 'SEGWATCH_API_ADMIN_TOKEN or SEGWATCH_API_ADMIN_TOKEN_FILE');
  if (admin === read) throw new Error('the API admin token must differ from the read token (SEGWATCH_API_TOKEN)');
  return admin;
}

export async function startApi(opts: ApiOptions): Promise<RunningApi> {
  const log = opts.log ?? silentLog;
  const token = checkToken(opts.token);
  const adminToken = checkAdminToken(opts.adminToken, token);
  const { host, port } = parseListen(opts.listen);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new Error('API TLS needs both a certificate and a key file (api_tls_cert and api_tls_key)');
  }
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (opts.tlsCert !== undefined && opts.tlsKey !== undefined) {
    try {
      tls = { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) };
    } catch (err) {
      throw new Error(`API TLS: cannot read the certificate or key: ${(err as Error).message}`, { cause: err });
    }
  }
  let app: FastifyInstance;
  try {
    app = buildApp(opts.facade, {
      token, adminToken, log, tls,
      rateLimit: opts.rateLimit === 0 ? false : opts.rateLimit === undefined ? undefined : { max: opts.rateLimit },
      policyBodyLimit: opts.maxBodyBytes,
    });
  } catch (err) {
    // a key that does not match its certificate, or PEM that is not one
    throw new Error(`API cannot start: ${(err as Error).message}`, { cause: err });
  }
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new Error(`API cannot listen on ${opts.listen}: ${(err as Error).message}`, { cause: err });
  }
  const bound = app.server.address();
  const address = bound !== null && typeof bound === 'object'
    ? (bound.address.includes(':') ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`)
    : opts.listen;
  if (!isLoopback(host)) {
    log.warn({ listen: address }, 'api: listening on a non-loopback address; anyone who can reach it and holds the token can read the inventory');
  }
  log.info({ listen: address, tls: tls !== undefined, admin: adminToken !== undefined }, 'api: listening');
  let closing: Promise<void> | null = null;
  return {
    address,
    url: `${tls ? 'https' : 'http'}://${address}`,
    close() {
      closing ??= app.close().then(() => log.info({ listen: address }, 'api: closed'));
      return closing;
    },
  };
}
