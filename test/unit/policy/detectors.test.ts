// The `detectors:` section: refused values point at file:line:col, accepted values map
// onto DetectSettings, and the example's commented section states the real defaults.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadPolicyText, formatPolicyError } from '../../../collector/policy/load.js';
import { parseDuration } from '../../../collector/policy/validate.js';
import { defaultSettings, resolveSettings } from '../../../collector/detect/settings.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const HEAD = `version: 1
segments:
  iot: ["192.168.50.0/24", "fd00:50::/64"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: q
profiles:
  q:
    allow:
      - { service: dns }
`;
// `detectors:` is line 11

function load(detectors: string) {
  const r = loadPolicyText(HEAD + detectors, 'site.yaml');
  return { policy: r.policy, errors: r.errors.map((e) => ({ at: `${e.line}:${e.col}`, path: e.path, message: e.message })) };
}

t.test('absent section: {}', async (t) => {
  const r = load('');
  t.same(r.errors, []);
  t.same(r.policy!.detectSettings(), {});
  t.same(resolveSettings(r.policy!.detectSettings()), defaultSettings());
});

t.test('the example section from the brief maps onto DetectSettings', async (t) => {
  const r = load(`detectors:
  scan_hosts: { threshold: 100, window: 90s }
  scan_ports: { threshold: 16, window: 2m }
  suppress_window: 1h
  dns_grace: 5m
  plaintext_ports: ["21/tcp", "23/tcp", "512-514/tcp", "69/udp", "161/udp", "7777/tcp", "23/tcp"]
  critical_ips: ["192.168.50.1", "FD00:50:0::1"]
  severity: { policy.violation: low, scan.hosts: critical }
`);
  t.same(r.errors, []);
  const s = r.policy!.detectSettings();
  t.same(s, {
    scanHostsThreshold: 100, scanHostsWindowMs: 90_000,
    scanPortsThreshold: 16, scanPortsWindowMs: 120_000,
    anomalyIdleMs: 3_600_000, dnsGraceMs: 300_000,
    plaintextPorts: [
      { port: 21, proto: 'tcp', name: 'ftp' },
      { port: 23, proto: 'tcp', name: 'telnet' },
      { port: 512, proto: 'tcp', name: 'rexec' },
      { port: 513, proto: 'tcp', name: 'rlogin' },
      { port: 514, proto: 'tcp', name: 'rsh' },
      { port: 69, proto: 'udp', name: 'tftp' },
      { port: 161, proto: 'udp', name: 'snmp' },
      { port: 7777, proto: 'tcp', name: 'port 7777' },
    ],
    spoofCriticalIps: ['192.168.50.1', 'fd00:50::1'],
    severity: { 'policy.violation': 'low', 'scan.hosts': 'critical' },
  });
  const full = resolveSettings(s);
  t.equal(full.severity['policy.violation'], 'low');
  t.equal(full.severity['scan.hosts'], 'critical');
  t.equal(full.severity['segment.crossing'], 'critical', 'kinds left out keep their default');
  t.equal(full.severity['device.new'], 'medium');
  t.equal(full.scanMaxSources, defaultSettings().scanMaxSources);
  // each call is a fresh copy: a caller mutating it does not change the policy
  s.plaintextPorts!.length = 0;
  s.severity!['scan.hosts'] = 'info';
  t.equal(r.policy!.detectSettings().plaintextPorts!.length, 8);
  t.equal(r.policy!.detectSettings().severity!['scan.hosts'], 'critical');
});

t.test('only what is set comes back; [] empties the plaintext list', async (t) => {
  const r = load('detectors:\n  scan_ports: { window: 500ms }\n  plaintext_ports: []\n  dns_grace: 0s\n');
  t.same(r.errors, []);
  t.same(r.policy!.detectSettings(), { scanPortsWindowMs: 500, plaintextPorts: [], dnsGraceMs: 0 });
});

t.test('bad duration: position and message', async (t) => {
  const r = load('detectors:\n  scan_hosts: { threshold: 64, window: 60 }\n  suppress_window: 1.5h\n  dns_grace: 5min\n');
  t.equal(r.policy, null);
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['12:40', 'detectors.scan_hosts.window'],
    ['13:20', 'detectors.suppress_window'],
    ['14:14', 'detectors.dns_grace'],
  ]);
  t.match(r.errors[0].message, /expected a duration like "60s".*got 60 \(add a unit, e.g. "60s"\)/);
  t.match(r.errors[1].message, /expected a duration like "60s".*got "1\.5h"/);
  t.match(r.errors[2].message, /unknown unit "min"/);
  t.equal(formatPolicyError(loadPolicyText(HEAD + 'detectors:\n  dns_grace: 5min\n', 'site.yaml').errors[0]).split(': ')[0], 'site.yaml:12:14');
});

t.test('zero window refused, leading zero refused', async (t) => {
  const r = load('detectors:\n  suppress_window: 0s\n  scan_ports: { window: 060s }\n');
  t.same(r.errors.map((e) => [e.at, e.path]), [['12:20', 'detectors.suppress_window'], ['13:25', 'detectors.scan_ports.window']]);
  t.match(r.errors[0].message, /at least 1ms, got "0s"/);
  t.match(r.errors[1].message, /leading zero/);
});

t.test('unknown detector key: points at the key', async (t) => {
  const r = load('detectors:\n  scan_hosts: { threshold: 64, windw: 60s }\n  supress_window: 1h\n');
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['12:32', 'detectors.scan_hosts.windw'],
    ['13:3', 'detectors.supress_window'],
  ]);
  t.match(r.errors[0].message, /unknown key "windw"; expected one of: threshold, window/);
  t.match(r.errors[1].message, /unknown key "supress_window"; expected one of: scan_hosts, scan_ports, anomaly_idle, anomaly_update, suppress_window, dns_grace, plaintext_ports, critical_ips, severity/);
});

t.test('bad severity and unknown kind', async (t) => {
  const r = load('detectors:\n  severity:\n    scan.hosts: urgent\n    scan.host: high\n');
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['13:17', 'detectors.severity.scan.hosts'],
    ['14:5', 'detectors.severity.scan.host'],
  ]);
  t.match(r.errors[0].message, /expected a severity: info, low, medium, high, critical, got "urgent"/);
  t.match(r.errors[1].message, /unknown key "scan.host"; expected one of: policy.violation, /);
});

t.test('bad threshold', async (t) => {
  const r = load('detectors:\n  scan_ports: { threshold: 0 }\n');
  t.same(r.errors.map((e) => [e.at, e.path]), [['12:28', 'detectors.scan_ports.threshold']]);
  t.match(r.errors[0].message, /at least 1, got 0/);
});

t.test('bad ports: syntax, protocol, range, too many', async (t) => {
  const r = load('detectors:\n  plaintext_ports: ["23", "icmp", "9-7/tcp", "5000/sctp", 21, "70000/udp"]\n');
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['12:21', 'detectors.plaintext_ports[0]'],
    ['12:27', 'detectors.plaintext_ports[1]'],
    ['12:35', 'detectors.plaintext_ports[2]'],
    ['12:46', 'detectors.plaintext_ports[3]'],
    ['12:59', 'detectors.plaintext_ports[4]'],
    ['12:63', 'detectors.plaintext_ports[5]'],
  ]);
  t.match(r.errors[0].message, /add the protocol, e.g. "23\/tcp"/);
  t.match(r.errors[1].message, /expected a tcp or udp port/);
  t.match(r.errors[2].message, /runs backwards/);
  t.match(r.errors[3].message, /expected a tcp or udp port/);
  t.match(r.errors[4].message, /add the protocol/);
  t.match(r.errors[5].message, /ports run from 1 to 65535/);
  const big = load('detectors:\n  plaintext_ports: ["1-1000/tcp", "2000-2100/udp"]\n');
  t.same(big.errors.map((e) => [e.at, e.path]), [['12:35', 'detectors.plaintext_ports[1]']]);
  t.match(big.errors[0].message, /at most 1024 ports/);
});

t.test('bad critical IP', async (t) => {
  const r = load('detectors:\n  critical_ips: ["192.168.50.1", "192.168.50.0/24", "gw"]\n');
  t.same(r.errors.map((e) => [e.at, e.path]), [['12:34', 'detectors.critical_ips[1]'], ['12:53', 'detectors.critical_ips[2]']]);
  t.match(r.errors[0].message, /expected an IP address/);
});

t.test('detectors: of the wrong shape', async (t) => {
  const r = load('detectors: [scan_hosts]\n');
  t.equal(r.errors.length, 1);
  t.equal(r.errors[0].at, '11:12');
  t.match(r.errors[0].message, /expected detector thresholds/);
});

t.test('parseDuration', async (t) => {
  t.same(parseDuration('250ms'), { ms: 250 });
  t.same(parseDuration('60s'), { ms: 60_000 });
  t.same(parseDuration('5m'), { ms: 300_000 });
  t.same(parseDuration('1h'), { ms: 3_600_000 });
  t.same(parseDuration('2d'), { ms: 172_800_000 });
  t.same(parseDuration('0s'), { ms: 0 });
  for (const bad of ['', '5', '-5s', '5 s', '5S', '1.5h', 's', '05s', '5sm', '99999999999999999d', null, true]) {
    t.ok('error' in parseDuration(bad), `refuses ${JSON.stringify(bad)}`);
  }
  t.match((parseDuration('5S') as { error: string }).error, /did you mean "5s"/);
});

t.test('the commented section of site.example.yaml, uncommented, is the defaults', async (t) => {
  const text = await readFile(`${root}policies/site.example.yaml`, 'utf8');
  const lines = text.split('\n');
  const start = lines.indexOf('# detectors:');
  t.ok(start > 0, 'the example has a commented detectors: section');
  const section: string[] = [];
  for (let i = start; i < lines.length && lines[i].startsWith('#'); i++) {
    const l = lines[i].slice(2);
    if (!l.trimStart().startsWith('#')) section.push(l);
  }
  const r = loadPolicyText(text + '\n' + section.join('\n') + '\n', 'site.example.yaml');
  t.same(r.errors.map(formatPolicyError), []);
  const d = defaultSettings();
  t.same(resolveSettings(r.policy!.detectSettings()), d, 'uncommenting changes nothing');
  t.same(r.policy!.detectSettings().plaintextPorts, d.plaintextPorts, 'same list and names as the defaults');
  t.same(r.policy!.detectSettings().severity, d.severity);
});

t.test('anomaly_idle and anomaly_update: the lifecycle times; suppress_window is the older name of anomaly_idle', async (t) => {
  const r = load('detectors:\n  anomaly_idle: 2h\n  anomaly_update: 30s\n');
  t.same(r.errors, []);
  t.match(r.policy!.detectSettings(), { anomalyIdleMs: 7_200_000, anomalyUpdateMs: 30_000 });
  t.match(load('detectors:\n  suppress_window: 90m\n').policy!.detectSettings(), { anomalyIdleMs: 5_400_000 });
  t.equal(load('detectors:\n  anomaly_update: 0s\n').policy!.detectSettings().anomalyUpdateMs, 0, 'every change at the next tick');
  const bad = load('detectors:\n  anomaly_idle: 0s\n');
  t.same(bad.errors.map((e) => e.path), ['detectors.anomaly_idle'], 'an idle time of zero is refused');
});
