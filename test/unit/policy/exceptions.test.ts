// Policy exceptions: the `exceptions:` section (and exceptions.yaml beside the policy) is
// checked like the rest, with positions; an entry matches by device, kind, peer (address or
// name) and port globs until its end date; acknowledgements append to exceptions.yaml.

import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExceptionsText, loadPolicyFile, loadPolicyText, formatPolicyError } from '../../../collector/policy/load.js';
import { appendException } from '../../../collector/state/exceptions-file.js';

const BASE = `version: 1
segments: { iot: ["192.168.50.0/24"] }
watch: [iot]
default_profile: p
profiles: { p: { allow: [ { service: ntp } ] } }
`;

function tmp(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-exc-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const a = (over: Partial<{ device: string; kind: string; peer: string; peerName: string; peerPort: number }> = {}) =>
  ({ device: 'plugs-a1b2c3', kind: 'policy.violation', peer: '203.0.113.5', peerName: 'n.tplinkcloud.com', peerPort: 443, ...over });

t.test('an exception matches by globs on device, kind, peer (address or name) and port, until its end', async (t) => {
  const r = loadPolicyText(BASE + `exceptions:
  - { device: "plugs-*", peer: "*.tplinkcloud.com", port: 443, comment: "Kasa cloud, accepted 2026-12", until: 2027-01-31 }
  - { kind: "scan.*", peer: "192.168.50.1", comment: "the router's own discovery" }
`, 'p.yaml');
  t.same(r.errors.map(formatPolicyError), []);
  const p = r.policy!;
  const jan = Date.parse('2027-01-15T00:00:00Z');
  t.ok(p.suppresses(a(), jan), 'device glob, peer name glob, port');
  t.notOk(p.suppresses(a({ peerPort: 80 }), jan), 'another port');
  t.notOk(p.suppresses(a({ device: 'tv' }), jan), 'another device');
  t.notOk(p.suppresses(a({ peerName: 'evil.example' }), jan), 'another peer');
  t.ok(p.suppresses(a(), Date.parse('2027-01-31T23:00:00Z')), 'a date ends at the end of that day (UTC)');
  t.notOk(p.suppresses(a(), Date.parse('2027-02-01T00:00:01Z')), 'after until: no longer');
  t.equal(p.nextExceptionEnd(jan), Date.parse('2027-01-31T23:59:59.999Z'));
  t.ok(p.suppresses(a({ kind: 'scan.hosts', peer: '192.168.50.1', peerName: '' }), jan), 'kind glob, any port, no end');
});

t.test('exceptions are checked like the rest: comment required, real dates, known keys, with positions', async (t) => {
  const r = loadPolicyText(BASE + `exceptions:
  - { device: "tv", kind: dns.bypass }
  - { device: "tv", comment: "x", until: 2027-02-30 }
  - { device: "tv", comment: "x", port: 70000 }
  - { device: "tv", comment: "x", why: "?" }
`, 'p.yaml');
  const msgs = r.errors.map(formatPolicyError);
  t.match(msgs, [/p\.yaml:7:5: missing key "comment"/, /p\.yaml:8:\d+: expected a real date such as 2027-01-31, got "2027-02-30"/, /p\.yaml:9:.*port/, /p\.yaml:10:.*unknown key "why"/]);
  t.equal(r.policy, null);
});

t.test('exceptions.yaml: its own positions; appended entries join the policy, comments kept', async (t) => {
  const dir = tmp(t);
  const policy = join(dir, 'site.yaml');
  writeFileSync(policy, BASE);
  const exc = join(dir, 'exceptions.yaml');
  appendException(exc, { device: 'plugs-a1b2c3', kind: 'policy.violation', peer: '203.0.113.5', port: 443, comment: 'acknowledged: the vendor\'s cloud', until: '2027-01-31' });
  let r = await loadPolicyFile(policy, { exceptions: exc });
  t.same(r.errors.map(formatPolicyError), []);
  t.ok(r.policy!.suppresses(a({ peerName: '' }), Date.parse('2027-01-01T00:00:00Z')), 'the acknowledged behaviour is accepted');
  t.notOk((await loadPolicyFile(policy)).policy!.suppresses(a(), Date.parse('2027-01-01T00:00:00Z')), 'not without the file');
  writeFileSync(exc, readFileSync(exc, 'utf8').replace(/^exceptions:/m, '# kept by hand\nexceptions:'));
  appendException(exc, { device: 'tv', comment: 'second' });
  const text = readFileSync(exc, 'utf8');
  t.match(text, /# kept by hand/, 'a comment written by hand survives');
  t.equal(loadExceptionsText(text, exc).list.length, 2, 'both entries');

  writeFileSync(exc, 'exceptions:\n  - { device: tv }\nextra: 1\n');
  r = await loadPolicyFile(policy, { exceptions: exc });
  t.equal(r.policy, null, 'a bad exceptions.yaml refuses the load');
  t.match(r.errors.map(formatPolicyError), [new RegExp(`${exc}:2:5: missing key "comment"`), new RegExp(`${exc}:3:1: unknown key "extra"`)]);
});
