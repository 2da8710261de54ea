// deploy/install.sh and deploy/Dockerfile: static checks (shellcheck when available).

import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { have, repoRoot, skipUnless } from '../../helpers/paths.js';

const script = join(repoRoot, 'deploy', 'install.sh');
const text = readFileSync(script, 'utf8');

t.test('install.sh parses and is executable', async (t) => {
  t.ok(statSync(script).mode & 0o111, 'executable');
  const r = spawnSync('sh', ['-n', script], { encoding: 'utf8', timeout: 10_000 });
  t.equal(r.status, 0, r.stderr);
});

t.test('shellcheck', { skip: skipUnless(have('shellcheck'), 'shellcheck not installed (Debian package shellcheck)') }, async (t) => {
  const r = spawnSync('shellcheck', ['-s', 'sh', script], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stdout);
});

t.test('install.sh: no default passwords, token file private, no curl|sh', async (t) => {
  t.notMatch(text, /PASSWORD=\S/, 'sets no password');
  t.match(text, /\/dev\/urandom/, 'token is random');
  t.match(text, /chmod 0600 "\$CONF\/segwatch\.env"/, 'env file mode 600');
  t.notMatch(text, /curl[^\n]*\|\s*(ba)?sh/, 'pipes nothing into a shell');
  t.match(text, /adduser --system/, 'dedicated system user');
});

t.test('install.sh: the state directory exists, belongs to the service user, and the config names it', async (t) => {
  t.match(text, /install -d -m 0750 -o segwatch -g segwatch \/var\/lib\/segwatch/, 'state directory made, mode 0750, owned by segwatch');
  t.match(text, /^state_dir: \/var\/lib\/segwatch$/m, 'segwatch.yaml sets state_dir');
});

t.test('Dockerfile: multi-stage, non-root, libpcap, capabilities on node', async (t) => {
  const df = readFileSync(join(repoRoot, 'deploy', 'Dockerfile'), 'utf8');
  const froms = df.match(/^FROM .*/gm) ?? [];
  t.same(froms, ['FROM node:20-bookworm AS build', 'FROM node:20-bookworm-slim']);
  t.match(df, /npm ci/);
  t.match(df, /npm prune --omit=dev/);
  t.match(df, /libpcap0\.8/);
  t.match(df, /setcap cap_net_raw,cap_net_admin\+eip \/usr\/local\/bin\/node/);
  const users = df.match(/^USER .*/gm) ?? [];
  t.equal(users.length, 1);
  t.notMatch(users[0], /\b(root|0)(:|$)/, 'runs as non-root');
});
