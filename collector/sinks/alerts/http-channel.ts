// The channel every HTTP format shares (webhook, Slack, Discord, Teams, ntfy): one POST with
// node:http(s), acknowledged by a 2xx; 429 and 5xx retryable with the receiver's Retry-After.

import http from 'node:http';
import https from 'node:https';
import { BaseChannel } from './base-channel.js';
import { DeliveryError, type Alert, type ChannelContext } from './channel.js';
import type { ChannelConfig } from './config.js';

/** What a format makes of an alert: a JSON body and the headers it needs besides the common ones. */
export interface HttpPayload {
  body: unknown;
  headers?: Record<string, string>;
  /** replaces the configured URL (ntfy's JSON publishing goes to the server's root). */
  url?: string;
}

export type HttpFormat = (alert: Alert, url: URL) => HttpPayload;

export interface HttpChannelOptions {
  /** the receiver's URL: the config's, or the whole webhook URL from the _TOKEN secret. */
  url: string;
  /** sent as `Authorization: Bearer` (webhook, ntfy). */
  bearer?: string;
  /** sent as HTTP Basic (ntfy with a user). */
  basic?: { user: string; pass: string };
}

/** Retry-After: seconds or an HTTP date, as ms from now; undefined when absent or unreadable. */
export function retryAfterMs(v: string | null, now: number): number | undefined {
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export class HttpChannel extends BaseChannel {
  readonly #url: URL;
  readonly #opts: HttpChannelOptions;
  readonly #format: HttpFormat;
  #http: http.Agent | undefined;
  #https: https.Agent | undefined;

  constructor(cfg: ChannelConfig, opts: HttpChannelOptions, format: HttpFormat, ctx: ChannelContext) {
    super(cfg, ctx, opts.url);
    this.#url = new URL(opts.url);
    this.#opts = opts;
    this.#format = format;
  }

  protected async deliver(alert: Alert): Promise<void> {
    const p = this.#format(alert, this.#url);
    const body = Buffer.from(JSON.stringify(p.body));
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
      'User-Agent': `segwatch/${this.ctx.version}`,
      'Idempotency-Key': alert.key,
      ...p.headers,
    };
    if (this.#opts.bearer) headers.Authorization = `Bearer ${this.#opts.bearer}`;
    else if (this.#opts.basic) headers.Authorization = `Basic ${Buffer.from(`${this.#opts.basic.user}:${this.#opts.basic.pass}`).toString('base64')}`;
    const target = p.url ? new URL(p.url) : this.#url;
    let res: { status: number; retryAfter: string | null };
    try {
      res = await this.#post(target, headers, body);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const timeout = e.name === 'TimeoutError';
      throw new DeliveryError(`${this}: ${timeout ? `no answer within ${this.cfg.timeoutMs} ms` : `cannot connect (${e.code ?? 'connect'})`}`, { retryable: true, code: timeout ? 'timeout' : 'connect' });
    }
    if (res.status >= 200 && res.status < 300) return;
    const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
    const after = retryAfterMs(res.retryAfter, this.ctx.clock());
    throw new DeliveryError(`${this}: HTTP ${res.status}${retryable ? '' : ' (not retried: fix the channel\'s configuration)'}`, {
      retryable, code: `http_${res.status}`, ...(retryable && after !== undefined ? { retryAfterMs: after } : {}),
    });
  }

  /**
   * One POST through node:http(s) with this channel's keep-alive agent. Not fetch: Node loads
   * undici at the first fetch, about 0.17 s of start-up for a collector's first alert. Redirects
   * are not followed (node:http never does): a webhook that moved is a configuration to fix,
   * and a redirect could carry the Authorization header to another host. The response body is
   * read and dropped, unlogged (it may echo the alert), so the connection can be reused.
   */
  #post(target: URL, headers: Record<string, string | number>, body: Buffer): Promise<{ status: number; retryAfter: string | null }> {
    const tls = target.protocol === 'https:';
    const agent = tls ? (this.#https ??= new https.Agent({ keepAlive: true, maxSockets: 1 })) : (this.#http ??= new http.Agent({ keepAlive: true, maxSockets: 1 }));
    return new Promise((resolve, reject) => {
      const req = (tls ? https : http).request(target, { method: 'POST', headers, agent }, (res) => {
        res.resume();
        res.once('end', () => {
          const ra = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: typeof ra === 'string' ? ra : null });
        });
        res.once('error', reject);
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), this.cfg.timeoutMs);
      req.once('error', reject);
      req.once('close', () => clearTimeout(timer));
      req.end(body);
    });
  }

  protected override async release(): Promise<void> {
    this.#http?.destroy();
    this.#https?.destroy();
  }
}
