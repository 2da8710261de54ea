// What every channel has alike: its name and config, how it shows itself (never a secret),
// and refusing sends once closed.

import { DeliveryError, type Alert, type Channel, type ChannelContext } from './channel.js';
import type { ChannelConfig } from './config.js';
import { redactUrl } from './redact.js';

export abstract class BaseChannel implements Channel {
  readonly name: string;
  readonly type: string;
  // private fields with getters: a channel logged or serialised shows no URL (a secret for some types)
  readonly #cfg: ChannelConfig;
  readonly #ctx: ChannelContext;
  readonly #shown: string;
  #closed = false;

  /** @param url the receiver's URL when it is not the config's (a webhook URL from the _TOKEN secret). */
  constructor(cfg: ChannelConfig, ctx: ChannelContext, url = cfg.url) {
    this.name = cfg.name;
    this.type = cfg.type;
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.#shown = redactUrl(url);
  }

  protected get cfg(): ChannelConfig {
    return this.#cfg;
  }

  protected get ctx(): ChannelContext {
    return this.#ctx;
  }

  toString(): string {
    return `${this.type} ${this.name} -> ${this.#shown}`;
  }

  async send(alert: Alert): Promise<void> {
    if (this.#closed) throw new DeliveryError(`${this}: closed`, { retryable: false, code: 'closed' });
    await this.deliver(alert);
  }

  /** resolves once the receiver acknowledged; rejects with a DeliveryError. */
  protected abstract deliver(alert: Alert): Promise<void>;

  async close(): Promise<void> {
    this.#closed = true;
    await this.release();
  }

  /** closes connections; the default has none. */
  protected async release(): Promise<void> {}
}
