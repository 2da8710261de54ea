// The channel every HTTP format shares (webhook, Slack, Discord, Teams, ntfy): one POST with
// Node's fetch, acknowledged by a 2xx; 429 and 5xx retryable with the receiver's Retry-After.

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

  constructor(cfg: ChannelConfig, opts: HttpChannelOptions, format: HttpFormat, ctx: ChannelContext) {
    super(cfg, ctx, opts.url);
    this.#url = new URL(opts.url);
    this.#opts = opts;
    this.#format = format;
  }

  protected async deliver(alert: Alert): Promise<void> {
    const p = this.#format(alert, this.#url);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': `segwatch/${this.ctx.version}`,
      'Idempotency-Key': alert.key,
      ...p.headers,
    };
    if (this.#opts.bearer) headers.Authorization = `Bearer ${this.#opts.bearer}`;
    else if (this.#opts.basic) headers.Authorization = `Basic ${Buffer.from(`${this.#opts.basic.user}:${this.#opts.basic.pass}`).toString('base64')}`;
    let res: Response;
    try {
      // redirects are not followed: a webhook that moved is a configuration to fix, and a
      // redirect could carry the Authorization header to another host
      res = await fetch(p.url ?? this.#url, {
        method: 'POST', headers, body: JSON.stringify(p.body), redirect: 'manual',
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const timeout = e.name === 'TimeoutError' || e.name === 'AbortError';
      const code = timeout ? 'timeout' : e.cause?.code ?? 'connect';
      throw new DeliveryError(`${this}: ${timeout ? `no answer within ${this.cfg.timeoutMs} ms` : `cannot connect (${code})`}`, { retryable: true, code: timeout ? 'timeout' : 'connect' });
    }
    // read the body so the connection can be reused; its text is not logged (it may echo the alert)
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return;
    const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
    const after = retryAfterMs(res.headers.get('retry-after'), this.ctx.clock());
    throw new DeliveryError(`${this}: HTTP ${res.status}${retryable ? '' : ' (not retried: fix the channel\'s configuration)'}`, {
      retryable, code: `http_${res.status}`, ...(retryable && after !== undefined ? { retryAfterMs: after } : {}),
    });
  }
}
