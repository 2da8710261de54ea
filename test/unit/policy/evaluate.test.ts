// The evaluator and placement on a compiled policy: every kind of `to`, services, ports.
import t from 'tap';
import { loadPolicyText } from '../../../collector/policy/load.js';
import type { CompiledPolicy, FlowFacts } from '../../../collector/policy/types.js';
import { addrKey } from '../../../collector/inventory/addr-key.js';

const TEXT = `version: 1
segments:
  iot:     ["192.168.50.0/24", "fd00:50::/64"]
  cameras: ["192.168.50.64/28"]
  lan:     ["192.168.1.0/24", "fd00:1::/64"]
  site:    ["192.168.0.0/16"]
  mgmt:    ["192.168.10.0/24"]
watch: [iot, cameras]
protected: [lan, mgmt]
resolvers: ["192.168.50.1", "fd00:50::1"]
vlan: 50
devices:
  - { name: doorbell, mac: "AA:BB:CC:00:00:01", profile: camera }
  - { name: nvr, ip: "192.168.50.9", profile: hub }
  - { name: tv, hostname: "Chromecast-*", profile: tv }
  - { name: plugs, vendor: "tp-link*", profile: plug }
  - { name: picky, mac: "de:ad:*", vendor: "Acme*", profile: plug }
  - { name: v6cam, ip: "fd00:50::100/120", profile: camera }
default_profile: quarantine
profiles:
  camera:
    allow:
      - { to: "*.ring.com", ports: ["443/tcp"] }
      - { to: "52.94.0.0/16", ports: ["443/tcp", "3478-3479/udp"] }
      - { service: ntp }
      - { to: "device:nvr", ports: ["554/tcp"] }
      - { to: "segment:iot", ports: ["5353/udp"] }
      - { to: "ring.com", ports: ["80/tcp"] }
      - { to: "52.94.7.7", ports: ["8000-8100/tcp"] }
      - { to: "2600:1f18::/32", ports: ["443/tcp"] }
      - { ports: ["icmp"] }
  hub:
    allow:
      - { service: mdns }
      - { service: ssdp }
      - { to: "segment:cameras" }
  tv:
    allow:
      - { service: icmp }
      - { service: dhcp }
      - { to: "*.googlevideo.com", ports: ["443/tcp", "443/udp"] }
  plug:
    allow:
      - { service: dns }
      - { to: "9.9.9.9", ports: ["53/udp", "853/tcp"] }
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
`;

const loaded = loadPolicyText(TEXT, 'eval.yaml');
const p = loaded.policy as CompiledPolicy;
const noDev = () => [] as string[];
const devs = (n: string) => (n === 'nvr' ? ['192.168.50.9'] : []);
const ev = (profile: string, proto: FlowFacts['proto'], dst: string, dport: number, names: string[] = [], d = devs) =>
  p.evaluate(profile, { proto, dst, dport }, names, d);

t.same(loaded.errors, []);

t.test('segments: most specific wins, watch and protected', async (t) => {
  t.equal(p.segmentOf('192.168.50.7'), 'iot');
  t.equal(p.segmentOf('192.168.50.70'), 'cameras');
  t.equal(p.segmentOf('192.168.50.80'), 'iot', 'just past the /28');
  t.equal(p.segmentOf('192.168.1.4'), 'lan');
  t.equal(p.segmentOf('192.168.77.1'), 'site');
  t.equal(p.segmentOf('10.0.0.1'), '');
  t.equal(p.segmentOf('fd00:50::abcd'), 'iot');
  t.equal(p.segmentOf('FD00:50:0::1'), 'iot', 'any spelling of IPv6');
  t.equal(p.segmentOf('not an ip'), '');
  t.ok(p.isWatched('192.168.50.70'));
  t.ok(p.isWatched('fd00:50::2'));
  t.notOk(p.isWatched('192.168.1.4'));
  // isWatched4 reads the address from its addrKey() value: the same answer at every edge of
  // every segment, with and without the sign bit (224.0.0.0 and up are negative keys)
  for (const ip of ['192.168.50.70', '192.168.50.63', '192.168.50.64', '192.168.50.79', '192.168.50.80', '192.168.50.0', '192.168.50.255',
    '192.168.1.4', '192.168.77.1', '10.0.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.251']) {
    t.equal(p.isWatched4(addrKey(ip) as number), p.isWatched(ip), `isWatched4 = isWatched for ${ip}`);
    t.equal(p.segmentOf4(addrKey(ip) as number), p.segmentOf(ip), `segmentOf4 = segmentOf for ${ip}`);
  }
  let n = 0, m = 0;
  for (let i = 0; i < 65536; i++) {
    const ip = `192.168.${i >> 8}.${i & 255}`;
    if (p.isWatched4(addrKey(ip) as number) !== p.isWatched(ip)) n++;
    if (p.segmentOf4(addrKey(ip) as number) !== p.segmentOf(ip)) m++;
  }
  t.equal(n, 0, 'isWatched4 = isWatched over 192.168.0.0/16');
  t.equal(m, 0, 'segmentOf4 = segmentOf over 192.168.0.0/16');
  t.equal(p.protectedSegment('192.168.1.4'), 'lan');
  t.equal(p.protectedSegment('fd00:1::9'), 'lan');
  t.equal(p.protectedSegment('192.168.10.1'), 'mgmt');
  t.equal(p.protectedSegment('192.168.77.1'), '', 'site is not protected');
  t.ok(p.isResolver('192.168.50.1'));
  t.ok(p.isResolver('fd00:50:0:0::1'));
  t.notOk(p.isResolver('8.8.8.8'));
  t.equal(p.vlan, 50);
  t.same([...p.profiles()], ['camera', 'hub', 'tv', 'plug', 'quarantine']);
});

t.test('placement: mac (case-insensitive), ip, hostname and vendor globs, all keys of an entry', async (t) => {
  const f = (mac: string, ip = '', vendor = '', hostname = '') => p.place({ mac, ip, vendor, hostname });
  // names: an entry that names one device (exact mac, ip with one address) gives its own name;
  // one that can match several gives each match <entry>-<last three MAC bytes>
  t.same(f('aa:bb:cc:00:00:01'), { name: 'doorbell', entry: 'doorbell', profile: 'camera', known: true, rule: 'devices[0]' });
  t.same(f('11:11:11:11:11:11', '192.168.50.9'), { name: 'nvr', entry: 'nvr', profile: 'hub', known: true, rule: 'devices[1]' });
  t.same(f('11:11:11:11:11:11', '', '', 'chromecast-living'), { name: 'tv-111111', entry: 'tv', profile: 'tv', known: true, rule: 'devices[2]' });
  t.equal(f('11:11:11:11:11:11', '', 'TP-LINK TECHNOLOGIES CO.,LTD.').name, 'plugs-111111');
  t.equal(f('de:ad:00:00:00:01', '', 'Acme Corp').name, 'picky-000001', 'a MAC glob can match several');
  t.equal(f('de:ad:00:00:00:01', '', 'Other Corp').name, '', 'vendor must match too');
  t.equal(f('be:ef:00:00:00:01', '', 'Acme Corp').name, '', 'mac must match too');
  t.same(f('', 'fd00:50::1ff'), { name: 'v6cam-fd00:50::1ff', entry: 'v6cam', profile: 'camera', known: true, rule: 'devices[5]' }, 'a CIDR, no MAC: told apart by address');
  t.equal(f('02:00:00:00:01:ff', 'fd00:50::1ff').name, 'v6cam-0001ff', 'a CIDR with a MAC: by the MAC');
  t.equal(f('', 'fd00:50::200').name, '');
  t.same(f('22:22:22:22:22:22', '192.168.50.44'), { name: '', entry: '', profile: 'quarantine', known: false, rule: 'default_profile' });
  t.equal(f('aa:bb:cc:00:00:01', '192.168.50.9').name, 'doorbell', 'first match wins');
});

t.test('names: one entry, several devices, one name each, whatever their order', async (t) => {
  const f = (mac: string, ip = '') => p.place({ mac, ip, vendor: 'TP-LINK TECHNOLOGIES CO.,LTD.', hostname: '' }).name;
  const macs = ['50:c7:bf:c3:00:42', '50:C7:BF:C3:00:43', '98:da:c4:0a:0b:0c'];
  const names = macs.map((m) => f(m, '192.168.50.20'));
  t.same(names, ['plugs-c30042', 'plugs-c30043', 'plugs-0a0b0c'], 'lower-case hex, no colons');
  t.same([...macs].reverse().map((m) => f(m)), [...names].reverse(), 'a name does not depend on which came first or on the address');
  const q = loadPolicyText(TEXT.replace('{ name: nvr, ip: "192.168.50.9",', '{ name: nvr, ip: "192.168.50.9/32",')
    .replace('{ name: doorbell, mac: "AA:BB:CC:00:00:01",', '{ name: doorbell, mac: "AA:BB:CC:00:00:01", vendor: "Acme*",'), 'n.yaml').policy!;
  t.equal(q.place({ mac: '11:11:11:11:11:11', ip: '192.168.50.9', vendor: '', hostname: '' }).name, 'nvr', 'a /32 is one address');
  t.equal(q.place({ mac: 'aa:bb:cc:00:00:01', ip: '', vendor: 'Acme', hostname: '' }).name, 'doorbell', 'an exact MAC with more keys still names one device');
});

t.test('domain globs through names', async (t) => {
  t.same(ev('camera', 'tcp', '1.2.3.4', 443, ['a.ring.com']), { allowed: true, rule: 'profiles.camera.allow[0]', awaitingName: false });
  t.equal(ev('camera', 'tcp', '1.2.3.4', 443, ['x.y.RING.com.']).rule, 'profiles.camera.allow[0]', 'deeper, any case, trailing dot');
  t.same(ev('camera', 'tcp', '1.2.3.4', 443, ['ring.com']), { allowed: false, rule: '', awaitingName: true }, '*.ring.com does not cover ring.com');
  t.equal(ev('camera', 'tcp', '1.2.3.4', 80, ['ring.com']).rule, 'profiles.camera.allow[5]', 'a bare rule matches exactly');
  t.notOk(ev('camera', 'tcp', '1.2.3.4', 80, ['a.ring.com']).allowed, 'bare ring.com rule is exact');
  t.notOk(ev('camera', 'tcp', '1.2.3.4', 443, ['evilring.com', 'ring.com.evil.net']).allowed);
  t.equal(ev('camera', 'tcp', '1.2.3.4', 443, ['other.net', 'cdn.ring.com']).rule, 'profiles.camera.allow[0]', 'any of the names');
  t.same(ev('camera', 'tcp', '1.2.3.4', 443, []), { allowed: false, rule: '', awaitingName: true }, 'a name may still come');
  t.same(ev('camera', 'tcp', '1.2.3.4', 22, []), { allowed: false, rule: '', awaitingName: false }, 'no domain rule has port 22');
  t.same(ev('plug', 'tcp', '1.2.3.4', 443, ['a.ring.com']), { allowed: false, rule: '', awaitingName: false });
  t.equal(ev('tv', 'udp', '142.250.1.1', 443, ['r1.sn-abc.googlevideo.com']).rule, 'profiles.tv.allow[2]');
});

t.test('IP, CIDR, port ranges, lowest rule wins', async (t) => {
  t.equal(ev('camera', 'tcp', '52.94.1.2', 443).rule, 'profiles.camera.allow[1]');
  t.equal(ev('camera', 'udp', '52.94.255.255', 3478).rule, 'profiles.camera.allow[1]');
  t.equal(ev('camera', 'udp', '52.94.0.1', 3479).rule, 'profiles.camera.allow[1]');
  t.notOk(ev('camera', 'udp', '52.94.0.1', 3480).allowed);
  t.notOk(ev('camera', 'udp', '52.94.0.1', 3477).allowed);
  t.notOk(ev('camera', 'tcp', '52.94.0.1', 3478).allowed, 'proto matters');
  t.notOk(ev('camera', 'tcp', '52.95.0.1', 443).allowed);
  t.equal(ev('camera', 'tcp', '52.94.7.7', 8000).rule, 'profiles.camera.allow[6]');
  t.equal(ev('camera', 'tcp', '52.94.7.7', 8100).rule, 'profiles.camera.allow[6]');
  t.notOk(ev('camera', 'tcp', '52.94.7.8', 8050).allowed, 'host rule is /32');
  t.equal(ev('camera', 'tcp', '52.94.7.7', 443).rule, 'profiles.camera.allow[1]', 'both match: the first rule is named');
  t.equal(ev('camera', 'tcp', '52.94.7.7', 443, ['a.ring.com']).rule, 'profiles.camera.allow[0]');
});

t.test('IPv6', async (t) => {
  t.equal(ev('camera', 'tcp', '2600:1f18:abcd::1', 443).rule, 'profiles.camera.allow[7]');
  t.notOk(ev('camera', 'tcp', '2600:1f19::1', 443).allowed);
  t.equal(ev('camera', 'udp', 'fd00:50::99', 5353).rule, 'profiles.camera.allow[4]', 'segment: includes its v6 CIDR');
  t.equal(ev('camera', 'udp', '::ffff:123.1.1.1', 123).rule, 'profiles.camera.allow[2]', 'ntp any v6 host');
});

t.test('segment: and device:', async (t) => {
  t.equal(ev('camera', 'udp', '192.168.50.200', 5353).rule, 'profiles.camera.allow[4]');
  t.equal(ev('camera', 'udp', '192.168.50.70', 5353).rule, 'profiles.camera.allow[4]', 'the /28 inside is still in iot\'s CIDR');
  t.notOk(ev('camera', 'udp', '192.168.1.2', 5353).allowed);
  t.equal(ev('hub', 'tcp', '192.168.50.70', 8080).rule, 'profiles.hub.allow[2]', 'segment:cameras, any port');
  t.notOk(ev('hub', 'tcp', '192.168.50.80', 8080).allowed);
  t.equal(ev('camera', 'tcp', '192.168.50.9', 554).rule, 'profiles.camera.allow[3]');
  t.notOk(ev('camera', 'tcp', '192.168.50.10', 554).allowed);
  t.notOk(ev('camera', 'tcp', '192.168.50.9', 554, [], noDev).allowed, 'device without addresses');
  t.equal(ev('camera', 'tcp', 'fd00:50::9', 554, [], () => ['FD00:50:0::9']).rule, 'profiles.camera.allow[3]', 'v6 compared as bytes');
  t.notOk(ev('camera', 'tcp', '192.168.50.9', 555).allowed);
});

t.test('services', async (t) => {
  t.equal(ev('plug', 'udp', '192.168.50.1', 53).rule, 'profiles.plug.allow[0]', 'dns to resolver');
  t.equal(ev('plug', 'tcp', 'fd00:50::1', 53).rule, 'profiles.plug.allow[0]', 'dns/tcp to v6 resolver');
  t.notOk(ev('plug', 'udp', '8.8.8.8', 53).allowed, 'dns only to resolvers');
  t.notOk(ev('plug', 'tcp', '192.168.50.1', 853).allowed, 'DoT is not service dns');
  t.equal(ev('plug', 'tcp', '9.9.9.9', 853).rule, 'profiles.plug.allow[1]');
  t.equal(ev('quarantine', 'udp', '255.255.255.255', 67).rule, 'profiles.quarantine.allow[0]');
  t.equal(ev('quarantine', 'udp', 'ff02::1:2', 547).rule, 'profiles.quarantine.allow[0]');
  t.notOk(ev('quarantine', 'udp', '255.255.255.255', 69).allowed);
  t.equal(ev('camera', 'udp', '129.6.15.28', 123).rule, 'profiles.camera.allow[2]');
  t.notOk(ev('camera', 'tcp', '129.6.15.28', 123).allowed);
  t.equal(ev('hub', 'udp', '224.0.0.251', 5353).rule, 'profiles.hub.allow[0]');
  t.equal(ev('hub', 'udp', 'ff02::fb', 5353).rule, 'profiles.hub.allow[0]');
  t.notOk(ev('hub', 'udp', '192.168.1.5', 5353).allowed, 'mdns only to the group');
  t.equal(ev('hub', 'udp', '239.255.255.250', 1900).rule, 'profiles.hub.allow[1]');
  t.equal(ev('hub', 'udp', 'ff02::c', 1900).rule, 'profiles.hub.allow[1]');
  t.equal(ev('tv', 'icmp', '8.8.8.8', 0).rule, 'profiles.tv.allow[0]');
  t.equal(ev('tv', 'icmpv6', '2001:db8::1', 128).rule, 'profiles.tv.allow[0]');
  t.notOk(ev('tv', 'udp', '8.8.8.8', 33434).allowed);
});

t.test('icmp port spec, numeric protocols, unknown profile', async (t) => {
  t.equal(ev('camera', 'icmp', '8.8.8.8', 8).rule, 'profiles.camera.allow[8]');
  t.equal(ev('camera', 1, '8.8.8.8', 0).rule, 'profiles.camera.allow[8]', 'numeric proto 1');
  t.equal(ev('camera', 'icmpv6', 'fe80::1', 0).rule, 'profiles.camera.allow[8]');
  t.notOk(ev('camera', 47, '52.94.1.1', 0).allowed, 'GRE is not allowed by port rules');
  t.equal(ev('hub', 47, '192.168.50.70', 0).rule, 'profiles.hub.allow[2]', 'a rule without ports allows any protocol');
  t.same(ev('nope', 'tcp', '1.1.1.1', 443), { allowed: false, rule: '', awaitingName: false });
  t.notOk(ev('camera', 'tcp', 'garbage', 443).allowed, 'a bad address never throws');
});

t.test('limits', async (t) => {
  const q = loadPolicyText(TEXT.replace('      - { ports: ["icmp"] }\n', '      - { ports: ["icmp"] }\n    limits: { bytes_per_hour: 500MB, bytes_per_day: 1GiB }\n'), 'l.yaml');
  t.same(q.errors, []);
  t.same(q.policy!.limits('camera'), { bytesPerHour: 500_000_000, bytesPerDay: 1024 ** 3 });
  t.same(q.policy!.limits('hub'), {});
  t.same(q.policy!.limits('nope'), {});
});
