// The policy language of issue 13: allow_in, from_ports, icmp/icmpv6 types and codes, proto
// numbers, controller:/manufacturer:/same-manufacturer/local-networks targets, controllers:,
// mud: and the reserved profiles mud and learn. Errors carry file:line:column and what was
// expected; compiled rules answer evaluate()/evaluateIn().

import t from 'tap';
import { loadPolicyText } from '../../../collector/policy/load.js';
import type { CompiledPolicy, DeviceIps, EvalContext, FlowFacts } from '../../../collector/policy/types.js';

const HEAD = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24", "fd00:1::/64"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: q
controllers:
  hub: ["192.168.50.2", "hub.example.com", "device:cam", "10.9.0.0/16"]
devices:
  - { name: cam, mac: "aa:bb:cc:00:00:01", profile: mud }
  - { name: cam2, mac: "aa:bb:cc:00:00:02", profile: learn }
profiles:
  q:
    allow:
`;
// the first rule of q is on line 16
function errs(rules: string, extra = '') {
  const r = loadPolicyText(HEAD + rules + extra, 'site.yaml');
  return { policy: r.policy, errors: r.errors.map((e) => ({ at: `${e.line}:${e.col}`, path: e.path, message: e.message })) };
}

t.test('the whole new syntax loads', async (t) => {
  const r = errs(`      - { to: "controller:hub", ports: ["8883/tcp"], from_ports: ["1024-65535/tcp"] }
      - { icmp: [echo-request, "3/4", 11], icmpv6: [neighbor-solicitation, "1/4"], to: local-networks }
      - { proto: 2 }
      - { to: same-manufacturer, proto: 6 }
      - { to: "manufacturer:Example.COM", ports: ["443/tcp"] }
    allow_in:
      - { from: "segment:lan", ports: ["554/tcp"], comment: "the NVR" }
      - { icmp: [echo-request] }
      - { from: "controller:hub", from_ports: ["5683/udp"] }
`, 'mud: { auto: true, dir: /var/lib/segwatch/mud }\n');
  t.same(r.errors, []);
  t.ok(r.policy);
  t.same(r.policy!.mud(), { auto: true, dir: '/var/lib/segwatch/mud' });
  t.same(errs('      - { proto: 2 }\n').policy!.mud(), { auto: false }, 'mud: left out');
});

t.test('positioned errors for each new key', async (t) => {
  const r = errs(`      - { icmp: [echo-requests, "8/999", neighbor-solicitation] }
      - { icmpv6: [echo-request, 300] }
      - { from_ports: [icmp] }
      - { from_ports: ["5000"] }
      - { proto: 300 }
      - { to: "controller:nope" }
      - { to: "manufacturer:*.x.com" }
      - { to: "vendor:x.com" }
    allow_in:
      - { comment: "nothing" }
      - { from: "device:zzz", to: "1.2.3.4" }
`);
  t.equal(r.policy, null);
  const at = (path: string) => r.errors.filter((e) => e.path === path);
  t.match(at('profiles.q.allow[0].icmp[0]'), [{ at: '16:18', message: /expected an ICMP type by name \(echo-reply, .*\) or number 0-255, optionally with a code 0-255 as "TYPE\/CODE", got unknown type "echo-requests"/ }]);
  t.match(at('profiles.q.allow[0].icmp[1]'), [{ at: '16:33', message: /got "8\/999": types and codes run from 0 to 255/ }]);
  t.match(at('profiles.q.allow[0].icmp[2]'), [{ at: '16:42', message: /unknown type "neighbor-solicitation" \("neighbor-solicitation" is an ICMPv6 type: put it under `icmpv6`\)/ }]);
  t.match(at('profiles.q.allow[1].icmpv6[1]'), [{ at: '17:34', message: /ICMPv6 type/ }]);
  t.match(at('profiles.q.allow[2].from_ports[0]'), [{ at: '18:24', message: /ICMP has no ports/ }]);
  t.match(at('profiles.q.allow[3].from_ports[0]'), [{ at: '19:24', message: /expected a port like "443\/tcp".*\(add the protocol, e.g. "5000\/tcp"\)/ }]);
  t.match(at('profiles.q.allow[4].proto'), [{ at: '20:18', message: /expected an IP protocol number 0-255.*got 300/ }]);
  t.match(at('profiles.q.allow[5].to'), [{ at: '21:15', message: /unknown controller "nope"; expected one of: hub \(define it under `controllers:`\)/ }]);
  t.match(at('profiles.q.allow[6].to'), [{ at: '22:15', message: /expected "manufacturer:DOMAIN".*no wildcards/ }]);
  t.match(at('profiles.q.allow[7].to'), [{ at: '23:15', message: /"controller:NAME", "manufacturer:DOMAIN", "same-manufacturer" or "local-networks", got unknown prefix "vendor:"/ }]);
  t.match(at('profiles.q.allow_in[0]'), [{ at: '25:9', message: /an empty inbound rule would let anyone open anything/ }]);
  t.match(at('profiles.q.allow_in[1].to'), [{ at: '26:31', message: /unknown key "to"; expected one of: from, ports, from_ports, icmp, icmpv6, proto, comment/ }]);
  t.match(at('profiles.q.allow_in[1].from'), [{ at: '26:17', message: /unknown device "zzz"/ }]);
});

t.test('contradictory combinations are refused where they contradict', async (t) => {
  const r = errs(`      - { icmp: [8], ports: ["80/tcp"] }
      - { proto: 17, ports: ["80/tcp", "53/udp"] }
      - { proto: 6, icmpv6: [1] }
      - { proto: 1, icmp: [8] }
      - { ports: ["80/tcp"], from_ports: ["5000/udp"] }
      - { service: ntp, from_ports: ["123/udp"] }
      - { proto: 17, from_ports: ["1000/tcp"] }
`);
  t.same(r.errors.map((e) => [e.at, e.path]), [
    ['16:17', 'profiles.q.allow[0].icmp'],
    ['17:30', 'profiles.q.allow[1].ports[0]'],
    ['18:18', 'profiles.q.allow[2].proto'],
    ['20:19', 'profiles.q.allow[4].ports[0]'],
    ['20:43', 'profiles.q.allow[4].from_ports[0]'],
    ['21:20', 'profiles.q.allow[5].service'],
    ['22:35', 'profiles.q.allow[6].from_ports[0]'],
  ]);
  t.match(r.errors[0].message, /expected `icmp` without `ports` and `from_ports`: ICMP has types, not ports/);
  t.match(r.errors[1].message, /expected udp ports with proto 17, got "80\/tcp" \(tcp\): the rule would match nothing/);
  t.match(r.errors[2].message, /expected proto 58 \(icmpv6\) or no proto with `icmpv6`, got 6 \(tcp\)/);
  t.match(r.errors[4].message, /no flow has a udp source port and a tcp destination port/);
  t.match(r.errors[5].message, /expected `service` alone/);
});

t.test('controllers, reserved profiles and mud: their own errors', async (t) => {
  const bad = HEAD.replace('"10.9.0.0/16"]', '"10.9.0.0/16", "segment:lan", "device:nobody", "10.0.0.1/8"]')
    .replace('profile: learn }', 'profile: lern }') + '      - { proto: 2 }\n  mud:\n    allow: [ { proto: 2 } ]\nmud: { auto: "yes", offline: true }\n';
  const r = loadPolicyText(bad, 'site.yaml');
  const e = r.errors.map((x) => `${x.line}:${x.col} ${x.path}: ${x.message}`);
  t.match(e, [
    /^9:73 controllers\.hub\[4\]: expected an IP, a CIDR, a domain glob or "device:NAME" as a controller's host, got "segment:lan"/,
    /^9:88 controllers\.hub\[5\]: unknown device "nobody"; expected one of: cam, cam2/,
    /^9:105 controllers\.hub\[6\]: expected a network address, got "10\.0\.0\.1\/8" with host bits set/,
    /^12:54 devices\[1\]\.profile: unknown profile "lern"; expected one of: q, mud, learn$/,
    /^18:5 profiles\.mud: expected a profile name other than "mud": "mud" and "learn" are reserved/,
    /^19:14 mud\.auto: expected true or false: .*, got "yes"/,
    /^19:21 mud\.offline: unknown key "offline"; expected one of: auto, dir/,
  ]);
  t.equal(e.length, 7);
});

/** Compile q with these rules; evaluate with a context that knows two MUD URL hosts. */
function compiled(rules: string): CompiledPolicy {
  const r = errs(rules);
  if (!r.policy) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}
const ctx = (self = ''): EvalContext => ({
  deviceIps: (n) => (n === 'cam' ? ['192.168.50.7'] : []),
  mudHostOf: (ip) => ({ '192.168.50.9': 'example.com', '192.168.50.10': 'other.org' } as Record<string, string>)[ip] ?? '',
  selfMudHost: self,
});
const tcp = (dst: string, dport: number, sport?: number): FlowFacts => ({ proto: 'tcp', dst, dport, sport });

t.test('from_ports: the source port counts; unknown source ports match no from_ports rule', async (t) => {
  const p = compiled(`      - { to: "192.168.50.2", ports: ["8883/tcp"], from_ports: ["1024-65535/tcp"] }
      - { to: "192.168.50.3", from_ports: ["123/udp"] }
`);
  t.equal(p.evaluate('q', tcp('192.168.50.2', 8883, 40000), [], ctx()).rule, 'profiles.q.allow[0]');
  t.notOk(p.evaluate('q', tcp('192.168.50.2', 8883, 80), [], ctx()).allowed, 'source port below the range');
  t.notOk(p.evaluate('q', tcp('192.168.50.2', 8883), [], ctx()).allowed, 'source port unknown');
  t.notOk(p.evaluate('q', tcp('192.168.50.2', 8884, 40000), [], ctx()).allowed, 'destination port outside');
  t.equal(p.evaluate('q', { proto: 'udp', dst: '192.168.50.3', dport: 5000, sport: 123 }, [], ctx()).rule, 'profiles.q.allow[1]', 'any destination port of the from_ports protocol');
  t.notOk(p.evaluate('q', { proto: 'tcp', dst: '192.168.50.3', dport: 5000, sport: 123 }, [], ctx()).allowed, 'another protocol');
});

t.test('icmp types and codes, by name and number; icmpv6 apart; proto numbers', async (t) => {
  const p = compiled(`      - { icmp: [echo-request, "3/4"], to: "8.8.8.8" }
      - { icmpv6: [neighbor-solicitation, 128] }
      - { proto: 2 }
      - { proto: 6, to: "10.0.0.0/8" }
      - { proto: 1, to: "9.9.9.9" }
`);
  const icmp = (dst: string, type: number, code = 0): FlowFacts => ({ proto: 'icmp', dst, dport: type * 256 + code });
  const icmp6 = (dst: string, type: number, code = 0): FlowFacts => ({ proto: 'icmpv6', dst, dport: type * 256 + code });
  t.equal(p.evaluate('q', icmp('8.8.8.8', 8), [], ctx()).rule, 'profiles.q.allow[0]', 'echo-request, any code');
  t.equal(p.evaluate('q', icmp('8.8.8.8', 8, 5), [], ctx()).rule, 'profiles.q.allow[0]');
  t.equal(p.evaluate('q', icmp('8.8.8.8', 3, 4), [], ctx()).rule, 'profiles.q.allow[0]', 'type 3 code 4');
  t.notOk(p.evaluate('q', icmp('8.8.8.8', 3, 3), [], ctx()).allowed, 'type 3 code 3');
  t.notOk(p.evaluate('q', icmp('8.8.8.8', 0), [], ctx()).allowed, 'echo-reply');
  t.notOk(p.evaluate('q', icmp('8.8.4.4', 8), [], ctx()).allowed, 'another host');
  t.notOk(p.evaluate('q', icmp6('8.8.8.8', 8), [], ctx()).allowed, 'icmp rules are ICMPv4 only');
  t.equal(p.evaluate('q', icmp6('fe80::1', 135), [], ctx()).rule, 'profiles.q.allow[1]');
  t.equal(p.evaluate('q', icmp6('2001:db8::1', 128), [], ctx()).rule, 'profiles.q.allow[1]', 'by number');
  t.notOk(p.evaluate('q', icmp6('fe80::1', 136), [], ctx()).allowed);
  t.equal(p.evaluate('q', { proto: 2, dst: '224.0.0.22', dport: 0 }, [], ctx()).rule, 'profiles.q.allow[2]', 'IGMP');
  t.notOk(p.evaluate('q', { proto: 47, dst: '224.0.0.22', dport: 0 }, [], ctx()).allowed, 'GRE is not IGMP');
  t.equal(p.evaluate('q', tcp('10.1.2.3', 1), [], ctx()).rule, 'profiles.q.allow[3]', 'proto 6: any TCP port');
  t.equal(p.evaluate('q', tcp('10.1.2.3', 65535), [], ctx()).rule, 'profiles.q.allow[3]');
  t.notOk(p.evaluate('q', { proto: 'udp', dst: '10.1.2.3', dport: 53 }, [], ctx()).allowed, 'proto 6 is not UDP');
  t.equal(p.evaluate('q', icmp('9.9.9.9', 11, 1), [], ctx()).rule, 'profiles.q.allow[4]', 'proto 1: any ICMP type');
  t.notOk(p.evaluate('q', icmp6('9.9.9.9', 1), [], ctx()).allowed, 'proto 1 is not ICMPv6');
});

t.test('targets: controller, manufacturer, same-manufacturer, local-networks', async (t) => {
  const p = compiled(`      - { to: "controller:hub", ports: ["8883/tcp"] }
      - { to: "manufacturer:Example.COM", ports: ["443/tcp"] }
      - { to: same-manufacturer, ports: ["80/tcp"] }
      - { to: local-networks, ports: ["22/tcp"] }
`);
  const rule = (f: FlowFacts, names: string[] = [], c: EvalContext | DeviceIps = ctx()) => p.evaluate('q', f, names, c).rule || 'denied';
  t.equal(rule(tcp('192.168.50.2', 8883)), 'profiles.q.allow[0]', 'controller: an IP');
  t.equal(rule(tcp('10.9.1.1', 8883)), 'profiles.q.allow[0]', 'controller: a CIDR');
  t.equal(rule(tcp('1.2.3.4', 8883), ['hub.example.com']), 'profiles.q.allow[0]', 'controller: a domain');
  t.equal(rule(tcp('192.168.50.7', 8883)), 'profiles.q.allow[0]', 'controller: device:cam');
  t.equal(rule(tcp('1.2.3.4', 8883), ['other.example.com']), 'denied');
  t.equal(rule(tcp('192.168.50.9', 443)), 'profiles.q.allow[1]', 'manufacturer: host compared case-insensitively');
  t.equal(rule(tcp('192.168.50.10', 443)), 'denied', 'another manufacturer');
  t.equal(rule(tcp('192.168.50.9', 80), [], ctx('example.com')), 'profiles.q.allow[2]', 'same manufacturer as the judged device');
  t.equal(rule(tcp('192.168.50.10', 80), [], ctx('example.com')), 'denied', 'not the same');
  t.equal(rule(tcp('192.168.50.11', 80), [], ctx('')), 'denied', 'no MUD URL of its own: same-manufacturer matches nothing');
  t.equal(rule(tcp('192.168.50.9', 80), [], ctx('')), 'denied');
  t.equal(rule(tcp('192.168.50.9', 443), [], (n: string) => (n === 'cam' ? ['192.168.50.7'] : [])), 'denied', 'a bare deviceIps function: no MUD hosts known');
  t.equal(rule(tcp('192.168.1.5', 22)), 'profiles.q.allow[3]', 'local-networks: the LAN');
  t.equal(rule(tcp('fd00:1::5', 22)), 'profiles.q.allow[3]', 'local-networks: IPv6 too');
  t.equal(rule(tcp('192.168.50.5', 22)), 'profiles.q.allow[3]', 'local-networks: the IoT segment');
  t.equal(rule(tcp('8.8.8.8', 22)), 'denied', 'the Internet is not local');
});

t.test('allow_in: evaluateIn judges the opener; hasAllowIn; reserved profiles allow nothing', async (t) => {
  const p = compiled(`      - { proto: 2 }
    allow_in:
      - { from: "segment:lan", ports: ["554/tcp"] }
      - { icmp: [echo-request] }
      - { from: "controller:hub", ports: ["5683/udp"], from_ports: ["5683/udp"] }
  r:
    allow: [ { proto: 2 } ]
`);
  const inRule = (f: FlowFacts) => p.evaluateIn('q', f, [], ctx()).rule || 'denied';
  t.equal(inRule(tcp('192.168.1.20', 554, 50000)), 'profiles.q.allow_in[0]', 'the LAN opens RTSP');
  t.equal(inRule(tcp('203.0.113.7', 554, 50000)), 'denied', 'the Internet may not');
  t.equal(inRule({ proto: 'icmp', dst: '203.0.113.7', dport: 8 << 8 }), 'profiles.q.allow_in[1]', 'anyone may ping');
  t.equal(inRule({ proto: 'udp', dst: '192.168.50.2', dport: 5683, sport: 5683 }), 'profiles.q.allow_in[2]', 'the hub, from its CoAP port');
  t.equal(inRule({ proto: 'udp', dst: '192.168.50.2', dport: 5683, sport: 40000 }), 'denied', 'from another port');
  t.notOk(p.evaluate('q', tcp('192.168.1.20', 554, 50000), [], ctx()).allowed, 'allow_in does not allow outbound flows');
  t.ok(p.hasAllowIn('q'));
  t.notOk(p.hasAllowIn('r'));
  t.notOk(p.evaluateIn('r', tcp('192.168.1.20', 554), [], ctx()).allowed, 'no allow_in: nothing allowed in');
  for (const reserved of ['mud', 'learn']) t.notOk(p.evaluate(reserved, tcp('1.1.1.1', 443), [], ctx()).allowed, `${reserved}: no rules here`);
});
