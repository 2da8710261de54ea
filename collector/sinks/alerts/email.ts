// The e-mail channel (nodemailer): smtp:// with STARTTLS required (unless `tls: none`, accepted
// for loopback tests only) or smtps:// with implicit TLS; the server certificate is verified
// (the system's CAs or `ca`), the user authenticates when `username` is set. Acknowledged when
// the server accepted the message (250 after DATA).

import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { BaseChannel } from './base-channel.js';
import { DeliveryError, type Alert, type ChannelContext } from './channel.js';
import type { ChannelConfig } from './config.js';
import { mailSubject, mailText, messageId } from './email-format.js';
import { readTlsFiles } from './tls-files.js';

export class EmailChannel extends BaseChannel {
  readonly #password: string | undefined;

  constructor(cfg: ChannelConfig, password: string | undefined, ctx: ChannelContext) {
    super(cfg, ctx);
    this.#password = password;
  }

  #transport(nodemailer: typeof import('nodemailer').default) {
    const u = new URL(this.cfg.url);
    const implicit = u.protocol === 'smtps:';
    const plain = this.cfg.tls === 'none';
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const opts: SMTPTransport.Options = {
      host,
      port: u.port ? Number(u.port) : implicit ? 465 : 587,
      secure: implicit,
      requireTLS: !implicit && !plain,
      ignoreTLS: plain,
      name: this.ctx.hostname,
      connectionTimeout: this.cfg.timeoutMs,
      greetingTimeout: this.cfg.timeoutMs,
      socketTimeout: this.cfg.timeoutMs,
      tls: { rejectUnauthorized: true, servername: host, ...readTlsFiles(this.cfg) },
      ...(this.cfg.username ? { auth: { user: this.cfg.username, pass: this.#password ?? '' } } : {}),
    };
    return nodemailer.createTransport(opts);
  }

  protected async deliver(alert: Alert): Promise<void> {
    // a connection per mail: alerts are rare, and a pooled connection the server dropped
    // while idle would fail the next one for nothing
    // nodemailer is loaded by the first mail: a collector without an e-mail channel never pays for it
    const transport = this.#transport((await import('nodemailer')).default);
    try {
      const info = await transport.sendMail({
        from: this.cfg.from, to: this.cfg.to, subject: mailSubject(alert), text: mailText(alert),
        messageId: messageId(alert.key),
        headers: { 'X-Segwatch-Key': alert.key, 'X-Segwatch-Event': alert.event, 'Auto-Submitted': 'auto-generated' },
      });
      if (info.rejected.length) throw new DeliveryError(`${this}: ${info.rejected.length} recipient(s) refused`, { retryable: false, code: 'smtp_rejected' });
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      throw smtpError(String(this), err as Error & { code?: string; responseCode?: number });
    } finally {
      transport.close();
    }
  }
}

/**
 * SMTP reverses HTTP's sense: 4xx is "try again later" (greylisting, a full queue), 5xx
 * permanent. A failed login or TLS handshake will not mend itself; a connection that fails may.
 */
export function smtpError(where: string, err: Error & { code?: string; responseCode?: number }): DeliveryError {
  const rc = err.responseCode;
  if (err.code === 'EAUTH') return new DeliveryError(`${where}: authentication refused${rc ? ` (${rc})` : ''}: check username and the password variable`, { retryable: false, code: 'auth' });
  if (err.code === 'ETLS' || /certificate|self.signed/i.test(err.message)) return new DeliveryError(`${where}: TLS failed (${err.code ?? 'tls'})`, { retryable: false, code: 'tls' });
  if (rc && rc >= 500) return new DeliveryError(`${where}: refused by the server (${rc})`, { retryable: false, code: `smtp_${rc}` });
  if (rc && rc >= 400) return new DeliveryError(`${where}: deferred by the server (${rc})`, { retryable: true, code: `smtp_${rc}` });
  return new DeliveryError(`${where}: cannot deliver (${err.code ?? 'error'})`, { retryable: true, code: err.code === 'ETIMEDOUT' ? 'timeout' : 'connect' });
}
