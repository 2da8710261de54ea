// The MQTT channel (mqtt.js): MQTT 3.1.1 or 5, mqtt:// or mqtts:// (server certificate
// verified, optional client certificate), QoS 1. One client, kept while it works; a send
// publishes only while connected and resolves on the broker's PUBACK. On any failure the client
// is dropped and the next send connects afresh, so mqtt.js never queues or resends a message on
// its own (a second, hidden outbox that would resend what the real one retries).

import type { MqttClient } from 'mqtt';
import { BaseChannel } from './base-channel.js';
import { DeliveryError, type Alert, type ChannelContext } from './channel.js';
import type { ChannelConfig } from './config.js';
import { discoveryPublications, eventPayload } from './mqtt-format.js';
import { readTlsFiles } from './tls-files.js';

/** CONNACK codes that retrying cannot fix: bad credentials, not authorised, banned (3.1.1 and 5). */
const FATAL_CONNACK = new Set([4, 5, 0x84, 0x85, 0x86, 0x87, 0x8a, 0x8c]);

export class MqttChannel extends BaseChannel {
  readonly #password: string | undefined;
  #client: MqttClient | undefined;
  #lastError: (Error & { code?: string | number }) | undefined;
  /** devices whose discovery config went out on this connection (cleared at each connect). */
  readonly #announced = new Set<string>();

  constructor(cfg: ChannelConfig, password: string | undefined, ctx: ChannelContext) {
    super(cfg, ctx);
    this.#password = password;
  }

  #start(mqtt: typeof import('mqtt').default): MqttClient {
    const u = new URL(this.cfg.url);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const client = mqtt.connect({
      protocol: u.protocol === 'mqtts:' ? 'mqtts' : 'mqtt',
      host,
      port: u.port ? Number(u.port) : u.protocol === 'mqtts:' ? 8883 : 1883,
      protocolVersion: this.cfg.protocolVersion ?? 4,
      clientId: this.cfg.clientId ?? `segwatch-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: true,
      connectTimeout: this.cfg.timeoutMs,
      reconnectPeriod: 2000,
      ...(this.cfg.username ? { username: this.cfg.username } : {}),
      ...(this.#password ? { password: this.#password } : {}),
      ...(u.protocol === 'mqtts:' ? { ...readTlsFiles(this.cfg), rejectUnauthorized: true, servername: host } : {}),
    });
    client.on('connect', () => { this.#lastError = undefined; this.#announced.clear(); });
    client.on('error', (err) => {
      this.#lastError = err as Error & { code?: string | number };
      this.ctx.log.debug({ channel: this.name, code: this.#lastError.code }, 'mqtt channel: connection error');
    });
    return client;
  }

  async #connected(): Promise<MqttClient> {
    // mqtt.js is loaded by the first send: a collector without an MQTT channel never pays for it
    this.#client ??= this.#start((await import('mqtt')).default);
    const c = this.#client;
    if (c.connected) return c;
    let timer: NodeJS.Timeout | undefined;
    let onConnect: (() => void) | undefined;
    let onError: (() => void) | undefined;
    // an error (refused, bad login, bad certificate) answers at once: no need to wait the timeout
    const ok = await new Promise<boolean>((resolve) => {
      onConnect = () => resolve(true);
      onError = () => resolve(false);
      c.once('connect', onConnect);
      c.once('error', onError);
      timer = setTimeout(() => resolve(false), this.cfg.timeoutMs);
    });
    clearTimeout(timer);
    if (onConnect) c.removeListener('connect', onConnect);
    if (onError) c.removeListener('error', onError);
    if (ok) return c;
    this.#drop(c);
    const code = this.#lastError?.code;
    const auth = typeof code === 'number' && FATAL_CONNACK.has(code);
    // a broker certificate that does not verify will not verify on retry either
    const tlsBad = typeof code === 'string' && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code);
    throw new DeliveryError(`${this}: not connected${code !== undefined ? ` (${code})` : ''}${auth ? ': the broker refused the login' : ''}`, {
      retryable: !auth && !tlsBad, code: auth ? 'auth' : tlsBad ? 'tls_verify' : 'connect',
    });
  }

  async #publish(c: MqttClient, topic: string, payload: string, retain: boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.publishAsync(topic, payload, { qos: 1, retain }),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Object.assign(new Error('no PUBACK'), { code: 'timeout' })), this.cfg.timeoutMs); }),
      ]);
    } catch (err) {
      // mqtt.js would resend this publish after a reconnect, behind the outbox's back (which
      // retries it too): dropping the client drops its in-memory store with it
      this.#drop(c);
      const e = err as Error & { code?: string | number };
      // MQTT 5 PUBACK reason codes >= 0x80 reject: quota exceeded (0x97) passes, the rest do not
      const rc = typeof e.code === 'number' ? e.code : undefined;
      throw new DeliveryError(`${this}: publish to ${topic} failed (${e.code ?? e.message})`, {
        retryable: rc === undefined || rc === 0x97 || rc === 0x80, code: rc === undefined ? String(e.code ?? 'publish') : `puback_${rc}`,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  protected async deliver(alert: Alert): Promise<void> {
    const c = await this.#connected();
    if (this.cfg.discovery) {
      const d = discoveryPublications(alert, this.cfg.discoveryPrefix ?? 'homeassistant', this.ctx.version);
      if (d) {
        if (!this.#announced.has(d.config.topic)) {
          await this.#publish(c, d.config.topic, d.config.payload, true);
          this.#announced.add(d.config.topic);
        }
        await this.#publish(c, d.state.topic, d.state.payload, true);
      }
    }
    await this.#publish(c, this.cfg.topic!, eventPayload(alert), false);
  }

  #drop(c: MqttClient): void {
    if (this.#client === c) this.#client = undefined;
    c.end(true);
  }

  protected override async release(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    if (c) await Promise.race([c.endAsync(true), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
