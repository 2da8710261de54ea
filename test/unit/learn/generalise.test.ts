// The generaliser on observations built by hand: services recognised, names grouped under
// their registrable domain only when several were used, addresses widened only as far as
// the rule budget needs, crossings and DNS bypass never learned, every rule commented.

import t from 'tap';
import { generalise, proposeHourly, seenText, type Site } from '../../../collector/learn/generalise.js';
import type { DeviceObs, OutObs, InObs } from '../../../collector/learn/observer.js';
import type { Proto } from '../../../collector/types.js';
import { loadPolicyText } from '../../../collector/policy/load.js';
import { stringify } from 'yaml';

const T0 = Date.UTC(2019, 1, 1, 10, 0);
const site: Site = {
  isResolver: (ip) => ip === '192.168.50.1',
  protectedSegment: (ip) => (ip.startsWith('192.168.1.') ? 'lan' : ''),
  segmentOf: (ip) => (ip.startsWith('192.168.50.') ? 'iot' : ip.startsWith('192.168.1.') ? 'lan' : ''),
};

function device(out: Array<[Proto, string, number, string[]?, number?]>, ins: Array<[Proto, string, number]> = []): DeviceObs {
  const d: DeviceObs = { key: 'aa:bb:cc:00:00:01', mac: 'aa:bb:cc:00:00:01', ips: ['192.168.50.21'], vlan: 0, out: new Map(), in: new Map(), buckets: new Map(), first: T0, last: T0, overflow: 0 };
  out.forEach(([proto, dst, dport, names = [], count = 1], i) => {
    const o: OutObs = { proto, dst, dport, dns: new Set(names), sni: new Set(), count, first: T0 + i * 60_000, last: T0 + i * 60_000 + 1000 };
    d.out.set(`${proto}|${dst}|${dport}`, o);
  });
  ins.forEach(([proto, src, dport], i) => {
    const o: InObs = { proto, src, dport, count: 1, first: T0 + i, last: T0 + i };
    d.in.set(`${proto}|${src}|${dport}`, o);
  });
  return d;
}

t.test('services, a domain glob for several names, a single name exact, comments', async (t) => {
  const d = device([
    ['udp', '192.168.50.1', 53], ['udp', '255.255.255.255', 67], ['udp', '129.6.15.28', 123], ['udp', '224.0.0.251', 5353],
    ['tcp', '198.51.100.10', 443, ['a.vendor.com']], ['tcp', '198.51.100.11', 443, ['b.vendor.com']],
    ['tcp', '203.0.113.9', 8883, ['mqtt.other.io']], ['tcp', '203.0.113.50', 443],
  ]);
  const l = generalise(d, site, { inbound: true, mark: 'learned' });
  t.same(l.allow.map(({ comment, ...r }) => r), [
    { service: 'dhcp' }, { service: 'dns' }, { service: 'ntp' }, { service: 'mdns' },
    { to: '*.vendor.com', ports: ['443/tcp'] },
    { to: '203.0.113.50', ports: ['443/tcp'] },
    { to: 'mqtt.other.io', ports: ['8883/tcp'] },
  ]);
  t.equal(l.allow[4].comment, 'learned: 2 flows, 2019-02-01 10:04 - 10:05 UTC', 'how often and when');
  t.same(l.notLearned, []);
});

t.test('crossings into protected segments and DNS to other resolvers are listed, never learned', async (t) => {
  const l = generalise(device([['tcp', '192.168.1.10', 445], ['udp', '8.8.8.8', 53], ['tcp', '1.1.1.1', 853], ['udp', '192.168.50.1', 53]]), site, { inbound: true });
  t.same(l.allow.map((r) => r.service ?? r.to), ['dns']);
  t.equal(l.notLearned.length, 3);
  t.match(l.notLearned[0], /^segment\.crossing: to 192\.168\.1\.10 445\/tcp in protected segment lan/);
  t.match(l.notLearned[1], /^dns\.bypass: DNS to 8\.8\.8\.8 53\/udp/);
  t.match(l.notLearned[2], /^dns\.bypass: DNS to 1\.1\.1\.1 853\/tcp/);
});

t.test('more than 8 rules: addresses widened to /24, peers in the site to their segment, port runs as ranges', async (t) => {
  const out: Array<[Proto, string, number]> = [];
  for (let i = 0; i < 6; i++) out.push(['tcp', `52.94.1.${i + 1}`, 443], ['udp', `52.94.1.${i + 1}`, 3478 + (i % 2)]);
  for (let i = 0; i < 5; i++) out.push(['tcp', `34.1.${i}.9`, 443]);
  for (let i = 0; i < 3; i++) out.push(['tcp', `192.168.50.${30 + i}`, 554]);
  const l = generalise(device(out), site, { inbound: true });
  t.ok(l.allow.length <= 8, `${l.allow.length} rules`);
  t.same(l.allow.find((r) => r.to === '52.94.1.0/24')?.ports, ['443/tcp', '3478-3479/udp']);
  t.same(l.allow.find((r) => r.to === 'segment:iot')?.ports, ['554/tcp']);
  t.same(l.notLearned, []);
});

t.test('what still does not fit is listed as rare, never widened to any host', async (t) => {
  const out: Array<[Proto, string, number, string[]?, number?]> = [];
  for (let i = 0; i < 12; i++) out.push(['tcp', `${10 + i * 7}.1.2.3`, 443, [], 12 - i]);
  const l = generalise(device(out), site, { inbound: true, maxRules: 8 });
  t.equal(l.allow.length, 8);
  t.ok(l.allow.every((r) => r.to !== undefined && r.to !== '0.0.0.0/0'));
  t.equal(l.notLearned.filter((n) => n.startsWith('rare')).length, 4, 'the four least used listed');
});

t.test('inbound rules: from whom to which of the device\'s ports', async (t) => {
  const l = generalise(device([], [['tcp', '192.168.50.30', 554], ['tcp', '192.168.50.30', 80], ['icmp', '192.168.50.1', 8 * 256]]), site, { inbound: true });
  t.same(l.allowIn.map(({ comment, ...r }) => r), [{ from: '192.168.50.30', ports: ['80/tcp', '554/tcp'] }, { from: '192.168.50.1', icmp: ['echo-request'] }]);
  const none = generalise(device([], [['tcp', '192.168.50.30', 554]]), site, { inbound: false });
  t.same(none.allowIn, []);
  t.equal(none.seenIn.length, 1, 'listed when the language has no inbound rules');
});

t.test('limits: the busiest hour, doubled, rounded up', async (t) => {
  const d = device([]);
  t.equal(proposeHourly(d), undefined);
  const b = Math.floor(T0 / 300_000);
  for (let i = 0; i < 24; i++) d.buckets.set(b + i, i === 5 ? 3e6 : 1e5);
  t.equal(proposeHourly(d), 1e7, '3 MB + 11 x 100 kB in the busiest hour, doubled: 8.2 MB -> 10MB');
  t.equal(seenText({ count: 1, first: T0, last: T0 + 86_400_000 }), '1 flow, 2019-02-01 10:00 - 2019-02-02 10:00 UTC');
});

t.test('a protocol without ports: its own `proto:` rule where the language has it, else a rule without ports', async (t) => {
  const d = device([['tcp', '192.168.50.1', 80], [2, '224.0.0.22', 0]]);
  t.same(generalise(d, site, { inbound: true, protoNumbers: true }).allow.map(({ comment, ...r }) => r), [{ to: '192.168.50.1', ports: ['80/tcp'] }, { to: '224.0.0.22', proto: 2 }]);
  t.same(generalise(d, site, { inbound: true }).allow.map(({ comment, ...r }) => r), [{ to: '192.168.50.1', ports: ['80/tcp'] }, { to: '224.0.0.22' }]);
});

t.test('a device the skeleton lists by an exact entry is written by its name', async (t) => {
  const named: Site = { ...site, deviceName: (ip) => (ip === '192.168.50.30' ? 'nvr' : '') };
  const l = generalise(device([['tcp', '192.168.50.30', 8000]], [['tcp', '192.168.50.30', 554]]), named, { inbound: true });
  t.same(l.allow.map((r) => r.to), ['device:nvr']);
  t.same(l.allowIn.map((r) => r.from), ['device:nvr']);
});

t.test('ICMP: the types seen, by name, in `icmp:`/`icmpv6:` rules of their own; the policy loads them and allows what was seen', async (t) => {
  const unreach = 3 * 256;
  const d = device([
    ['tcp', '198.51.100.7', 443], ['icmp', '198.51.100.7', 8 * 256],
    ['icmpv6', '2001:db8::7', 128 * 256], ['icmpv6', '2001:db8::7', 135 * 256],
  ], [
    // two codes of one type are that type; one code other than 0 is written TYPE/CODE; a type without a name by number
    ['icmp', '203.0.113.1', unreach + 1], ['icmp', '203.0.113.1', unreach + 3], ['icmp', '203.0.113.1', 11 * 256 + 1], ['icmp', '203.0.113.1', 42 * 256],
  ]);
  const l = generalise(d, site, { inbound: true, mark: 'learned' });
  const rules = (rs: typeof l.allow) => rs.map(({ comment, ...r }) => r);
  // the most used first (two flows, then one each)
  t.same(rules(l.allow), [
    { to: '2001:db8::7', icmpv6: ['echo-request', 'neighbor-solicitation'] },
    { to: '198.51.100.7', ports: ['443/tcp'] },
    { to: '198.51.100.7', icmp: ['echo-request'] },
  ], 'no `service: icmp` (every type to every host), no `ports: [icmp]`');
  t.same(rules(l.allowIn), [{ from: '203.0.113.1', icmp: ['destination-unreachable', 'time-exceeded/1', 42] }]);
  t.ok([...l.allow, ...l.allowIn].every((r) => /^learned: /.test(r.comment)), 'every rule commented');

  const text = stringify({
    version: 1, segments: { iot: ['192.168.50.0/24'] }, watch: ['iot'],
    devices: [{ name: 'cam', mac: 'aa:bb:cc:00:00:01', profile: 'cam' }], default_profile: 'cam',
    profiles: { cam: { allow: l.allow, allow_in: l.allowIn } },
  });
  const loaded = loadPolicyText(text, 'learned.yaml');
  t.same(loaded.errors, [], 'the rules are the policy language\'s');
  const p = loaded.policy!;
  const ev = (proto: Proto, dst: string, dport: number) => p.evaluate('cam', { proto, dst, dport }, [], () => []).allowed;
  t.ok(ev('icmp', '198.51.100.7', 8 * 256), 'the ping seen is allowed');
  t.notOk(ev('icmp', '198.51.100.7', 13 * 256), 'another type is not');
  t.notOk(ev('icmp', '198.51.100.8', 8 * 256), 'nor the same ping to another host');
  t.ok(ev('icmpv6', '2001:db8::7', 135 * 256));
});
