// Settings of the InfluxDB sink: defaults, validation (every error, not the
// first), and secrets, which come only from the environment or from files.

import fs from 'node:fs';

export interface RetentionPolicySetting {
  name: string;
  /** InfluxQL duration, e.g. "30d", "52w", "INF". */
  duration: string;
  /** make it the database's default policy (default true). */
  default?: boolean;
}

export interface InfluxSinkSettings {
  /** server and database: http://127.0.0.1:8086/segwatch (the path is the database). */
  url: string;
  username?: string;
  /** InfluxDB 1.x password. Use passwordFile or SEGWATCH_INFLUX_PASSWORD; never a repository file. */
  password?: string;
  passwordFile?: string;
  /** InfluxDB 2.x/3.x token, sent as `Authorization: Token ...` on the v1 API. */
  token?: string;
  tokenFile?: string;
  retentionPolicy?: RetentionPolicySetting;
  /** points per write request (default 5000). */
  batchSize?: number;
  /** a partial batch is written after this long (default 1000 ms). */
  flushIntervalMs?: number;
  /** where undeliverable batches wait; survives restarts. */
  spoolDir: string;
  /** bound on the spool's bytes on disk (default 256 MB). */
  spoolMaxBytes?: number;
  /** per HTTP request (default 10000 ms). */
  timeoutMs?: number;
  /** retry backoff after a failed delivery: doubles from min to max (defaults 500 ms, 30000 ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** cut batches held in memory while one is in flight; more go to the spool (default 4). */
  maxQueuedBatches?: number;
  /** CREATE DATABASE / RETENTION POLICY when missing (default: true without a token;
   * InfluxDB 2.x/3.x map databases with DBRP instead, see README). */
  createDatabase?: boolean;
}

/** Settings with defaults applied and the URL taken apart. */
export interface ResolvedInfluxSettings {
  protocol: 'http' | 'https';
  host: string;
  port: number;
  /** base URL without the database path, e.g. http://127.0.0.1:8086 */
  baseUrl: string;
  database: string;
  username?: string;
  password?: string;
  token?: string;
  retentionPolicy?: Required<RetentionPolicySetting>;
  batchSize: number;
  flushIntervalMs: number;
  spoolDir: string;
  spoolMaxBytes: number;
  timeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  maxQueuedBatches: number;
  createDatabase: boolean;
}

export class InfluxSettingsError extends Error {
  constructor(readonly errors: string[]) {
    super('invalid InfluxDB settings: ' + errors.join('; '));
  }
}

function readSecretFile(file: string, what: string, errors: string[]): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    errors.push(`${what}: cannot read ${file}: ${(err as Error).message}`);
    return undefined;
  }
}

function posInt(v: number | undefined, dflt: number, name: string, errors: string[]): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v <= 0) {
    errors.push(`${name} must be a positive integer, got ${v}`);
    return dflt;
  }
  return v;
}

/** Validates and fills in defaults; throws InfluxSettingsError listing every problem. */
export function resolveInfluxSettings(s: InfluxSinkSettings): ResolvedInfluxSettings {
  const errors: string[] = [];
  let u: URL | null = null;
  try {
    u = new URL(s.url);
  } catch {
    errors.push(`url: not a URL: ${JSON.stringify(s.url)}`);
  }
  let protocol: 'http' | 'https' = 'http';
  let database = '';
  let username = s.username;
  if (u) {
    if (u.protocol !== 'http:' && u.protocol !== 'https:') errors.push(`url: protocol must be http or https, got ${u.protocol}`);
    protocol = u.protocol === 'https:' ? 'https' : 'http';
    database = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
    if (!database) errors.push('url: the path must name the database, e.g. http://127.0.0.1:8086/segwatch');
    if (database.includes('/')) errors.push(`url: database name cannot contain "/": ${database}`);
    if (u.password) errors.push('url: no password in the URL; use SEGWATCH_INFLUX_PASSWORD or a password file');
    if (u.username && !username) username = decodeURIComponent(u.username);
  }
  let password = s.password;
  if (password === undefined && s.passwordFile) password = readSecretFile(s.passwordFile, 'passwordFile', errors);
  let token = s.token;
  if (token === undefined && s.tokenFile) token = readSecretFile(s.tokenFile, 'tokenFile', errors);
  if (token && (username || password)) errors.push('give either a token (InfluxDB 2.x/3.x) or username/password (1.x), not both');
  if (!s.spoolDir) errors.push('spoolDir is required');
  let rp: Required<RetentionPolicySetting> | undefined;
  if (s.retentionPolicy) {
    const { name, duration } = s.retentionPolicy;
    if (!name) errors.push('retentionPolicy.name is empty');
    if (!/^(INF|(\d+(ns|u|µ|ms|s|m|h|d|w))+)$/i.test(duration ?? '')) {
      errors.push(`retentionPolicy.duration: not an InfluxQL duration: ${JSON.stringify(duration)}`);
    }
    rp = { name, duration, default: s.retentionPolicy.default ?? true };
  }
  const r: ResolvedInfluxSettings = {
    protocol,
    host: u ? u.hostname.replace(/^\[|\]$/g, '') : '',
    port: u ? (u.port ? Number(u.port) : protocol === 'https' ? 443 : 8086) : 8086,
    baseUrl: u ? `${u.protocol}//${u.host}` : '',
    database,
    username: username || undefined,
    password,
    token: token || undefined,
    retentionPolicy: rp,
    batchSize: posInt(s.batchSize, 5000, 'batchSize', errors),
    flushIntervalMs: posInt(s.flushIntervalMs, 1000, 'flushIntervalMs', errors),
    spoolDir: s.spoolDir,
    spoolMaxBytes: posInt(s.spoolMaxBytes, 256 * 1024 * 1024, 'spoolMaxBytes', errors),
    timeoutMs: posInt(s.timeoutMs, 10000, 'timeoutMs', errors),
    retryMinMs: posInt(s.retryMinMs, 500, 'retryMinMs', errors),
    retryMaxMs: posInt(s.retryMaxMs, 30000, 'retryMaxMs', errors),
    maxQueuedBatches: posInt(s.maxQueuedBatches, 4, 'maxQueuedBatches', errors),
    createDatabase: s.createDatabase ?? !token,
  };
  if (errors.length) throw new InfluxSettingsError(errors);
  return r;
}

/**
 * Settings from SEGWATCH_INFLUX_* variables layered over `base`:
 * URL, USERNAME, PASSWORD, PASSWORD_FILE, TOKEN, TOKEN_FILE, SPOOL_DIR, SPOOL_MAX_BYTES.
 */
export function influxSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  base: Partial<InfluxSinkSettings> = {},
): Partial<InfluxSinkSettings> {
  const out: Partial<InfluxSinkSettings> = { ...base };
  if (env.SEGWATCH_INFLUX_URL) out.url = env.SEGWATCH_INFLUX_URL;
  if (env.SEGWATCH_INFLUX_USERNAME) out.username = env.SEGWATCH_INFLUX_USERNAME;
  if (env.SEGWATCH_INFLUX_PASSWORD) out.password = env.SEGWATCH_INFLUX_PASSWORD;
  if (env.SEGWATCH_INFLUX_PASSWORD_FILE) out.passwordFile = env.SEGWATCH_INFLUX_PASSWORD_FILE;
  if (env.SEGWATCH_INFLUX_TOKEN) out.token = env.SEGWATCH_INFLUX_TOKEN;
  if (env.SEGWATCH_INFLUX_TOKEN_FILE) out.tokenFile = env.SEGWATCH_INFLUX_TOKEN_FILE;
  if (env.SEGWATCH_INFLUX_SPOOL_DIR) out.spoolDir = env.SEGWATCH_INFLUX_SPOOL_DIR;
  if (env.SEGWATCH_INFLUX_SPOOL_MAX_BYTES) out.spoolMaxBytes = Number(env.SEGWATCH_INFLUX_SPOOL_MAX_BYTES);
  return out;
}
