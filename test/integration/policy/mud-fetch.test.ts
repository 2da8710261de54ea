// Fetching MUD files as production does, against a real HTTPS server on loopback (let through
// only by the test-only setting) with signatures made by the openssl CLI: what is refused
// (http, untrusted hosts, non-public addresses, redirects out, oversize, slow), what verifies
// (good signature; tampered file and untrusted signer refused) and what the cache reuses.

import t from 'tap';
import { mkdtempSync, rmSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchMud, loadMudProfile, refusedAddress, checkMudUrl, readTrustAnchors, type MudFetchOptions } from '../../../collector/policy/mud-fetch.js';
import { have, skipUnless } from '../../helpers/paths.js';
import { makePki, startMudServer, mudFile, type Pki, type MudServer } from './mud-fetch-pki.js';

const skip = skipUnless(have('openssl'), 'needs the openssl CLI');

t.test('MUD fetching', { skip }, async (t) => {
  const pki: Pki = makePki();
  t.teardown(() => pki.cleanup());
  const srv: MudServer = await startMudServer(pki);
  t.teardown(() => srv.close());
  const state = mkdtempSync(join(tmpdir(), 'segwatch-mud-state-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));

  const serve = (path: string, opts: { rogue?: boolean; tamper?: boolean; sigPath?: string } = {}) => {
    const url = `${srv.base}${path}`;
    const body = mudFile(url);
    const sig = pki.sign(body, opts.rogue);
    srv.routes.set(path, { body: opts.tamper ? Buffer.from(body.toString().replace('443', '444')) : body, headers: { 'content-type': 'application/mud+json' } });
    srv.routes.set(opts.sigPath ?? path.replace(/\.json$/, '.p7s'), { body: sig });
    return url;
  };
  const base: MudFetchOptions = {
    trustedHosts: ['localhost'], trustAnchors: pki.caFile, timeoutMs: 2000,
    testOnly: { allowLoopback: true, ca: pki.tlsCert },
  };

  t.test('a good signature: the file is used, then cached and reused', async (t) => {
    const url = serve('/good.json');
    const a = await fetchMud(url, { ...base, stateDir: state });
    t.equal(a.source, 'network');
    t.same(a.mud.profile.allow, [{ to: 'cloud.bulb.example', ports: ['443/tcp'], comment: 'MUD fr/cloud' }]);
    t.ok(readdirSync(join(state, 'mud')).some((f) => f.endsWith('.p7s')), 'file and signature in <state>/mud');
    const b = await fetchMud(url, { ...base, stateDir: state });
    t.equal(b.source, 'cache', 'second load from the cache');
    t.equal(srv.hits.get('/good.json'), 1, 'fetched once');
    // past cache-validity (48 h) it is fetched again
    const c = await fetchMud(url, { ...base, stateDir: state, now: () => Date.now() + 49 * 3600_000 });
    t.equal(c.source, 'network');
    t.equal(srv.hits.get('/good.json'), 2);
    const p = await loadMudProfile(url, { ...base, stateDir: state });
    t.equal(p.profileName, 'good');
    // anchors parsed once by a long-running caller, passed in
    const anchors = await readTrustAnchors(pki.caFile);
    const q = await loadMudProfile(url, { ...base, trustAnchors: '/nonexistent', anchors });
    t.equal(q.profileName, 'good', 'given anchors are used');
  });

  t.test('a cached file changed on disk is refused, not used', async (t) => {
    const st = mkdtempSync(join(tmpdir(), 'segwatch-mud-state-'));
    t.teardown(() => rmSync(st, { recursive: true, force: true }));
    const url = serve('/cached.json');
    await fetchMud(url, { ...base, stateDir: st });
    const f = readdirSync(join(st, 'mud')).find((x) => /^[0-9a-f]+\.json$/.test(x))!;
    writeFileSync(join(st, 'mud', f), readFileSync(join(st, 'mud', f), 'utf8').replace('443', '22'));
    await t.rejects(fetchMud(url, { ...base, stateDir: st }), /does not match the file/);
  });

  t.test('an offline folder: the file by the URL\'s last path segment, nothing fetched', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-dir-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const url = `${srv.base}/v1/offline-bulb`;
    writeFileSync(join(dir, 'offline-bulb.json'), mudFile(url));
    const r = await fetchMud(url, { ...base, trustedHosts: [], dir });
    t.equal(r.source, 'dir');
    t.equal(r.mud.profileName, 'offline-bulb');
    t.equal(srv.hits.get('/v1/offline-bulb'), undefined, 'nothing fetched');
    await t.rejects(fetchMud(`${srv.base}/v1/elsewhere`, { ...base, trustedHosts: [], dir }), /not in mud\.trusted_hosts \(empty\)/, 'not in the folder and no trusted host: refused');
  });

  t.test('mud-signature names the signature URL', async (t) => {
    const path = '/named.json';
    const url = `${srv.base}${path}`;
    const body = mudFile(url, { 'mud-signature': `${srv.base}/sigs/named-sig` });
    srv.routes.set(path, { body });
    srv.routes.set('/sigs/named-sig', { body: pki.sign(body) });
    const r = await fetchMud(url, base);
    t.equal(r.source, 'network');
    t.equal(srv.hits.get('/sigs/named-sig'), 1);
  });

  t.test('a tampered file is not used', async (t) => {
    const url = serve('/tampered.json', { tamper: true });
    await t.rejects(fetchMud(url, { ...base, stateDir: state }), /not used: the signature does not match the file/);
    t.notOk(readdirSync(join(state, 'mud')).some((f) => f.includes('tampered')), 'nothing cached');
  });

  t.test('a signer that does not chain to the trust anchors is refused', async (t) => {
    const url = serve('/rogue.json', { rogue: true });
    await t.rejects(fetchMud(url, base), /not used: the signature is not trusted|does not chain/);
  });

  t.test('the system store (default anchors) does not trust a private CA', async (t) => {
    const url = serve('/system.json');
    await t.rejects(fetchMud(url, { ...base, trustAnchors: undefined }), /not used/);
  });

  t.test('a missing signature: not used', async (t) => {
    const url = `${srv.base}/unsigned.json`;
    srv.routes.set('/unsigned.json', { body: mudFile(url) });
    await t.rejects(fetchMud(url, base), /unsigned\.p7s: HTTP 404/);
  });

  t.test('refused before any request: http, untrusted host, non-public addresses', async (t) => {
    const before = [...srv.hits.values()].reduce((a, b) => a + b, 0);
    await t.rejects(fetchMud(`http://localhost:${srv.port}/good.json`, base), /only https/);
    await t.rejects(fetchMud(`https://evil.example/x.json`, base), /not in mud\.trusted_hosts/);
    await t.rejects(fetchMud(`https://127.0.0.1:${srv.port}/good.json`, { ...base, trustedHosts: ['127.0.0.1'], testOnly: { ca: pki.tlsCert } }), /not a public address/);
    await t.rejects(fetchMud(`https://10.1.2.3/x.json`, { ...base, trustedHosts: ['10.1.2.3'] }), /not a public address/);
    await t.rejects(fetchMud(`https://[fd00::1]/x.json`, { ...base, trustedHosts: ['fd00::1'] }), /not a public address/);
    t.equal([...srv.hits.values()].reduce((a, b) => a + b, 0), before, 'the server saw none of them');
  });

  t.test('by default a name resolving to loopback is refused (no test setting)', async (t) => {
    const url = serve('/loop.json');
    const before = srv.hits.get('/loop.json') ?? 0;
    await t.rejects(fetchMud(url, { ...base, testOnly: { ca: pki.tlsCert } }), /localhost: 127\.0\.0\.1 is not a public address|::1 is not a public address/);
    t.equal(srv.hits.get('/loop.json') ?? 0, before, 'never connected');
  });

  t.test('redirects are followed only where the same checks pass', async (t) => {
    const url = serve('/target.json');
    srv.routes.set('/hop.json', { status: 302, headers: { location: '/target.json' } });
    // the file's mud-url is the target's, so this redirect is refused by that check afterwards
    await t.rejects(fetchMud(`${srv.base}/hop.json`, base), /mud-url is .*target\.json/);
    t.equal(srv.hits.get('/target.json'), 1, 'the redirect itself was followed');
    srv.routes.set('/to-http.json', { status: 301, headers: { location: `http://localhost:${srv.port}/target.json` } });
    await t.rejects(fetchMud(`${srv.base}/to-http.json`, base), /only https/);
    srv.routes.set('/to-other.json', { status: 302, headers: { location: 'https://other.example/target.json' } });
    await t.rejects(fetchMud(`${srv.base}/to-other.json`, base), /other\.example is not in mud\.trusted_hosts/);
    srv.routes.set('/loop1.json', { status: 302, headers: { location: '/loop1.json' } });
    await t.rejects(fetchMud(`${srv.base}/loop1.json`, base), /more than 3 redirects/);
    t.ok(url);
  });

  t.test('size cap', async (t) => {
    const big = Buffer.alloc(300 * 1024, 0x20);
    srv.routes.set('/big.json', { body: big });
    await t.rejects(fetchMud(`${srv.base}/big.json`, base), /more than the 262144 bytes/);
    srv.routes.set('/big2.json', { body: Buffer.alloc(2000, 0x20) });
    await t.rejects(fetchMud(`${srv.base}/big2.json`, { ...base, maxBytes: 1000 }), /more than the 1000 bytes/);
  });

  t.test('a server that never answers is given up on', async (t) => {
    srv.routes.set('/slow.json', { hang: true });
    await t.rejects(fetchMud(`${srv.base}/slow.json`, { ...base, timeoutMs: 300 }), /no (complete )?answer within 300 ms/);
  });
});

t.test('address classes', async (t) => {
  for (const ip of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.251',
    '255.255.255.255', '192.0.2.1', '198.51.100.7', '203.0.113.9', '::', '::1', 'fe80::1', 'fd12:3456::1', 'fc00::1', 'ff02::fb',
    '2001:db8::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2002:c0a8:101::1']) {
    t.ok(refusedAddress(ip), `${ip} refused`);
  }
  for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8']) t.equal(refusedAddress(ip), null, `${ip} public`);
  t.equal(refusedAddress('127.0.0.1', true), null, 'loopback only with the test setting');
  t.ok(refusedAddress('10.0.0.1', true), 'the test setting lets only loopback through');
  t.throws(() => checkMudUrl('https://user:pw@a.example/x', ['a.example']), /credentials/);
  t.equal(checkMudUrl('https://A.Example/x', ['a.example']).hostname, 'a.example', 'host names compare case-insensitively');
});
