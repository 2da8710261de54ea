// Error positions: every error names file, line and column of the offending node.
import t from 'tap';
import { loadPolicyText, formatPolicyError } from '../../../collector/policy/load.js';

const HEAD = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: q
`;
// profiles start at line 8
const PROF = `profiles:
  q:
    allow:
      - { service: dns }
`;

function errs(text: string) {
  const r = loadPolicyText(text, 'site.yaml');
  return { policy: r.policy, errors: r.errors.map((e) => ({ at: `${e.line}:${e.col}`, path: e.path, message: e.message })) };
}

t.test('a valid base policy loads', async (t) => {
  const r = errs(HEAD + PROF);
  t.same(r.errors, []);
  t.ok(r.policy);
});

t.test('unknown key: points at the key', async (t) => {
  const r = errs(HEAD + PROF + '    limitz: { bytes_per_hour: 1MB }\n');
  t.equal(r.policy, null);
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0].at, '12:5');
  t.equal(r.errors[0].path, 'profiles.q.limitz');
  t.match(r.errors[0].message, /unknown key "limitz"; expected one of: description, allow, limits/);
});

t.test('unknown top-level key', async (t) => {
  const r = errs(HEAD + 'colour: blue\n' + PROF);
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0].at, '8:1');
  t.match(r.errors[0].message, /unknown key "colour"/);
});

t.test('bad CIDR: invalid octet, host bits set, bad prefix length', async (t) => {
  const text = HEAD.replace('lan: ["192.168.1.0/24"]', 'lan: ["192.168.300.0/24", "192.168.1.1/24", "10.0.0.0/33", "fd00::/129"]') + PROF;
  const r = errs(text);
  t.same(r.errors.map((e) => e.at), ['4:9', '4:29', '4:47', '4:62']);
  t.match(r.errors[0].message, /expected a CIDR like "192\.168\.50\.0\/24".*got "192\.168\.300\.0\/24"/);
  t.match(r.errors[1].message, /host bits set \(did you mean "192\.168\.1\.0\/24"\?\)/);
  t.match(r.errors[2].message, /prefix length must be 0-32/);
  t.match(r.errors[3].message, /prefix length must be 0-128/);
  t.same(r.errors.map((e) => e.path), ['segments.lan[0]', 'segments.lan[1]', 'segments.lan[2]', 'segments.lan[3]']);
});

t.test('bad CIDR in a rule', async (t) => {
  const r = errs(HEAD + PROF + '      - { to: "52.95.0.0/15", ports: ["443/tcp"] }\n');
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0].at, '12:15');
  t.equal(r.errors[0].path, 'profiles.q.allow[1].to');
  t.match(r.errors[0].message, /host bits set \(did you mean "52\.94\.0\.0\/15"\?\)/);
});

t.test('bad port ranges', async (t) => {
  const r = errs(HEAD + PROF + '      - { ports: ["3479-3478/udp", "0/tcp", "70000/udp", "443/icmp", "443", 53, "080/tcp"] }\n');
  t.same(r.errors.map((e) => e.at), ['12:19', '12:36', '12:45', '12:58', '12:70', '12:77', '12:81']);
  t.match(r.errors[0].message, /range runs backwards \(3479 > 3478\)/);
  t.match(r.errors[1].message, /ports run from 1 to 65535/);
  t.match(r.errors[2].message, /ports run from 1 to 65535/);
  t.match(r.errors[3].message, /got protocol "icmp"/);
  t.match(r.errors[4].message, /add the protocol, e\.g\. "443\/tcp"/);
  t.match(r.errors[5].message, /add the protocol, e\.g\. "53\/tcp"/);
  t.match(r.errors[6].message, /leading zero/);
  for (const e of r.errors) t.match(e.message, /^expected a port like "443\/tcp"/);
});

t.test('unknown profile (device entry and default_profile)', async (t) => {
  const text = HEAD.replace('default_profile: q', 'default_profile: quarantine')
    + 'devices:\n  - { name: cam, mac: "aa:bb:cc:*", profile: camra }\n' + PROF;
  const r = errs(text);
  t.same(r.errors.map((e) => [e.at, e.path]), [['7:18', 'default_profile'], ['9:46', 'devices[0].profile']]);
  t.match(r.errors[0].message, /unknown profile "quarantine"; expected one of: q/);
  t.match(r.errors[1].message, /unknown profile "camra"/);
});

t.test('unknown segment (watch, protected, segment: rule) and unknown device', async (t) => {
  const text = HEAD.replace('watch: [iot]', 'watch: [iot, dmz]\nprotected: [lna]') + PROF
    + '      - { to: "segment:guest", ports: ["443/tcp"] }\n      - { to: "device:nvr" }\n';
  const r = errs(text);
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['5:14', 'watch[1]'], ['6:13', 'protected[0]'],
    ['13:15', 'profiles.q.allow[1].to'], ['14:15', 'profiles.q.allow[2].to'],
  ]);
  t.match(r.errors[0].message, /unknown segment "dmz"; expected one of: iot, lan/);
  t.match(r.errors[2].message, /unknown segment "guest"/);
  t.match(r.errors[3].message, /unknown device "nvr"/);
});

t.test('bad sizes', async (t) => {
  const r = errs(HEAD + PROF + '    limits: { bytes_per_hour: 500mb, bytes_per_day: 1.5B }\n');
  t.same(r.errors.map((e) => e.at), ['12:31', '12:53']);
  t.match(r.errors[0].message, /unknown unit "mb" \(did you mean "500MB"\?\)/);
  t.match(r.errors[1].message, /not a whole number of bytes/);
  const ok = errs(HEAD + PROF + '    limits: { bytes_per_hour: 10KiB, bytes_per_day: 1000 }\n');
  t.same(ok.errors, []);
  t.same(ok.policy!.limits('q'), { bytesPerHour: 10240, bytesPerDay: 1000 });
});

t.test('YAML syntax error with its position', async (t) => {
  const r = errs('version: 1\nsegments:\n  iot: ["192.168.50.0/24"\nwatch: [iot]\n');
  t.ok(r.errors.length >= 1);
  t.match(r.errors[0].message, /^YAML syntax: /);
  t.equal(r.errors[0].at, '4:1', 'where the unterminated flow sequence runs into the next key');
  const dup = errs(HEAD + PROF + 'watch: [lan]\n');
  t.equal(dup.errors.length, 1);
  t.equal(dup.errors[0].at, '12:1');
  t.match(dup.errors[0].message, /YAML syntax: .*unique/i);
});

t.test('type errors, missing keys, services, empty rules', async (t) => {
  const r = errs(`version: 2
segments:
  iot: ["192.168.50.0/24"]
vlan: 5000
default_profile: q
profiles:
  q:
    allow:
      - { service: telnet }
      - { service: ntp, ports: ["123/udp"] }
      - {}
      - { service: dns }
`);
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['1:1', ''], ['1:10', 'version'], ['4:7', 'vlan'],
    ['9:20', 'profiles.q.allow[0].service'], ['10:20', 'profiles.q.allow[1].service'],
    ['11:9', 'profiles.q.allow[2]'], ['12:20', 'profiles.q.allow[3].service'],
  ]);
  t.match(r.errors[0].message, /missing key "watch"/);
  t.match(r.errors[1].message, /expected policy language version: 1, got 2/);
  t.match(r.errors[2].message, /VLAN id, 1-4094, got 5000/);
  t.match(r.errors[3].message, /expected a built-in service: dns, ntp, dhcp, mdns, ssdp, icmp, got "telnet"/);
  t.match(r.errors[4].message, /`service` alone/);
  t.match(r.errors[5].message, /empty rule would allow everything/);
  t.match(r.errors[6].message, /approved resolver/);
});

t.test('several errors of one file at once, sorted, formatted file:line:col', async (t) => {
  const text = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/33"]
watch: [iot, dmz]
resolvers: ["192.168.50.1"]
default_profile: q
devices:
  - { name: cam, mac: "aa:bb:cc:zz:*", profile: nope }
profiles:
  q:
    allow:
      - { to: "*.ring.com", ports: ["443/tcp", "99999/tcp"], extra: 1 }
      - { to: "segment:nowhere" }
    limits: { bytes_per_hour: 500XB }
`;
  const r = loadPolicyText(text, 'policies/site.yaml');
  t.equal(r.policy, null);
  const lines = r.errors.map(formatPolicyError);
  t.equal(lines.length, 8, lines.join('\n'));
  t.match(lines[0], /^policies\/site\.yaml:4:9: expected a CIDR/);
  t.match(lines[1], /^policies\/site\.yaml:5:14: unknown segment "dmz"/);
  t.match(lines[2], /^policies\/site\.yaml:9:23: expected a MAC/);
  t.match(lines[3], /^policies\/site\.yaml:9:49: unknown profile "nope"/);
  t.match(lines[4], /^policies\/site\.yaml:13:48: expected a port/);
  t.match(lines[5], /^policies\/site\.yaml:13:62: unknown key "extra"/);
  t.match(lines[6], /^policies\/site\.yaml:14:15: unknown segment "nowhere"/);
  t.match(lines[7], /^policies\/site\.yaml:15:31: expected a size/);
});

t.test('empty file and non-mapping', async (t) => {
  t.match(errs('').errors[0].message, /empty file/);
  const r = errs('- 1\n- 2\n');
  t.equal(r.errors[0].at, '1:1');
  t.match(r.errors[0].message, /expected/);
});
