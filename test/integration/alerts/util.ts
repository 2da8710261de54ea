// Shared bits of the alert channel integration tests: temp dirs, free loopback ports,
// bounded waits, certificates made with openssl, and daemons started and stopped by the test.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from '../sinks/influx/util.js';

export { tmpDir, waitFor } from '../sinks/influx/util.js';

/** A port free on 127.0.0.1 (TCP) a moment ago; callers retry when a daemon loses the race. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}


export async function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export interface Certs {
  ca: string;
  caKey: string;
  /** server certificate for DNS:localhost only (so 127.0.0.1 fails the host name check). */
  cert: string;
  key: string;
  /** a second CA that signed nothing here: trusting it must fail verification. */
  otherCa: string;
}

/** A test CA and a server certificate for localhost, made with openssl in `dir` (EC P-256, 2 days). */
export function makeCerts(dir: string): Certs {
  const p = (f: string) => path.join(dir, f);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', timeout: 20_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const [name, cn] of [['ca', 'segwatch test CA'], ['other-ca', 'unrelated CA']]) {
    ossl('req', '-x509', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.pem`), '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  ossl('req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost');
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n');
  ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf'));
  return { ca: p('ca.pem'), caKey: p('ca.key'), cert: p('server.pem'), key: p('server.key'), otherCa: p('other-ca.pem') };
}

export function available(bin: string): boolean {
  try {
    fs.accessSync(bin, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A daemon in the foreground, ready when its TCP ports accept; its output kept for failure messages. */
export class Daemon {
  proc: ChildProcess | undefined;
  stderr = '';
  constructor(readonly bin: string, readonly args: string[], readonly tcpPorts: number[]) {}

  /** starts it and waits (at most 15 s) until every TCP port accepts a connection. */
  async up(): Promise<void> {
    this.start();
    await waitFor(async () => {
      for (const p of this.tcpPorts) if (!(await canConnect(p))) return false;
      return true;
    }, 15_000, `${path.basename(this.bin)} listening (${this.stderr.trim()})`);
  }

  start(): void {
    this.stderr = '';
    const p = spawn(this.bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.proc = p;
  }

  running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running()) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * A daemon on `n` free ports: `make` writes its configuration for them. Tried three times, as
 * a port can be taken between the pick and the daemon's bind.
 */
export async function launch(n: number, make: (ports: number[]) => Daemon): Promise<{ daemon: Daemon; ports: number[] }> {
  for (let attempt = 0; ; attempt++) {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) ports.push(await freePort());
    const daemon = make(ports);
    try {
      await daemon.up();
      return { daemon, ports };
    } catch (err) {
      await daemon.stop();
      if (attempt >= 2) throw err;
    }
  }
}
