// What the loader reads out of YAML (the `yaml` package, YAML 1.2 core schema) and where
// it places what it refuses: scalars, quoting, anchors and aliases, duplicate keys, schema
// errors (ajv) at their file:line:column, and the same policy whatever its layout.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { loadPolicyText, formatPolicyError } from '../../../collector/policy/load.js';
import { bigPolicyYaml } from '../../../bench/big-policy.js';

const HEAD = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: q
profiles:
  q:
    allow:
      - { service: dns }
`;
// the next line is line 12

function errs(text: string): { at: string; path: string; message: string }[] {
  return loadPolicyText(text, 'site.yaml').errors.map((e) => ({ at: `${e.line}:${e.col}`, path: e.path, message: e.message }));
}

/**
 * What the loader read for `scalar` (written as `dns_grace`'s value on line 12): the
 * duration check names the value it got, a number bare and a text in JSON quotes.
 */
function readAs(scalar: string, before = ''): string {
  const es = errs(`${before}${HEAD}detectors:\n  dns_grace: ${scalar}\n`);
  if (es.length !== 1 || es[0].path !== 'detectors.dns_grace') return `unexpected: ${JSON.stringify(es)}`;
  const m = /, got (.*?)(?: \(add a unit, e\.g\. .*\))?$/.exec(es[0].message);
  return m ? m[1] : `unexpected: ${es[0].message}`;
}

t.test('plain scalars as YAML 1.2 core schema reads them (not YAML 1.1)', async (t) => {
  const cases: [string, string][] = [
    // numbers
    ['0x1F', '31'], ['0o17', '15'], ['08', '8'], ['010', '10'], ['+12', '12'], ['-0', '0'],
    ['1e3', '1000'], ['1.5', '1.5'], ['.5', '0.5'], ['1.', '1'],
    ['.inf', 'Infinity'], ['-.inf', '-Infinity'], ['.nan', 'NaN'],
    // YAML 1.1 read these as booleans, binary, sexagesimal, grouped or dates: 1.2 keeps text
    ['yes', '"yes"'], ['no', '"no"'], ['on', '"on"'], ['off', '"off"'], ['y', '"y"'],
    ['0b101', '"0b101"'], ['12:30', '"12:30"'], ['1_000', '"1_000"'], ['2024-01-01', '"2024-01-01"'],
    ['0X1F', '"0X1F"'], ['nan', '"nan"'], ['tRue', '"tRue"'], ['nUll', '"nUll"'],
    // booleans and null
    ['true', 'true'], ['True', 'true'], ['FALSE', 'false'], ['~', 'null'], ['null', 'null'], ['NULL', 'null'], ['', 'null'],
  ];
  for (const [scalar, want] of cases) t.equal(readAs(scalar), want, `${JSON.stringify(scalar)} reads as ${want}`);
  // a file that asks for YAML 1.1 gets it
  t.equal(readAs('yes', '%YAML 1.1\n---\n'), 'true');
  t.equal(readAs('010', '%YAML 1.1\n---\n'), '8');
});

t.test('quoted scalars and comments: numbers-as-text stay text', async (t) => {
  const cases: [string, string][] = [
    ['"0x1F"', '"0x1F"'], ["'1e3'", '"1e3"'], ['"08"', '"08"'], ["'yes'", '"yes"'], ['"null"', '"null"'], ["''", '""'],
    ['"a\\tb\\u00e9\\x41"', '"a\\tbéA"'], ["'it''s'", '"it\'s"'], ["'a\\tb'", '"a\\\\tb"'],
    ['"x # y"', '"x # y"'], ['x # y', '"x"'], ['x#y', '"x#y"'], ['!!str 5', '"5"'],
  ];
  for (const [scalar, want] of cases) t.equal(readAs(scalar), want, `${JSON.stringify(scalar)} reads as ${want}`);
  // a number where a text is due is refused as a number, with the expected text
  t.same(errs(HEAD.replace('watch: [iot]', 'watch: [iot, 0x1F]')), [{ at: '5:14', path: 'watch[1]', message: 'expected segment name: letters, digits, "_", "." or "-", at most 64, got 31' }]);
  t.same(errs(HEAD.replace('watch: [iot]', 'watch: [iot, "0x1F"]')).map((e) => e.message), ['unknown segment "0x1F"; expected one of: iot, lan']);
});

t.test('numbers land as numbers in the compiled policy', async (t) => {
  const r = loadPolicyText(`${HEAD}    limits: { bytes_per_hour: 0x1F, bytes_per_day: 1e3 }\nvlan: 0o17\n`, 'site.yaml');
  t.same(r.errors, []);
  t.same(r.policy!.limits('q'), { bytesPerHour: 31, bytesPerDay: 1000 });
  t.equal(r.policy!.vlan, 15);
  // a text with a unit is a size; a text without one is not a number of bytes in disguise
  t.same(loadPolicyText(`${HEAD}    limits: { bytes_per_hour: "10KiB" }\n`, 'site.yaml').policy?.limits('q'), { bytesPerHour: 10240 });
  t.equal(loadPolicyText(`${HEAD}vlan: "15"\n`, 'site.yaml').policy, null);
});

t.test('anchors and aliases: shared rules, shared names', async (t) => {
  const text = `version: 1
segments:
  iot: &nets ["192.168.50.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: &def q
devices:
  - { name: cam, mac: "aa:bb:cc:00:00:01", profile: *def }
profiles:
  q:
    allow: &rules
      - { service: dns }
      - { to: "*.ring.com", ports: ["443/tcp"] }
  r:
    allow: *rules
    limits: { bytes_per_day: 1GB }
`;
  const r = loadPolicyText(text, 'site.yaml');
  t.same(r.errors.map(formatPolicyError), []);
  const p = r.policy!;
  t.same([...p.profiles()].sort(), ['q', 'r']);
  t.equal(p.place({ mac: 'aa:bb:cc:00:00:01', ip: '', vendor: '', hostname: '' }).profile, 'q');
  for (const prof of ['q', 'r']) {
    t.ok(p.evaluate(prof, { proto: 'tcp', dst: '52.1.2.3', dport: 443 }, ['a.ring.com'], () => []).allowed, `${prof} has the shared rule`);
  }
  // an alias naming no anchor is refused at the alias, not thrown
  t.same(errs(text.replace('profile: *def', 'profile: *nope')), [
    { at: '8:53', path: '', message: 'YAML syntax: unknown alias "*nope": expected its anchor "&nope" earlier in the file' },
  ]);
  // an error inside an aliased node points at the anchored text, where it must be fixed
  const bad = errs(text.replace('"*.ring.com"', '"*.ring.*"'));
  t.same(bad.map((e) => [e.at, e.path]), [['13:15', 'profiles.q.allow[1].to'], ['13:15', 'profiles.r.allow[1].to']]);
  // YAML 1.2 has no merge keys: "<<" is an unknown key
  t.same(errs(`${HEAD}  r:\n    <<: *x\n    allow: []\n`).map((e) => e.message), ['YAML syntax: unknown alias "*x": expected its anchor "&x" earlier in the file']);
  t.same(errs(`${HEAD.replace('    allow:', '    allow: &x')}  r:\n    <<: { allow: *x }\n    allow: []\n`).map((e) => [e.at, e.message]),
    [['13:5', 'unknown key "<<"; expected one of: description, allow, limits, allow_in']]);
});

t.test('an alias bomb is refused quickly, with its place', async (t) => {
  const bomb = `${HEAD}  r:\n    allow: &a [{ service: ntp }, { service: ntp }, { service: ntp }, { service: ntp }]\n`
    + '  b: { allow: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a] }\n'
    + '  c: { allow: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b] }\n'
    + '  d: { allow: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c] }\n'
    + '  e: { allow: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d] }\n';
  const r = loadPolicyText(bomb, 'site.yaml');
  t.equal(r.policy, null);
  t.equal(r.errors.length, 1);
  t.equal(`${r.errors[0].line}:${r.errors[0].col}`, '14:19', 'at the first alias');
  t.match(r.errors[0].message, /^expected at most 100 expansions of YAML aliases \(\*name\) in all, got more/);
});

t.test('duplicate keys are refused with the place of the second', async (t) => {
  const dup = (text: string) => errs(text).map((e) => [e.at, e.message]);
  const unique = 'YAML syntax: Map keys must be unique';
  t.same(dup(`${HEAD}default_profile: q\n`), [['12:1', unique]], 'top level');
  t.same(dup(`${HEAD}      - { to: a.example.com, "to": b.example.com }\n`), [['12:30', unique]], 'plain and quoted spelling, flow mapping');
  t.same(dup(`${HEAD}    allow:\n      - service: ntp\n`), [['12:5', unique]], 'nested block mapping');
  t.same(dup(HEAD.replace('  lan: ["192.168.1.0/24"]', '  10: ["10.0.0.0/16"]\n  0xA: ["10.1.0.0/16"]')), [['5:3', unique]], '10 and 0xA are one number');
});

t.test('YAML syntax errors have their places', async (t) => {
  t.same(errs(HEAD.replace('  iot:', '\tiot:')).map((e) => e.at).slice(0, 1), ['3:1'], 'a tab in the indentation');
  t.same(errs(HEAD.replace('watch: [iot]', 'watch: [iot')).map((e) => e.at).slice(0, 1), ['6:1']);
  t.same(errs(`${HEAD}      - { to: "a.example.com }\n`).map((e) => e.message.slice(0, 12)).slice(0, 1), ['YAML syntax:']);
  for (const e of loadPolicyText(HEAD.replace('watch: [iot]', 'watch: [iot'), 'site.yaml').errors) t.match(formatPolicyError(e), /^site\.yaml:\d+:\d+: YAML syntax: \S/);
});

t.test('schema errors: ajv\'s instance paths placed on the YAML nodes, with what was expected', async (t) => {
  const block = `${HEAD}      - to: "*.ring.com"
        ports: 443/tcp
devices:
  - name: cam
    mac: "aa:bb:cc:00:00:01"
  - name: tv
    profile: q
    ip: [192.168.50.9]
detectors:
  scan_hosts: { threshold: 0 }
  severity:
    policy.violation: urgent
`;
  t.same(errs(block), [
    { at: '13:16', path: 'profiles.q.allow[1].ports', message: 'expected ports the rule allows; left out = any port and protocol, got "443/tcp"' },
    { at: '15:5', path: 'devices[0]', message: 'missing key "profile"' },
    { at: '19:9', path: 'devices[1].ip', message: 'expected an IP or a CIDR, got ["192.168.50.9"]' },
    { at: '21:28', path: 'detectors.scan_hosts.threshold', message: 'expected slow scans: scan.hosts fires when connection attempts of one device to this many distinct hosts failed (no answer, a RST) within the window, at least 1, got 0' },
    { at: '23:23', path: 'detectors.severity.policy.violation', message: 'expected a severity: info, low, medium, high, critical, got "urgent"' },
  ]);
  // where the semantic check speaks of the same place as the schema, its more specific message alone
  t.same(errs(`${HEAD}    limits: { bytes_per_hour: -5 }\n`).map((e) => [e.at, e.message.slice(0, 22), e.message.slice(-8)]), [['12:31', 'expected a size like "', ', got -5']]);
  // a map key that YAML reads as a number is found again by its text; a union (anyOf of
  // the services) is one error, saying what any branch takes
  t.same(errs(`${HEAD}  0x1F:\n    allow:\n      - service: telnet\n`), [
    { at: '14:18', path: 'profiles.31.allow[0].service', message: 'expected a built-in service: dns, ntp, dhcp, mdns, ssdp, icmp, got "telnet"' },
  ]);
  // an unknown or badly named key is pointed at by the key itself
  t.same(errs(HEAD.replace('  lan:', '  "l/a~n":')).map((e) => [e.at, e.path]), [['4:3', 'segments.l/a~n']]);
});

t.test('positions count lines and columns the same with CRLF, a BOM, comments and a leading ---', async (t) => {
  const text = `${HEAD}vlan: 5000\n`;
  const want = [{ at: '12:7', path: 'vlan', message: 'expected an 802.1Q VLAN id, 1-4094, got 5000' }];
  t.same(errs(text), want);
  t.same(errs(text.replace(/\n/g, '\r\n')), want, 'CRLF');
  t.same(errs('\uFEFF' + text), want, 'BOM');
  t.same(errs('# site policy\n---\n' + text).map((e) => e.at), ['14:7'], 'comment and document marker');
});

/** One policy written three ways. */
const LAYOUTS: [string, string][] = [
  ['flow', `version: 1
segments: { iot: ["192.168.50.0/24", "fd00:50::/64"], lan: [192.168.1.0/24] }
watch: [iot]
protected: [lan]
resolvers: [192.168.50.1]
devices: [{ name: cam, mac: "aa:bb:cc:00:00:01", profile: camera }, { name: tv, hostname: "Chromecast-*", profile: tv }]
default_profile: camera
profiles: { camera: { allow: [{ service: dns }, { to: "*.ring.com", ports: [443/tcp, "3478-3479/udp"] }], limits: { bytes_per_day: 1GB } }, tv: { description: a TV, allow: [{ to: 'device:cam', ports: [554/tcp] }] } }
detectors: { scan_hosts: { threshold: 20, window: 60s }, severity: { dns.bypass: critical } }
`],
  ['block, comments', `# the site
version: 1   # language version
segments:
  iot:
    - 192.168.50.0/24
    - "fd00:50::/64"
  lan:
  - 192.168.1.0/24
watch:
  - iot
protected:
  - lan
resolvers:
  - '192.168.50.1'
devices:
  - name: cam
    mac: "aa:bb:cc:00:00:01"
    profile: camera
  - name: tv
    hostname: Chromecast-*
    profile: tv
default_profile: camera
profiles:
  camera:
    allow:
      - service: dns
      - to: "*.ring.com"   # the cloud
        ports:
          - 443/tcp
          - 3478-3479/udp
    limits:
      bytes_per_day: 1GB
  tv:
    description: "a TV"
    allow:
      - to: device:cam
        ports: [554/tcp]
detectors:
  scan_hosts:
    threshold: 20
    window: 60s
  severity:
    dns.bypass: critical
`],
];
LAYOUTS.push(['block, CRLF, ---', '---\r\n' + LAYOUTS[1][1].replace(/\n/g, '\r\n')]);

t.test('the same policy in flow style, block style and CRLF compiles the same', async (t) => {
  const loaded = LAYOUTS.map(([name, text]) => [name, loadPolicyText(text, 'site.yaml')] as const);
  for (const [name, r] of loaded) t.same(r.errors.map(formatPolicyError), [], `${name} is valid`);
  for (const [name, r] of loaded.slice(1)) t.ok(isDeepStrictEqual(r, loaded[0][1]), `${name}: the same compiled policy as flow style`);
  const p = loaded[0][1].policy!;
  t.equal(p.place({ mac: '', ip: '', vendor: '', hostname: 'chromecast-ultra' }).name, 'tv');
  t.ok(p.evaluate('camera', { proto: 'udp', dst: '1.2.3.4', dport: 3479 }, ['x.ring.com'], () => []).allowed);
  t.equal(p.detectSettings().severity?.['dns.bypass'], 'critical');
});

t.test('the benchmark\'s 10,000-rule policy loads', async (t) => {
  const r = loadPolicyText(bigPolicyYaml([]), 'big-policy.yaml');
  t.same(r.errors.slice(0, 3).map(formatPolicyError), []);
  t.equal(r.policy?.profiles().length, 101);
});

t.test('process.env is the real one again after a load, whatever the text', async (t) => {
  const env = process.env;
  process.env.SEGWATCH_LOAD_TEST = 'kept';
  try {
    for (const text of [HEAD, 'version: 1\nversion: 2\n', '{ unclosed: [', '']) {
      loadPolicyText(text, 'p.yaml');
      t.equal(process.env, env, JSON.stringify(text));
    }
    t.equal(process.env.SEGWATCH_LOAD_TEST, 'kept');
  } finally {
    delete process.env.SEGWATCH_LOAD_TEST;
  }
});
