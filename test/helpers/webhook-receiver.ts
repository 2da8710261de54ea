// A webhook receiver on loopback for the alert tests: it keeps what it got (the generic
// webhook body), and answers what the test sets: 200, another status (with Retry-After), or
// nothing at all once stopped.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Anomaly } from '../../collector/types.js';

export interface Received { key: string; event: string; anomaly: Anomaly; digest?: { total: number; lines: string[] } }

/** A webhook receiver whose answer the test sets: 200, or a status (with Retry-After), or down. */
export class Receiver {
  readonly all: Received[] = [];
  /** when each request came and what it was answered */
  readonly tries: Array<{ at: number; status: number }> = [];
  status = 200;
  retryAfter: string | null = null;
  refused = 0;
  private server: http.Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        this.tries.push({ at: Date.now(), status: this.status });
        if (this.status !== 200) {
          this.refused++;
          res.writeHead(this.status, this.retryAfter ? { 'retry-after': this.retryAfter } : {});
          res.end('not now');
          return;
        }
        const b = JSON.parse(body) as Received;
        // the generic body carries its key; other formats (Slack, ...) only the header
        if (b.key !== undefined && req.headers['idempotency-key'] !== b.key) throw new Error('Idempotency-Key header and body key differ');
        this.all.push(b);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    this.server = srv;
    this.port = (srv.address() as AddressInfo).port;
  }

  /** A receiver that is down: its port was just free and nothing listens on it until start(port). */
  static async down(): Promise<Receiver> {
    const rx = new Receiver();
    await rx.start();
    await rx.stop();
    return rx;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** keys, each once (what a receiver that drops repeats keeps) */
  unique(): Set<string> {
    return new Set(this.all.map((r) => r.key));
  }
}
