// `policy check`: every error printed as file:line:col, non-zero exit on a broken policy.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { policyCheck } from '../../../collector/policy/check.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const BROKEN = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/33"]
watch: [iot, dmz]
resolvers: ["192.168.50.1"]
default_profile: quarantine
devices:
  - { name: cam, mac: "aa:bb:cc:*", profile: camera }
profiles:
  quarantine:
    allow:
      - { service: dns, colour: red }
      - { to: "1.2.3.4", ports: ["10-1/tcp"] }
`;

t.test('policyCheck returns 1 and prints every error', async (t) => {
  const dir = t.testdir({ 'site.yaml': BROKEN });
  const out: string[] = [], err: string[] = [];
  const code = await policyCheck(`${dir}/site.yaml`, (l) => out.push(l), (l) => err.push(l));
  t.equal(code, 1);
  t.same(out, []);
  const f = `${dir}/site.yaml`;
  t.match(err, [
    new RegExp(`^${f}:4:9: expected a CIDR`),
    new RegExp(`^${f}:5:14: unknown segment "dmz"`),
    new RegExp(`^${f}:9:46: unknown profile "camera"`),
    new RegExp(`^${f}:13:25: unknown key "colour"`),
    new RegExp(`^${f}:14:34: expected a port`),
    /5 errors; policy refused/,
  ]);
  t.equal(err.length, 6);
});

t.test('policyCheck returns 0 on the example', async (t) => {
  const out: string[] = [];
  t.equal(await policyCheck(`${root}policies/site.example.yaml`, (l) => out.push(l), () => {}), 0);
  t.match(out[0], /ok \(\d+ profiles\)/);
});

t.test('a missing file is an error, not a crash', async (t) => {
  const err: string[] = [];
  t.equal(await policyCheck('/nonexistent/site.yaml', () => {}, (l) => err.push(l)), 1);
  t.match(err[0], /cannot read the policy/);
});

t.test('as a process: exit code and stderr', async (t) => {
  const dir = t.testdir({ 'bad.yaml': BROKEN });
  writeFileSync(`${dir}/good.yaml`, 'version: 1\nsegments: { iot: ["10.0.0.0/8"] }\nwatch: [iot]\ndefault_profile: q\nprofiles: { q: { allow: [] } }\n');
  const run = (f: string) => spawnSync(process.execPath, ['--import', '@tapjs/typescript/import', `${root}collector/policy/check.ts`, f],
    { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const bad = run(`${dir}/bad.yaml`);
  t.equal(bad.status, 1, bad.stderr);
  t.equal(bad.stderr.split('\n').filter((l) => /^\/.*:\d+:\d+: /.test(l)).length, 5);
  const good = run(`${dir}/good.yaml`);
  t.equal(good.status, 0, good.stderr);
  t.match(good.stdout, /ok \(1 profiles\)/);
});
