// `segwatch policy check` as a user runs it: every error of a broken policy as
// file:line:column with what was expected, a non-zero exit; a good policy passes.

import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, segwatch } from '../helpers/paths.js';

const broken = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/33"]
watch: [iot]
protected: [lan, dmz]
resolvers: ["192.168.50.1"]
devices:
  - { name: cam, mac: "aa:bb:cc:00:00:01", profile: camera }
  - { name: tv, mac: "aa:bb:cc:00:00:02", profile: television }
default_profile: camera
profiles:
  camera:
    colour: blue
    allow:
      - { to: "*.ring.com", ports: ["443/tcp", "3479-3478/udp"] }
      - { service: dns }
`;

t.test('a broken policy: each error with file:line:column, exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.yaml');
  writeFileSync(file, broken);
  const r = segwatch(['policy', 'check', file]);
  t.equal(r.code, 1, 'exit 1');
  const lines = r.stderr.split('\n').filter((l) => /^.+:\d+:\d+: /.test(l) && l.startsWith(file + ':'));
  t.match(r.stderr, /5 errors; policy refused/, 'a closing count');
  const at = (line: number, re: RegExp) => lines.some((l) => l.startsWith(`${file}:${line}:`) && re.test(l));
  t.ok(at(4, /CIDR|prefix/i), 'bad CIDR on line 4');
  t.ok(at(6, /dmz|segment/i), 'unknown segment on line 6');
  t.ok(at(10, /television|profile/i), 'unknown profile on line 10');
  t.ok(at(14, /colour|unknown|additional/i), 'unknown key on line 14');
  t.ok(at(16, /3479-3478|range/i), 'bad port range on line 16');
  for (const l of lines) t.match(l, /^.+:\d+:\d+: \S/, `file:line:col: message — ${l}`);
  t.equal(lines.length, 5, `all errors at once (${lines.length})`);
});

t.test('the example policies pass', async (t) => {
  for (const f of ['policies/site.example.yaml', 'test/fixtures/demo/policy.yaml']) {
    const r = segwatch(['policy', 'check', join(repoRoot, f)]);
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
    t.match(r.stdout, /: ok \(/);
  }
});

t.test('a YAML syntax error has its place too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'version: 1\nsegments:\n  iot: ["192.168.50.0/24"\nwatch: [iot]\n');
  const r = segwatch(['policy', 'check', file]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
});
