// The API's settings and tokens as `segwatch run` resolves and checks them: TLS both or
// neither, the admin token as strong as the read token and not the same, rate limit and body
// size bounds, every problem listed at once.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../../collector/cli/config.js';
import { apiAdminTokenFromEnv, checkAdminToken, startApi } from '../../../collector/api/server.js';
import type { CollectorFacade } from '../../../collector/api/facade.js';

const dir = mkdtempSync(join(tmpdir(), 'segwatch-api-settings-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const READ = 'read-token-0123456789abcdef';
const base = { SEGWATCH_POLICY: 'p.yaml', SEGWATCH_CAPTURE: 'c.pcap', SEGWATCH_LISTEN: '127.0.0.1:9808', SEGWATCH_API_TOKEN: READ };

t.test('defaults: 600 requests a minute, 1 MiB policy bodies, no TLS', async (t) => {
  const { config, errors } = resolveConfig({}, base, undefined, 'h');
  t.same(errors, []);
  t.equal(config!.apiRateLimit, 600);
  t.equal(config!.apiMaxBodyBytes, 1024 * 1024);
  t.equal(config!.apiTlsCert, undefined);
});

t.test('flags, environment and file set them; every problem is listed', async (t) => {
  const cert = join(dir, 'cert.pem');
  writeFileSync(cert, 'x');
  const cfgFile = join(dir, 'segwatch.yaml');
  writeFileSync(cfgFile, `api_tls_cert: ${cert}\napi_tls_key: ${cert}\napi_rate_limit: 0\n`);
  const ok = resolveConfig({ 'api-max-body-bytes': '2048' }, base, cfgFile, 'h');
  t.same(ok.errors, []);
  t.equal(ok.config!.apiTlsCert, cert);
  t.equal(ok.config!.apiRateLimit, 0);
  t.equal(ok.config!.apiMaxBodyBytes, 2048);

  const bad = resolveConfig({ 'api-tls-cert': join(dir, 'missing.pem'), 'api-max-body-bytes': '10' },
    { ...base, SEGWATCH_API_RATE_LIMIT: '-1', SEGWATCH_API_ADMIN_TOKEN: READ }, undefined, 'h');
  t.equal(bad.config, null);
  const text = bad.errors.join('\n');
  t.match(text, /api_tls_cert and api_tls_key: give both/);
  t.match(text, /api_tls_cert: cannot read/);
  t.match(text, /api_max_body_bytes: expected at least 1024/);
  t.match(text, /api_rate_limit: expected a whole number/);
  t.match(text, /admin token must differ/);
});

t.test('the admin token: from the environment or a file, checked', async (t) => {
  const f = join(dir, 'admin');
  writeFileSync(f, 'admin-token-from-a-file-0123\n');
  t.equal(apiAdminTokenFromEnv({ SEGWATCH_API_ADMIN_TOKEN_FILE: f }), 'admin-token-from-a-file-0123');
  t.equal(apiAdminTokenFromEnv({ SEGWATCH_API_ADMIN_TOKEN: 'a'.repeat(20), SEGWATCH_API_ADMIN_TOKEN_FILE: f }), 'a'.repeat(20));
  t.equal(apiAdminTokenFromEnv({}), undefined);
  t.equal(checkAdminToken(undefined, READ), undefined, 'none is allowed: admin routes then answer 403');
  t.throws(() => checkAdminToken('short', READ), /admin token is 5 characters/);
  t.throws(() => checkAdminToken(READ, READ), /differ/);
  t.throws(() => checkAdminToken('admin token with spaces 0123', READ), /whitespace/);
  const short = resolveConfig({}, { ...base, SEGWATCH_API_ADMIN_TOKEN: 'short' }, undefined, 'h');
  t.match(short.errors.join('\n'), /SEGWATCH_API_ADMIN_TOKEN: the API admin token is 5 characters/);
  const facade: CollectorFacade = { devices: () => [], recentAnomalies: () => [], counters: () => ({ packets: 0, bytes: 0, decodeErrors: 0, flows: 0, flowsActive: 0, anomalies: 0, anomaliesByKind: {}, drops: 0, spoolBytes: 0, startedAt: 0, source: 's', policy: 'p' }) };
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: READ, adminToken: READ, facade }), /differ/);
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: READ, tlsKey: f, facade }), /both a certificate and a key/);
  await t.rejects(startApi({ listen: '127.0.0.1:0', token: READ, tlsCert: f, tlsKey: f, facade }), /API cannot start/, 'PEM that is not a certificate');
});
