// For the MUD fetch tests: a throwaway PKI made with the openssl CLI (a MUD signing CA and its
// signer, a rogue CA and signer, a TLS certificate for localhost) and a loopback HTTPS server
// that serves MUD files and their detached CMS signatures, counting requests per path.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface Pki {
  dir: string;
  /** PEM of the CA that signs MUD signers: the trust anchor */
  caFile: string;
  /** PEM of the TLS certificate (localhost, 127.0.0.1) */
  tlsCert: string;
  tlsKey: string;
  /** detached CMS signature (DER) of `content` by the trusted signer, or the rogue one */
  sign(content: Buffer, rogue?: boolean): Buffer;
  cleanup(): void;
}

const ossl = (dir: string, args: string[], input?: Buffer) => execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const who of ['ca', 'rogue-ca']) {
    ossl(dir, ['req', '-x509', ...ec, '-keyout', `${who}.key`, '-out', `${who}.pem`, '-subj', `/CN=segwatch test ${who}`, '-days', '30',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  writeFileSync(join(dir, 'signer.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  for (const [who, ca] of [['signer', 'ca'], ['rogue-signer', 'rogue-ca']]) {
    ossl(dir, ['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=segwatch test ${who}`]);
    ossl(dir, ['x509', '-req', '-in', `${who}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${who}.pem`, '-days', '30', '-extfile', 'signer.ext']);
  }
  ossl(dir, ['req', '-x509', ...ec, '-keyout', 'tls.key', '-out', 'tls.pem', '-subj', '/CN=localhost', '-days', '30',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    tlsCert: readFileSync(join(dir, 'tls.pem'), 'utf8'),
    tlsKey: readFileSync(join(dir, 'tls.key'), 'utf8'),
    sign(content, rogue = false) {
      const who = rogue ? 'rogue-signer' : 'signer';
      writeFileSync(join(dir, 'content.bin'), content);
      ossl(dir, ['cms', '-sign', '-in', 'content.bin', '-signer', `${who}.pem`, '-inkey', `${who}.key`, '-binary', '-outform', 'DER', '-out', 'sig.der']);
      return readFileSync(join(dir, 'sig.der'));
    },
    cleanup() { rmSync(dir, { recursive: true, force: true }); },
  };
}

export interface Route { status?: number; body?: Buffer | string; headers?: Record<string, string>; hang?: boolean }

export interface MudServer {
  port: number;
  /** https://localhost:PORT */
  base: string;
  routes: Map<string, Route>;
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startMudServer(pki: Pki): Promise<MudServer> {
  const routes = new Map<string, Route>();
  const hits = new Map<string, number>();
  const server: Server = createServer({ key: pki.tlsKey, cert: pki.tlsCert }, (req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const r = routes.get(path);
    if (!r) { res.writeHead(404).end(); return; }
    if (r.hang) return; // never answers: the client's deadline must end it
    res.writeHead(r.status ?? 200, r.headers ?? {});
    res.end(r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port, base: `https://localhost:${port}`, routes, hits,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A small valid MUD file whose mud-url is `url`. */
export function mudFile(url: string, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    'ietf-mud:mud': {
      'mud-version': 1, 'mud-url': url, 'last-update': '2026-01-01T00:00:00Z', 'cache-validity': 48, 'is-supported': true,
      systeminfo: 'segwatch test bulb', ...extra,
      'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'fr' }] } },
      'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'to' }] } },
    },
    'ietf-access-control-list:acls': { acl: [
      { name: 'fr', type: 'ipv4-acl-type', aces: { ace: [{ name: 'cloud', matches: { ipv4: { 'ietf-acldns:dst-dnsname': 'cloud.bulb.example', protocol: 6 }, tcp: { 'ietf-mud:direction-initiated': 'from-device', 'destination-port': { operator: 'eq', port: 443 } } }, actions: { forwarding: 'accept' } }] } },
      { name: 'to', type: 'ipv4-acl-type', aces: { ace: [{ name: 'cloud-back', matches: { ipv4: { 'ietf-acldns:src-dnsname': 'cloud.bulb.example', protocol: 6 }, tcp: { 'ietf-mud:direction-initiated': 'from-device', 'source-port': { operator: 'eq', port: 443 } } }, actions: { forwarding: 'accept' } }] } },
    ] },
  }, null, 2));
}
