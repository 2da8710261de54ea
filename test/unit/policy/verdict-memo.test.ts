// The verdict memo of a compiled policy (Policy.judge): a remembered verdict must be the one a
// fresh evaluation gives, whatever order flows come in, whichever slots collide, and whatever
// in a flow decides (peer, protocol, port, the one known name); flows whose verdict may hang
// on more than that (several names, device:, from_ports, manufacturer rules) are judged anew.
import t from 'tap';
import { loadPolicyText } from '../../../collector/policy/load.js';
import type { CompiledPolicy, FlowFacts } from '../../../collector/policy/types.js';
import { addrKey } from '../../../collector/inventory/addr-key.js';
import { textOf } from '../../../collector/types.js';

const TEXT = `version: 1
segments:
  iot: ["192.168.50.0/24"]
  lan: ["192.168.1.0/24"]
watch: [iot]
protected: [lan]
resolvers: ["192.168.50.1"]
devices:
  - { name: nvr, ip: "192.168.50.9", profile: hub }
  - { name: cam, mac: "aa:bb:cc:00:00:01", profile: camera }
default_profile: quarantine
profiles:
  camera:
    allow:
      - { to: "*.ring.com", ports: ["443/tcp"] }
      - { to: "52.94.0.0/16", ports: ["443/tcp", "3478-3479/udp"] }
      - { to: "52.94.7.7", ports: ["8000-8100/tcp"] }
      - { service: dns }
      - { service: ntp }
  hub:
    allow:
      - { to: "device:cam", ports: ["554/tcp"] }
      - { to: "10.0.0.0/8", ports: ["443/tcp"] }
      - { to: "10.1.0.0/16", from_ports: ["5000-5010/udp"], ports: ["9999/udp"] }
  quarantine:
    allow:
      - { service: dhcp }
      - { service: dns }
`;

function compile(): CompiledPolicy {
  const r = loadPolicyText(TEXT, 'memo.yaml');
  if (!r.policy) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

const ctx = { deviceIps: (name: string) => (name === 'cam' ? ['192.168.50.21'] : []), mudHostOf: () => '', selfMudHost: '' };

/** A small, colliding world: few peers, ports and names, so flows repeat as a device's do. */
function* flows(seed: number, n: number): Generator<{ profile: string; flow: FlowFacts; names: string[] }> {
  let x = seed;
  const rnd = (k: number) => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return (x >>> 8) % k; };
  const peers = ['52.94.1.2', '52.94.7.7', '192.168.50.1', '192.168.50.21', '10.1.2.3', '10.9.9.9', '8.8.8.8', '203.0.113.5', 'fd00:50::1'];
  const names = [[], ['a.ring.com'], ['b.ring.com'], ['evil.example'], ['a.ring.com', 'evil.example']];
  const protos = ['tcp', 'udp'] as const;
  const ports = [443, 53, 123, 3478, 8050, 554, 9999, 80];
  for (let i = 0; i < n; i++) {
    yield {
      profile: ['camera', 'hub', 'quarantine', 'nonesuch'][rnd(4)],
      flow: { proto: protos[rnd(2)], dst: peers[rnd(peers.length)], dport: ports[rnd(ports.length)], sport: [5005, 40000][rnd(2)] },
      names: names[rnd(names.length)],
    };
  }
}

t.test('a remembered verdict is the fresh one, flow after flow', async (t) => {
  const memo = compile();
  let checked = 0, allowed = 0, awaiting = 0;
  for (const [i, { profile, flow, names }] of [...flows(7, 5000)].entries()) {
    // every other flow gives the peer's addrKey() too (as the allowlist does), and its names
    // as a function (called only when a name rule could apply); every fourth its text as a
    // function too (as the allowlist does for a reused flow): the same verdicts either way
    const dst = textOf(flow.dst);
    const got = i % 2 === 0 ? memo.evaluate(profile, flow, names, ctx)
      : memo.evaluate(profile, { ...flow, dst: i % 4 === 3 ? () => dst : dst, dstKey: addrKey(dst) }, () => names, ctx);
    // a policy compiled anew has remembered nothing: its verdict is worked out from the rules
    const fresh = compile().evaluate(profile, flow, names, ctx);
    if (got.allowed !== fresh.allowed || got.rule !== fresh.rule || got.awaitingName !== fresh.awaitingName) {
      t.fail(`${profile} ${JSON.stringify(flow)} ${JSON.stringify(names)}: remembered ${JSON.stringify(got)}, fresh ${JSON.stringify(fresh)}`);
      return;
    }
    checked++;
    if (got.allowed) allowed++;
    if (got.awaitingName) awaiting++;
  }
  t.equal(checked, 5000);
  // the world exercises every outcome, so a memo that keyed on too little would show
  t.ok(allowed > 150 && awaiting > 15 && checked - allowed - awaiting > 1000, `allowed ${allowed}, awaiting a name ${awaiting}, denied ${checked - allowed - awaiting}`);
});

t.test('a peer given as a function is read when a rule needs its text: a device rule, an IPv6 peer', async (t) => {
  const p = compile();
  const calls: string[] = [];
  const lazy = (ip: string) => () => { calls.push(ip); return ip; };
  t.ok(p.evaluate('hub', { proto: 'tcp', dst: lazy('192.168.50.21'), dport: 554, dstKey: addrKey('192.168.50.21') }, [], ctx).allowed, 'device:cam');
  t.notOk(p.evaluate('hub', { proto: 'tcp', dst: lazy('192.168.50.22'), dport: 554, dstKey: addrKey('192.168.50.22') }, [], ctx).allowed, 'not the cam');
  t.same(p.evaluate('camera', { proto: 'udp', dst: lazy('fd00:50::1'), dport: 53 }, [], ctx).allowed, p.evaluate('camera', { proto: 'udp', dst: 'fd00:50::1', dport: 53 }, [], ctx).allowed, 'IPv6');
  calls.length = 0;
  t.ok(p.evaluate('camera', { proto: 'tcp', dst: lazy('52.94.1.2'), dport: 443, dstKey: addrKey('52.94.1.2') }, [], ctx).allowed);
  t.same(calls, [], 'an IPv4 peer with its key and no device rule at its port: its text is never made');
});

t.test('what decides is in the key: the port, the protocol, the name, the profile, the opener\'s port', async (t) => {
  const p = compile();
  const v = (profile: string, proto: 'tcp' | 'udp', dst: string, dport: number, names: string[] = [], sport = 40000) => p.evaluate(profile, { proto, dst, dport, sport }, names, ctx);
  t.ok(v('camera', 'tcp', '52.94.1.2', 443).allowed);
  t.notOk(v('camera', 'tcp', '52.94.1.2', 444).allowed, 'another port');
  t.notOk(v('camera', 'udp', '52.94.1.2', 443).allowed, 'another protocol');
  t.notOk(v('quarantine', 'tcp', '52.94.1.2', 443).allowed, 'another profile');
  t.ok(v('camera', 'tcp', '203.0.113.5', 443).awaitingName, 'no name yet');
  t.ok(v('camera', 'tcp', '203.0.113.5', 443, ['a.ring.com']).allowed, 'the name arrived');
  t.notOk(v('camera', 'tcp', '203.0.113.5', 443, ['evil.example']).allowed, 'another name');
  t.ok(v('hub', 'udp', '10.1.2.3', 9999, [], 5005).allowed, 'from_ports in range');
  t.notOk(v('hub', 'udp', '10.1.2.3', 9999, [], 40000).allowed, 'from_ports out of range: not the remembered allow');
  t.ok(v('hub', 'tcp', '192.168.50.21', 554).allowed, 'device: rule');
  const moved = { ...ctx, deviceIps: () => ['192.168.50.22'] };
  t.notOk(p.evaluate('hub', { proto: 'tcp', dst: '192.168.50.21', dport: 554 }, [], moved).allowed, 'the device moved: judged anew, not remembered');
});
