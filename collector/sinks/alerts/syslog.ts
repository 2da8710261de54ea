// The syslog channel: RFC 5424 over UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS
// (RFC 5425: server certificate verified against the system or the given CA, host name
// checked). One connection reused; dropped on any error or close and made again at the next send.

import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { BaseChannel } from './base-channel.js';
import { DeliveryError, type Alert, type ChannelContext } from './channel.js';
import type { ChannelConfig } from './config.js';
import { formatSyslog, octetFrame } from './syslog-format.js';
import { readTlsFiles } from './tls-files.js';

export class SyslogChannel extends BaseChannel {
  readonly #proto: 'udp' | 'tcp' | 'tls';
  readonly #host: string;
  readonly #port: number;
  #stream: net.Socket | undefined;
  #udp: dgram.Socket | undefined;

  constructor(cfg: ChannelConfig, ctx: ChannelContext) {
    super(cfg, ctx);
    const u = new URL(cfg.url);
    this.#proto = u.protocol.slice(0, -1) as 'udp' | 'tcp' | 'tls';
    this.#host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = u.port ? Number(u.port) : this.#proto === 'tls' ? 6514 : 514;
  }

  /**
   * Resolves when the message was handed to the kernel (UDP: sent; TCP/TLS: written and
   * flushed to the socket). Syslog has no application acknowledgement: a message written just
   * before the server dies can be lost, a limit of the protocol the outbox cannot see.
   */
  protected async deliver(alert: Alert): Promise<void> {
    const msg = formatSyslog(alert, {
      facility: this.cfg.facility ?? 16, hostname: this.cfg.hostname ?? this.ctx.hostname,
      appName: this.cfg.appName ?? 'segwatch', procId: String(process.pid), time: this.ctx.clock(),
    });
    if (this.#proto === 'udp') return await this.#sendUdp(Buffer.from(msg, 'utf8'));
    const sock = await this.#connect();
    await this.#bounded('write', new Promise<void>((resolve, reject) => {
      sock.write(octetFrame(msg), (err) => (err ? reject(err) : resolve()));
    }), () => sock.destroy());
  }

  async #sendUdp(buf: Buffer): Promise<void> {
    if (!this.#udp) {
      const s = dgram.createSocket(net.isIPv6(this.#host) ? 'udp6' : 'udp4');
      s.on('error', () => { s.close(); if (this.#udp === s) this.#udp = undefined; });
      s.unref();
      this.#udp = s;
    }
    const s = this.#udp;
    await this.#bounded('send', new Promise<void>((resolve, reject) => {
      s.send(buf, this.#port, this.#host, (err) => (err ? reject(err) : resolve()));
    }), () => undefined);
  }

  async #connect(): Promise<net.Socket> {
    if (this.#stream && !this.#stream.destroyed) return this.#stream;
    const files = this.#proto === 'tls' ? readTlsFiles(this.cfg) : {};
    const sock = this.#proto === 'tls'
      ? tls.connect({
        host: this.#host, port: this.#port, ...files, rejectUnauthorized: true,
        ...(net.isIP(this.#host) ? {} : { servername: this.#host }),
      })
      : net.connect({ host: this.#host, port: this.#port });
    const drop = () => { if (this.#stream === sock) this.#stream = undefined; sock.destroy(); };
    sock.setKeepAlive(true, 30_000);
    // a server that closes (restart, idle timeout) ends our connection too; the next send reconnects
    sock.on('end', drop);
    sock.on('close', drop);
    const ready = new Promise<void>((resolve, reject) => {
      sock.once(this.#proto === 'tls' ? 'secureConnect' : 'connect', resolve);
      sock.once('error', reject);
    });
    sock.on('error', drop);
    // the server sends nothing in syslog; reading keeps 'end' observable
    sock.resume();
    await this.#bounded('connect', ready, () => sock.destroy());
    this.#stream = sock;
    return sock;
  }

  async #bounded(what: string, p: Promise<void>, onTimeout: () => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([p, new Promise<never>((_, reject) => {
        timer = setTimeout(() => { onTimeout(); reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })); }, this.cfg.timeoutMs);
      })]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (err instanceof DeliveryError) throw err;
      // a certificate the server presents that does not verify will not verify on retry either
      const tlsBad = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code);
      throw new DeliveryError(`${this}: ${what} failed (${code})`, { retryable: !tlsBad, code: tlsBad ? 'tls_verify' : code === 'ETIMEDOUT' ? 'timeout' : 'connect' });
    } finally {
      clearTimeout(timer);
    }
  }

  protected override async release(): Promise<void> {
    const s = this.#stream;
    this.#stream = undefined;
    if (s && !s.destroyed) await new Promise<void>((resolve) => { s.end(() => resolve()); setTimeout(resolve, 1000).unref(); }).finally(() => s.destroy());
    this.#udp?.close();
    this.#udp = undefined;
  }
}
