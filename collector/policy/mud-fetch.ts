// Fetching MUD files safely: a device chooses its MUD URL, so fetching must not become a way
// to make segwatch reach inside the network or fetch from anywhere. HTTPS only, trusted hosts
// only, public addresses only (checked once and connected to: no DNS rebinding), bounded in time
// and size; the detached CMS signature is verified before the file is used; files are cached in
// the state directory. loadMudProfile is what the rest of segwatch calls.

import { request, type RequestOptions } from 'node:https';
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { createHash, webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { parseMud, MudError, type MudImport } from './mud.js';

export const DEFAULT_TRUST_ANCHORS = '/etc/ssl/certs/ca-certificates.crt';
/** bytes; the largest real MUD file seen (Chromecast's) is 70 KB */
export const DEFAULT_MAX_BYTES = 256 * 1024;
/** ms for the whole of one request: connect, TLS, headers and body */
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_REDIRECTS = 3;

export interface MudFetchOptions {
  /** hosts a MUD URL (and its signature URL, and any redirect) may name; exact names, case-insensitive */
  trustedHosts: readonly string[];
  /** the state directory: fetched files and signatures are cached in `<stateDir>/mud/` */
  stateDir?: string;
  /**
   * a local folder of MUD files for sites that fetch nothing: the file for a URL is named by the
   * URL's last path segment (`https://x.example/v1/lightbulb2000` -> `lightbulb2000` or
   * `lightbulb2000.json`). The person who put it there vouches for it: no signature is needed.
   */
  dir?: string;
  /** PEM bundle of the certificates a MUD signature must chain to; default the system CA store */
  trustAnchors?: string;
  /**
   * the trust anchors already parsed (readTrustAnchors): a long-running caller parses the bundle
   * once, since the system store's ~140 certificates take about a second; wins over trustAnchors
   */
  anchors?: pkijs.Certificate[];
  timeoutMs?: number;
  maxBytes?: number;
  /** clock, ms since the epoch (cache freshness, certificate validity) */
  now?: () => number;
  /**
   * Tests only: let loopback addresses through (a test's HTTPS server) and trust `ca` for TLS.
   * Production never sets it; the CLI sets allowLoopback only from SEGWATCH_TEST_MUD_ALLOW_LOOPBACK=1.
   */
  testOnly?: { allowLoopback?: boolean; ca?: string | Buffer };
}

export class MudFetchError extends Error { override name = 'MudFetchError'; }

// Everything not on the public Internet: a MUD URL naming any of it is refused.
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 32], ['2001:2::', 48], ['2001:10::', 28],
  ['2001:20::', 28], ['2001:db8::', 32], ['3fff::', 20], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(net, bits, 'ipv6');
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** IPv4 inside an IPv6 address that routes to it (mapped, NAT64, 6to4), or null. */
function embeddedV4(ip: string): string | null {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip) ?? /^64:ff9b::(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m) return m[1];
  const b = ipv6Bytes(ip);
  if (!b) return null;
  const at = (o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  if (b[0] === 0 && b.slice(1, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return at(12);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) return at(12);
  if (b[0] === 0x20 && b[1] === 0x02) return at(2);
  return null;
}

function ipv6Bytes(ip: string): number[] | null {
  if (isIP(ip) !== 6) return null;
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) { const p = v4[1].split('.').map(Number); s = s.slice(0, -v4[1].length) + `${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`; }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; });
}

/**
 * Why `ip` may not be fetched from (loopback, private, link-local, CGNAT, multicast, unspecified,
 * documentation, reserved), or null when it is a public address.
 */
export function refusedAddress(ip: string, allowLoopback = false): string | null {
  const fam = isIP(ip);
  if (fam === 0) return `${ip} is not an IP address`;
  const type = fam === 4 ? 'ipv4' : 'ipv6';
  if (allowLoopback && loopback.check(ip, type)) return null;
  if (blocked.check(ip, type)) return `${ip} is not a public address (loopback, private, link-local, CGNAT, multicast, documentation or reserved)`;
  const v4 = fam === 6 ? embeddedV4(ip) : null;
  if (v4 && v4 !== '0.0.0.0') return refusedAddress(v4, allowLoopback) ? `${ip} embeds ${v4}, which is not a public address` : null;
  return null;
}

/** The URL, checked: https and a trusted host, or a MudFetchError saying why not. */
export function checkMudUrl(url: string, trustedHosts: readonly string[]): URL {
  let u: URL;
  try { u = new URL(url); } catch { throw new MudFetchError(`${JSON.stringify(url)} is not a URL`); }
  if (u.protocol !== 'https:') throw new MudFetchError(`${url}: only https:// MUD URLs are fetched`);
  if (u.username || u.password) throw new MudFetchError(`${url}: a URL with credentials is refused`);
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!trustedHosts.some((h) => h.toLowerCase() === host)) {
    throw new MudFetchError(`${url}: host ${host} is not in mud.trusted_hosts (${trustedHosts.length ? trustedHosts.join(', ') : 'empty'})`);
  }
  return u;
}

/** A `lookup` for the request that resolves once, refuses any non-public answer and hands back what it checked. */
function checkedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, cb) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addrs) => {
      if (err) return cb(err, '', 0);
      const bad = addrs.map((a) => refusedAddress(a.address, allowLoopback)).find((r) => r !== null);
      if (bad || addrs.length === 0) {
        const e = new MudFetchError(`${hostname}: ${bad ?? 'no address'}`) as NodeJS.ErrnoException;
        e.code = 'EMUDREFUSED';
        return cb(e, '', 0);
      }
      if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: typeof addrs) => void)(null, addrs);
      else cb(null, addrs[0].address, addrs[0].family);
    });
  };
}

/** GET over HTTPS with every check; follows at most MAX_REDIRECTS redirects, each checked again. */
export async function fetchChecked(url: string, opts: MudFetchOptions): Promise<Buffer> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const allowLoopback = opts.testOnly?.allowLoopback === true;
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const u = checkMudUrl(current, opts.trustedHosts);
    const literal = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal)) {
      // Node connects to an address literal without asking `lookup`, so it is checked here
      const r = refusedAddress(literal, allowLoopback);
      if (r) throw new MudFetchError(`${current}: ${r}`);
    }
    const reqOpts: RequestOptions = {
      // agent: false: a pooled socket would skip `lookup`, and with it the address check
      method: 'GET', lookup: checkedLookup(allowLoopback), timeout, agent: false,
      headers: { accept: 'application/mud+json, application/pkcs7-signature, */*;q=0.1', 'user-agent': 'segwatch-mud' },
      ...(opts.testOnly?.ca ? { ca: opts.testOnly.ca } : {}),
    };
    const res = await new Promise<{ status: number; location?: string; body: Buffer }>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(e instanceof MudFetchError ? e : new MudFetchError(`${current}: ${e.message}`));
      };
      const done = (v: { status: number; location?: string; body: Buffer }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const req = request(u, reqOpts, (r) => {
        const status = r.statusCode ?? 0;
        if (status >= 300 && status < 400) { r.resume(); done({ status, location: r.headers.location, body: Buffer.alloc(0) }); return; }
        const len = Number(r.headers['content-length']);
        if (Number.isFinite(len) && len > max) return fail(new MudFetchError(`${current}: ${len} bytes, more than the ${max} bytes a MUD file may have`));
        const chunks: Buffer[] = [];
        let n = 0;
        r.on('data', (c: Buffer) => {
          n += c.length;
          if (n > max) fail(new MudFetchError(`${current}: more than the ${max} bytes a MUD file may have`));
          else chunks.push(c);
        });
        r.on('end', () => done({ status, body: Buffer.concat(chunks) }));
        r.on('error', fail);
        r.on('aborted', () => fail(new MudFetchError(`${current}: the answer was cut off`)));
      });
      // a deadline for the whole request, not only for an idle socket
      const timer = setTimeout(() => fail(new MudFetchError(`${current}: no complete answer within ${timeout} ms`)), timeout);
      req.on('timeout', () => fail(new MudFetchError(`${current}: no answer within ${timeout} ms`)));
      req.on('error', fail);
      req.end();
    });
    if (res.status >= 300 && res.status < 400) {
      if (!res.location) throw new MudFetchError(`${current}: redirect (${res.status}) without a Location`);
      current = new URL(res.location, current).toString();
      continue;
    }
    if (res.status !== 200) throw new MudFetchError(`${current}: HTTP ${res.status}`);
    return res.body;
  }
  throw new MudFetchError(`${url}: more than ${MAX_REDIRECTS} redirects`);
}

/** RFC 8520 section 13.2: the signature's URL is the MUD URL's with ".json" replaced by ".p7s" when the file names none. */
export function signatureUrl(mudUrl: string, named?: string): string {
  if (named) return new URL(named, mudUrl).toString();
  return /\.json$/i.test(mudUrl) ? mudUrl.replace(/\.json$/i, '.p7s') : `${mudUrl}.p7s`;
}

/** Certificates of a PEM bundle; ones that do not parse are skipped (a system store holds odd ones). */
export function parsePemCertificates(pem: string): pkijs.Certificate[] {
  const out: pkijs.Certificate[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    try {
      const der = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
      out.push(pkijs.Certificate.fromBER(der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength)));
    } catch { /* not a certificate pkijs reads: it cannot anchor anything */ }
  }
  return out;
}

const ab = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/**
 * Verify a detached CMS SignedData signature (DER, or PEM "-----BEGIN PKCS7-----") over exactly
 * `content`, its signer chaining to one of `anchors`. Throws MudFetchError saying why not.
 */
export async function verifyMudSignature(content: Buffer, signature: Buffer, anchors: pkijs.Certificate[], when: Date): Promise<void> {
  let der = signature;
  const pem = /-----BEGIN (?:PKCS7|CMS)-----([\s\S]*?)-----END (?:PKCS7|CMS)-----/.exec(signature.toString('latin1'));
  if (pem) der = Buffer.from(pem[1].replace(/\s+/g, ''), 'base64');
  let signed: pkijs.SignedData;
  try {
    const ci = pkijs.ContentInfo.fromBER(ab(der));
    if (ci.contentType !== pkijs.ContentInfo.SIGNED_DATA) throw new Error(`content type ${ci.contentType} is not signed-data`);
    signed = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    throw new MudFetchError(`the signature is not CMS SignedData: ${(err as Error).message}`);
  }
  if (signed.signerInfos.length === 0) throw new MudFetchError('the signature has no signer');
  const crypto = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });
  let r: pkijs.SignedDataVerifyResult;
  try {
    r = await signed.verify({ signer: 0, data: ab(content), trustedCerts: anchors, checkChain: true, checkDate: when, extendedMode: true }, crypto);
  } catch (err) {
    const e = err as { message?: string; signatureVerified?: boolean | null; signerCertificateVerified?: boolean | null };
    if (e.signatureVerified === false || /digest doesn't match|signature.*(invalid|failed)/i.test(e.message ?? '')) throw new MudFetchError('the signature does not match the file (tampered, or signed over other bytes)');
    throw new MudFetchError(`the signature is not trusted: ${e.message ?? String(err)}`);
  }
  if (!r.signatureVerified) throw new MudFetchError('the signature does not match the file (tampered, or signed over other bytes)');
  if (!r.signerCertificateVerified) throw new MudFetchError(`the signer does not chain to a trust anchor: ${r.message}`);
}

/** The certificates of a PEM bundle (default the system store), for MudFetchOptions.anchors. */
export async function readTrustAnchors(file: string = DEFAULT_TRUST_ANCHORS): Promise<pkijs.Certificate[]> {
  return readAnchors({ trustedHosts: [], trustAnchors: file });
}

async function readAnchors(opts: MudFetchOptions): Promise<pkijs.Certificate[]> {
  if (opts.anchors?.length) return opts.anchors;
  const file = opts.trustAnchors ?? DEFAULT_TRUST_ANCHORS;
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (err) { throw new MudFetchError(`trust anchors ${file}: cannot read: ${(err as Error).message}`); }
  const certs = parsePemCertificates(text);
  if (certs.length === 0) throw new MudFetchError(`trust anchors ${file}: no certificate in it`);
  return certs;
}

interface CacheMeta { url: string; signatureUrl: string; fetchedAt: number; cacheValidityHours: number }

/** A fetched MUD file: its exact bytes and their parse. */
export interface FetchedMud { bytes: Buffer; mud: MudImport; source: 'dir' | 'cache' | 'network' }

/**
 * The MUD file a URL names: from `dir` when it holds it, else from the cache when fresh, else
 * fetched; a cached or fetched file is used only when its signature verifies.
 */
export async function fetchMud(url: string, opts: MudFetchOptions): Promise<FetchedMud> {
  const now = opts.now ?? Date.now;
  if (opts.dir) {
    let path: string;
    try { path = new URL(url).pathname; } catch { throw new MudFetchError(`${JSON.stringify(url)} is not a URL`); }
    const seg = basename(path) || 'index';
    for (const name of [seg, `${seg}.json`]) {
      let bytes: Buffer;
      try { bytes = await readFile(join(opts.dir, name)); } catch { continue; }
      return { bytes, mud: parseOrFail(url, bytes), source: 'dir' };
    }
  }
  checkMudUrl(url, opts.trustedHosts);
  const anchors = await readAnchors(opts);
  const cacheDir = opts.stateDir ? join(opts.stateDir, 'mud') : undefined;
  const key = createHash('sha256').update(url).digest('hex').slice(0, 32);
  if (cacheDir) {
    try {
      const meta = JSON.parse(await readFile(join(cacheDir, `${key}.meta.json`), 'utf8')) as CacheMeta;
      if (meta.url === url && now() - meta.fetchedAt < meta.cacheValidityHours * 3600_000) {
        const bytes = await readFile(join(cacheDir, `${key}.json`));
        const sig = await readFile(join(cacheDir, `${key}.p7s`));
        // checked again: a file changed on disk, or an anchor since removed, must not pass
        await verifyMudSignature(bytes, sig, anchors, new Date(now()));
        return { bytes, mud: parseOrFail(url, bytes), source: 'cache' };
      }
    } catch (err) {
      if (err instanceof MudFetchError) throw err;
      /* no usable cache entry: fetch */
    }
  }
  const bytes = await fetchChecked(url, opts);
  const mud = parseOrFail(url, bytes);
  if (mud.mudUrl !== url) throw new MudFetchError(`${url}: the file's mud-url is ${JSON.stringify(mud.mudUrl)}, not the URL it was fetched from`);
  const sigUrl = signatureUrl(url, mud.signatureUrl);
  const sig = await fetchChecked(sigUrl, opts);
  try {
    await verifyMudSignature(bytes, sig, anchors, new Date(now()));
  } catch (err) {
    throw new MudFetchError(`${url}: not used: ${(err as Error).message} (signature ${sigUrl})`);
  }
  if (cacheDir) {
    await mkdir(cacheDir, { recursive: true, mode: 0o750 });
    const meta: CacheMeta = { url, signatureUrl: sigUrl, fetchedAt: now(), cacheValidityHours: mud.cacheValidityHours };
    // file and signature first, the meta that vouches for them last, each renamed into place
    for (const [name, data] of [[`${key}.json`, bytes], [`${key}.p7s`, sig], [`${key}.meta.json`, Buffer.from(JSON.stringify(meta))]] as const) {
      await writeFile(join(cacheDir, `${name}.tmp`), data);
      await rename(join(cacheDir, `${name}.tmp`), join(cacheDir, name));
    }
  }
  return { bytes, mud, source: 'network' };
}

function parseOrFail(url: string, bytes: Buffer): MudImport {
  try {
    return parseMud(bytes.toString('utf8'));
  } catch (err) {
    if (err instanceof MudError) throw new MudFetchError(`${url}: ${err.message}`);
    throw err;
  }
}

/**
 * A device's MUD profile by its MUD URL, for judging it at run time (`profile: mud`): the
 * import of the file fetchMud returns. The caller fills the controllers the policy defines.
 */
export async function loadMudProfile(url: string, opts: MudFetchOptions): Promise<MudImport> {
  return (await fetchMud(url, opts)).mud;
}
