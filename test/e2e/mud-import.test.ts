// `segwatch mud import` as a user runs it (the built CLI): every shared MUD file becomes a policy
// `segwatch policy check` accepts; --policy adds to an existing policy and keeps its comments; a
// FILE fetches nothing; a URL is fetched (loopback only through the test-only variable) and its
// signature verified; config-file mistakes come with their position.

import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, repoRoot, segwatch, segwatchAsync, have, skipUnless } from '../helpers/paths.js';
import { makePki, startMudServer, mudFile } from '../integration/policy/mud-fetch-pki.js';
import { policyCheck } from '../../collector/policy/check.js';

const mudDir = capture('mud');

t.test('every shared MUD file imports into a policy that policy check accepts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = readdirSync(mudDir).filter((f) => f.endsWith('.json')).sort();
  t.ok(files.length >= 20);
  for (const f of files) {
    const out = join(dir, f.replace(/\.json$/, '.yaml'));
    const r = segwatch(['mud', 'import', join(mudDir, f), '--out', out], { timeoutMs: 60_000 });
    t.equal(r.code, 0, `${f}: import exit 0 ${r.stderr.slice(-300)}`);
    // what `segwatch policy check` runs, in this process: 24 more CLI starts would only cost time
    const errs: string[] = [];
    t.equal(await policyCheck(out, () => {}, (l) => errs.push(l)), 0, `${f}: policy check ok ${errs.slice(0, 3).join(' ')}`);
    const text = readFileSync(out, 'utf8');
    const unsupported = (r.stderr.match(/^not expressible: /gm) ?? []).length;
    const listed = text.split('\n').filter((l) => /^# {3}\S+: /.test(l)).length;
    t.ok(listed >= unsupported, `${f}: the ${unsupported} unsupported items are written as comments at the top`);
    for (const l of text.split('\n').filter((x) => /^\s+- \{/.test(x))) t.match(l, /comment: "?MUD /, `${f}: each rule names its ACE`);
  }
});

t.test('--policy adds the profile, controllers and device to an existing policy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const policy = join(dir, 'site.yaml');
  copyFileSync(join(repoRoot, 'test/fixtures/demo/policy.yaml'), policy);
  const out = join(dir, 'out.yaml');
  const r = segwatch(['mud', 'import', join(mudDir, 'nistmud-SmartThingsMud.json'), '--policy', policy, '--device', 'st-hub', '--mac', '24:fd:5b:00:00:01', '--out', out]);
  t.equal(r.code, 0, r.stderr);
  const text = readFileSync(out, 'utf8');
  t.match(text, /^# Demo site policy/, 'the policy\'s own comments kept');
  t.match(text, /devices:\n {2}# st-hub: judged by its MUD profile smartthings\n {2}- \{ name: st-hub, profile: smartthings, mac: 24:fd:5b:00:00:01 \}\n {2}- \{ name: gateway/, 'the device entry first (first match wins)');
  t.match(text, /controllers:\n {2}# MUD controller urn:ietf:params:mud:dns: the policy's resolvers\n {2}dns: \[ 192\.168\.50\.1 \]/, 'the DNS controller is the policy\'s resolvers');
  t.match(text, /# TODO: the hosts of controller urn:ietf:params:mud:gateway; the placeholder matches nothing\n {2}gateway: \[ fill-in-controller\.invalid \]/);
  t.match(text, /\n {2}smartthings:\n {4}description:/);
  t.equal(segwatch(['policy', 'check', out]).code, 0, 'policy check accepts it');
  const again = segwatch(['mud', 'import', join(mudDir, 'nistmud-SmartThingsMud.json'), '--policy', out]);
  t.equal(again.code, 1);
  t.match(again.stderr, /already has a profile "smartthings"; choose another name with --profile NAME/);
  const renamed = segwatch(['mud', 'import', join(mudDir, 'nistmud-SmartThingsMud.json'), '--policy', out, '--profile', 'st2', '--out', join(dir, 'out2.yaml')]);
  t.equal(renamed.code, 0, renamed.stderr);
  t.equal(segwatch(['policy', 'check', join(dir, 'out2.yaml')]).code, 0);
  t.equal(segwatch(['mud', 'import', join(mudDir, 'nistmud-SmartThingsMud.json'), '--device', 'x']).code, 2, '--device without a match is a usage error');
  const bad = segwatch(['mud', 'import', join(dir, 'nope.json')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /cannot read/);
  writeFileSync(join(dir, 'junk.json'), '{"not": "mud"}');
  t.match(segwatch(['mud', 'import', join(dir, 'junk.json')]).stderr, /not a MUD file/);
});

t.test('URLs: fetched over HTTPS with a verified signature; loopback only with the test variable', { skip: skipUnless(have('openssl'), 'needs the openssl CLI') }, async (t) => {
  const pki = makePki();
  t.teardown(() => pki.cleanup());
  const srv = await startMudServer(pki);
  t.teardown(() => srv.close());
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tls.pem'), pki.tlsCert);
  const url = `${srv.base}/bulb.json`;
  const body = mudFile(url);
  srv.routes.set('/bulb.json', { body });
  srv.routes.set('/bulb.p7s', { body: pki.sign(body) });
  const env = {
    NODE_EXTRA_CA_CERTS: join(dir, 'tls.pem'), SEGWATCH_MUD_TRUSTED_HOSTS: 'localhost', SEGWATCH_MUD_TRUST_ANCHORS: pki.caFile,
    SEGWATCH_STATE_DIR: join(dir, 'state'), SEGWATCH_TEST_MUD_ALLOW_LOOPBACK: '',
  };

  // a FILE naming that URL fetches nothing
  writeFileSync(join(dir, 'bulb.json'), body);
  const file = await segwatchAsync(['mud', 'import', join(dir, 'bulb.json')], { env, timeoutMs: 60_000 });
  t.equal(file.code, 0, file.stderr);
  t.equal(srv.hits.size, 0, 'importing a FILE fetched nothing');

  const refused = await segwatchAsync(['mud', 'import', url], { env, timeoutMs: 60_000 });
  t.equal(refused.code, 1, 'production default: loopback refused');
  t.match(refused.stderr, /is not a public address/);
  t.equal(srv.hits.size, 0, 'and never connected');

  const out = join(dir, 'bulb.yaml');
  const ok = await segwatchAsync(['mud', 'import', url, '--out', out], { env: { ...env, SEGWATCH_TEST_MUD_ALLOW_LOOPBACK: '1' }, timeoutMs: 60_000 });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stderr, /tests only/);
  t.match(readFileSync(out, 'utf8'), /fetched, signature verified/);
  t.equal(segwatch(['policy', 'check', out]).code, 0);
  const cached = await segwatchAsync(['mud', 'import', url], { env: { ...env, SEGWATCH_TEST_MUD_ALLOW_LOOPBACK: '1' }, timeoutMs: 60_000 });
  t.match(cached.stdout, /cached, signature verified/);
  t.equal(srv.hits.get('/bulb.json'), 1, 'the second import used the cache');

  srv.routes.set('/bad.json', { body: mudFile(`${srv.base}/bad.json`) });
  srv.routes.set('/bad.p7s', { body: pki.sign(mudFile(`${srv.base}/other.json`)) });
  const bad = await segwatchAsync(['mud', 'import', `${srv.base}/bad.json`], { env: { ...env, SEGWATCH_TEST_MUD_ALLOW_LOOPBACK: '1' }, timeoutMs: 60_000 });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /not used: the signature does not match the file/);
  t.equal(bad.stdout, '', 'nothing written from a file that failed');

  const http = await segwatchAsync(['mud', 'import', `http://localhost:${srv.port}/bulb.json`], { env, timeoutMs: 60_000 });
  t.match(http.stderr, /only https/);

  // the config file's mud: section, and its mistakes with positions
  const cfg = join(dir, 'segwatch.yaml');
  writeFileSync(cfg, `state_dir: ${join(dir, 'state2')}\nmud:\n  trusted_hosts: [localhost]\n  trust_anchors: ${pki.caFile}\n`);
  const viaCfg = await segwatchAsync(['mud', 'import', url, '--config', cfg], { env: { NODE_EXTRA_CA_CERTS: join(dir, 'tls.pem'), SEGWATCH_TEST_MUD_ALLOW_LOOPBACK: '1' }, timeoutMs: 60_000 });
  t.equal(viaCfg.code, 0, viaCfg.stderr);
  writeFileSync(cfg, 'mud:\n  trusted_hosts: ["https://x.example/"]\n  trustanchors: /tmp/x.pem\n');
  const badCfg = await segwatchAsync(['mud', 'import', url, '--config', cfg], { timeoutMs: 60_000 });
  t.equal(badCfg.code, 1);
  t.match(badCfg.stderr, new RegExp(`${cfg}:3:3: mud: unknown setting "trustanchors"; expected one of trusted_hosts, dir, trust_anchors`));
  t.match(badCfg.stderr, new RegExp(`${cfg}:2:18: mud.trusted_hosts: expected host names`));
});
