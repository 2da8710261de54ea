// Who opened a flow, as the detection stage decides it: only flows a device opened are judged
// against its profile. Each case next to a near miss that must still be reported.

import t from 'tap';
import { opener, orient, isServicePort } from '../../../collector/detect/flow.js';
import { DOORBELL_IP, DOORBELL_MAC, PLUG_IP, PLUG_MAC, T0, harness, recordOf, start } from './helpers.js';

const CLOUD = '203.0.113.5';

t.test('opener(): a TCP flow without its SYN is the client\'s whose peer is on a service port', async (t) => {
  const mid = (sport: number, dport: number) => start({ src: PLUG_IP, sport, dst: CLOUD, dport, tcpFlags: 0x18, sureInitiator: false });
  const a = mid(50123, 443);
  t.equal(opener(a), a, 'client spoke first: as it is, no copy');
  t.match(opener(mid(443, 50123)), { src: CLOUD, sport: 50123, dst: PLUG_IP, dport: 443 }, 'server spoke first: turned round');
  t.match(opener(mid(8883, 50123)), { src: CLOUD, dport: 8883 }, 'MQTT over TLS is a service port above 1023');
  t.match(opener(mid(50123, 9999)), { src: PLUG_IP, dport: 9999 }, 'Kasa 9999');
  t.equal(opener(mid(50123, 50999)), 'unknown', 'neither side on a service port');
  t.equal(opener(mid(443, 8443)), 'unknown', 'both sides on service ports');
  t.equal(opener(mid(22, 443)), 'unknown', 'both below 1024');
  t.ok(isServicePort(1883) && isServicePort(8080) && isServicePort(1) && !isServicePort(0) && !isServicePort(49152));
  const syn = start({ src: PLUG_IP, sport: 443, dst: CLOUD, dport: 50999 });
  t.equal(opener(syn), syn, 'a SYN settles it whatever the ports');
  for (const k of ['late', 'icmp-error', 'discovery-reply'] as const) t.equal(opener(start({ firstPacket: k })), 'none', k);
  t.equal(orient(mid(50123, 50999)).src, PLUG_IP, 'orient() keeps a side for clear-text checks');
});

t.test('mid-flow TCP: nobody is judged when the ports cannot tell; the engine counts it', async (t) => {
  const h = harness();
  // the plug's RST to a cloud server's late TLS alert, on two ephemeral-looking ports (a CDN on 50443)
  h.engine.flowStart(start({ src: PLUG_IP, srcMac: PLUG_MAC, sport: 50123, dst: CLOUD, dport: 50443, tcpFlags: 0x04, sureInitiator: false }));
  // and one where both ports are services
  h.engine.flowStart(start({ src: PLUG_IP, srcMac: PLUG_MAC, sport: 8080, dst: CLOUD, dport: 443, tcpFlags: 0x10, sureInitiator: false }));
  // a flow of two outside hosts is nobody's business, not even a count
  h.engine.flowStart(start({ src: '198.51.100.1', srcMac: '', sport: 50000, dst: CLOUD, dport: 50001, tcpFlags: 0x10, sureInitiator: false }));
  h.engine.flush();
  t.same(h.out, [], 'no anomaly');
  t.equal(h.engine.stats().directionUnknown, 2, 'direction_unknown counts the two with a watched end');
  t.equal(h.engine.stats().flowsJudged, 0);
});

t.test('near misses: mid-flow TCP the device did open is still reported', async (t) => {
  const h = harness();
  // capture began mid-session: the plug, on an ephemeral port, talks to a server's 8443
  h.engine.flowStart(start({ src: PLUG_IP, srcMac: PLUG_MAC, sport: 50123, dst: CLOUD, dport: 8443, tcpFlags: 0x18, sureInitiator: false }));
  // the server's segment came first this time: still the plug's connection
  h.engine.flowStart(start({ src: CLOUD, srcMac: '02:00:00:00:00:fe', sport: 1883, dst: PLUG_IP, dstMac: PLUG_MAC, dport: 50124, tcpFlags: 0x18, sureInitiator: false }));
  h.engine.flush();
  t.same(h.out.filter((a) => a.kind === 'policy.violation').map((a) => [a.device, a.peer, a.peerPort]).sort(),
    [['plug', CLOUD, 1883], ['plug', CLOUD, 8443]], 'both are the plug\'s (plain MQTT is also clear text)');
  t.equal(h.engine.stats().directionUnknown, 0);
});

t.test('late segments, ICMP errors and discovery replies raise nothing; the same flows as plain first packets do', async (t) => {
  const cases = [
    // the late TLS alert of a closed session, first sender the cloud on 443
    start({ src: CLOUD, sport: 443, dst: PLUG_IP, dstMac: PLUG_MAC, dport: 50123, srcMac: '02:00:00:00:00:fe', tcpFlags: 0x18, sureInitiator: false, firstPacket: 'late' }),
    // the plug's port unreachable to a peer in the lan (protected)
    start({ proto: 'icmp', src: PLUG_IP, srcMac: PLUG_MAC, sport: 0, dst: '192.168.1.30', dport: 0, tcpFlags: 0, sureInitiator: false, firstPacket: 'icmp-error' }),
    // the plug answering a phone's Kasa discovery from 9999
    start({ proto: 'udp', src: PLUG_IP, srcMac: PLUG_MAC, sport: 9999, dst: '192.168.50.77', dport: 51000, tcpFlags: 0, sureInitiator: false, firstPacket: 'discovery-reply' }),
  ];
  const quiet = harness();
  for (const c of cases) quiet.engine.flowStart(c);
  quiet.engine.flush();
  t.same(quiet.out, [], 'nothing');
  t.equal(quiet.engine.stats().directionUnknown, 0, 'not counted as unknown: they belong to another flow');

  const loud = harness();
  for (const c of cases) loud.engine.flowStart({ ...c, firstPacket: undefined, id: c.id + 100_000 });
  loud.engine.flush();
  t.same(loud.out.map((a) => [a.kind, a.peerPort]).sort(), [['policy.violation', 443], ['policy.violation', 51000], ['segment.crossing', 0]],
    'plain first packets: the plug is reported each time');
});

t.test('a TLS SNI that comes after the verdict fills peerName in later updates of the open anomaly', async (t) => {
  const h = harness({ settings: { anomalyUpdateMs: 1000 } });
  // the smart-plug profile names domains, but the quarantine profile (here: an unlisted device) names none:
  // the verdict is at the SYN, before any name
  const s = start({ src: '192.168.50.99', srcMac: 'aa:bb:cc:00:00:99', dst: '54.9.9.9', dport: 443 });
  h.engine.flowStart(s);
  t.equal(h.first.filter((a) => a.kind === 'policy.violation')[0]?.peerName, '', 'opened without a name');
  h.engine.flowName(s.id, 'c2.evil.example');
  h.engine.flowRecord(recordOf(s, { final: false, end: T0 + 5000 }));
  h.engine.tick(T0 + 10_000);
  const updates = h.events.filter(([e, a]) => e === 'updated' && a.kind === 'policy.violation');
  t.ok(updates.length >= 1, 'an update was written');
  t.equal(updates[updates.length - 1][1].peerName, 'c2.evil.example', 'the update carries the name');
  h.engine.flush();
  t.equal(h.out.find((a) => a.kind === 'policy.violation')?.peerName, 'c2.evil.example', 'and the closing');

  // near miss: a name on a flow that raised nothing does not touch another flow's anomaly
  const h2 = harness();
  const d = start({ src: '192.168.50.99', srcMac: 'aa:bb:cc:00:00:99', dst: '54.9.9.9', dport: 443 });
  h2.engine.flowStart(d);
  h2.engine.flowName(d.id + 12345, 'other.example');
  h2.engine.flush();
  t.equal(h2.out.find((a) => a.kind === 'policy.violation')?.peerName, '', 'unnamed');
});

t.test('a reply to the device from a port below 1024 is not the device\'s (DOORBELL near miss of the UDP rule)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', src: '198.51.100.7', srcMac: '02:00:00:00:00:fe', sport: 123, dst: DOORBELL_IP, dstMac: DOORBELL_MAC, dport: 40123, tcpFlags: 0, sureInitiator: false }));
  // the doorbell really opening udp from 9999 to an outside host is reported
  h.engine.flowStart(start({ proto: 'udp', src: DOORBELL_IP, sport: 9999, dst: '198.51.100.7', dport: 51000, tcpFlags: 0, sureInitiator: false }));
  h.engine.flush();
  t.same(h.out.map((a) => [a.kind, a.peer, a.peerPort]), [['policy.violation', '198.51.100.7', 51000]]);
});
