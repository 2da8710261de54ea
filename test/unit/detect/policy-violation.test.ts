import t from 'tap';
import {
  ANOMALY_FIELDS, DOORBELL_IP, DOORBELL_IP6, DOORBELL_MAC, T0, harness, kinds, recordOf, start, vlanPolicy,
} from './helpers.js';

t.test('positive: the doorbell opens a flow its profile does not allow', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dport: 8080, dst: '203.0.113.5' }));
  t.equal(h.first.length, 1, 'first occurrence reported at once (for alerts)');
  t.equal(h.out.length, 0, 'the aggregate is held until its window ends');
  h.engine.flush();
  t.equal(h.out.length, 1);
  const a = h.out[0];
  t.match(a, {
    kind: 'policy.violation', severity: 'high', device: 'doorbell', mac: DOORBELL_MAC, ip: DOORBELL_IP,
    segment: 'iot', profile: 'camera', peer: '203.0.113.5', peerName: '', peerPort: 8080, proto: 'tcp', count: 1,
    time: new Date(T0).toISOString(), firstSeen: new Date(T0).toISOString(), rule: 'profiles.camera',
  });
  t.match(a.message, /doorbell \(192\.168\.50\.10\) opened tcp\/8080 to 203\.0\.113\.5.*profile camera/);
  for (const [k, type] of Object.entries(ANOMALY_FIELDS)) t.type((a as unknown as Record<string, unknown>)[k], type, `field ${k}`);
});

t.test('repeats of the same (device, peer, port) are one anomaly with a count and the flows\' bytes', async (t) => {
  const h = harness();
  for (let i = 0; i < 5; i++) {
    const s = start({ dport: 8080, time: T0 + i * 1000 });
    h.engine.flowStart(s);
    h.engine.flowRecord(recordOf(s, { end: s.time + 500 }));
  }
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.equal(h.out[0].count, 5);
  t.equal(h.out[0].bytes, 5 * 8000, 'both directions of every flow');
  t.equal(h.out[0].packets, 5 * 18);
  t.equal(h.out[0].lastSeen, new Date(T0 + 4500).toISOString());
});

t.test('near miss: inbound flow the device did not open', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: '203.0.113.5', sport: 50000, dst: DOORBELL_IP, dport: 8080, srcMac: '02:00:00:00:00:fe', dstMac: DOORBELL_MAC }));
  h.engine.flush();
  // not the doorbell's violation: the Internet reaching it is device.exposed (device-exposed.ts)
  t.same(kinds(h.out), ['device.exposed']);
});

t.test('near miss: replies to an allowed flow whose opening was not seen', async (t) => {
  const h = harness();
  // capture began mid-flow: first packet is the server's answer (no SYN)
  h.engine.flowStart(start({ src: '52.94.1.1', sport: 443, dst: DOORBELL_IP, dport: 51000, tcpFlags: 0x18, sureInitiator: false }));
  // a UDP answer from a STUN server the profile allows
  h.engine.flowStart(start({ proto: 'udp', src: '52.94.1.1', sport: 3478, dst: DOORBELL_IP, dport: 3478, tcpFlags: 0 }));
  // NTP answer from the internet to the doorbell
  h.engine.flowStart(start({ proto: 'udp', src: '192.168.50.1', sport: 123, dst: DOORBELL_IP, dport: 40123, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: a domain allowed through the DNS answers the device received', async (t) => {
  const h = harness();
  h.inv.addName(DOORBELL_IP, '54.1.2.3', 'fw.ring.com', T0 + 60_000);
  h.engine.flowStart(start({ dst: '54.1.2.3', dport: 443 }));
  h.engine.flush();
  t.same(h.out, []);
  t.equal(h.engine.stats().parked, 0, 'decided at the first packet, never parked');
});

t.test('near miss: the same domain through SNI arriving after the SYN', async (t) => {
  const h = harness();
  const s = start({ dst: '54.1.2.3', dport: 443 });
  h.engine.flowStart(s);
  t.equal(h.engine.stats().parked, 1, 'parked: a domain rule could still allow it');
  h.engine.tick(T0 + 5000);
  t.same(h.first, [], 'nothing reported while the name is pending');
  h.engine.flowName(s.id, 'fw.ring.com');
  h.engine.flowRecord(recordOf(s));
  h.engine.flush();
  t.same(h.out, []);
  t.equal(h.engine.stats().parkedJudgedOnName, 1);
});

t.test('parked flow with a name the profile does not allow is judged when the name arrives', async (t) => {
  const h = harness();
  const s = start({ dst: '54.1.2.3', dport: 443 });
  h.engine.flowStart(s);
  h.engine.flowName(s.id, 'evil.example.org');
  t.equal(h.first.length, 1, 'reported at name arrival, not later');
  t.match(h.first[0], { kind: 'policy.violation', peer: '54.1.2.3', peerName: 'evil.example.org', peerPort: 443 });
  h.engine.flowRecord(recordOf(s));
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.equal(h.out[0].bytes, 8000, 'later traffic of the flow joins the anomaly');
});

t.test('parked flow without a name is judged at its final record, with its bytes', async (t) => {
  const h = harness();
  const s = start({ dst: '54.1.2.3', dport: 443 });
  h.engine.flowStart(s);
  h.engine.flowRecord(recordOf(s, { final: false, bytes: 500, bytesRev: 500, packets: 2, packetsRev: 2 }));
  t.equal(h.first.length, 0, 'an interim record without a name keeps it parked');
  h.engine.flowRecord(recordOf(s));
  t.equal(h.first.length, 1, 'judged at flow end');
  h.engine.flush();
  t.match(h.out[0], { kind: 'policy.violation', peerName: '', bytes: 8000, packets: 18 });
  t.equal(h.engine.stats().parkedJudgedAtEnd, 1);
});

t.test('a violating flow\'s interim (delta) and final records all add to its anomaly', async (t) => {
  const h = harness();
  const s = start({ dport: 8080, bytes: 60 });
  h.engine.flowStart(s);
  h.engine.flowRecord(recordOf(s, { end: T0 + 1000, bytes: 1000, bytesRev: 0, packets: 10, packetsRev: 0, final: false }));
  h.engine.flowRecord(recordOf(s, { start: T0 + 1001, end: T0 + 2000, bytes: 500, bytesRev: 0, packets: 5, packetsRev: 0, final: true }));
  h.engine.flush();
  t.match(h.out[0], { kind: 'policy.violation', bytes: 1500, packets: 15, lastSeen: new Date(T0 + 2000).toISOString() });
});

t.test('parked flow whose end never comes is judged at flush: never silently skipped', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dst: '54.1.2.3', dport: 443 }));
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.equal(h.out[0].kind, 'policy.violation');
  t.equal(h.engine.stats().parkedJudgedAtFlush, 1);
});

t.test('parked flows beyond the cap are judged at once, oldest first', async (t) => {
  const h = harness({ settings: { parkMax: 2 } });
  for (let i = 0; i < 3; i++) h.engine.flowStart(start({ dst: `54.1.2.${i + 1}`, dport: 443 }));
  t.equal(h.first.length, 1);
  t.equal(h.first[0].peer, '54.1.2.1');
  h.engine.flush();
  t.equal(h.out.length, 3);
});

t.test('IPv6: violation from the doorbell\'s v6 address; v6 allowed peer and inbound v6 are not', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: DOORBELL_IP6, dst: '2001:db8:66::1', dport: 8443 }));
  h.engine.flowStart(start({ src: DOORBELL_IP6, dst: '2001:db8:94::5', dport: 443 }));
  h.engine.flowStart(start({ src: '2001:db8:66::1', sport: 50000, dst: DOORBELL_IP6, dport: 22, srcMac: '02:00:00:00:00:fe', dstMac: DOORBELL_MAC }));
  h.engine.flush();
  // the inbound one is the Internet reaching the doorbell: device.exposed, not its violation
  t.same(kinds(h.out), ['device.exposed', 'policy.violation']);
  t.match(h.out.find((a) => a.kind === 'device.exposed'), { ip: DOORBELL_IP6, peer: '2001:db8:66::1', peerPort: 22 });
  t.match(h.out.find((a) => a.kind === 'policy.violation'), { kind: 'policy.violation', ip: DOORBELL_IP6, device: 'doorbell', peer: '2001:db8:66::1', peerPort: 8443 });
});

t.test('VLAN: only frames of the watched VLAN are judged', async (t) => {
  const h = harness({ policy: vlanPolicy(50) });
  h.engine.flowStart(start({ dport: 8080, vlan: 50 }));
  h.engine.flowStart(start({ dport: 8081, vlan: 60 }));
  h.engine.flowStart(start({ dport: 8082, vlan: 0 }));
  h.engine.flush();
  t.same(h.out.map((a) => a.peerPort), [8080]);
});

t.test('a flow between two watched devices is judged as the opener\'s', async (t) => {
  const h = harness();
  // plug (smart-plug) opens tcp/80 to the doorbell: the plug's violation, not the doorbell's
  h.engine.flowStart(start({ src: '192.168.50.11', srcMac: 'aa:bb:cc:00:00:02', dst: DOORBELL_IP, dstMac: DOORBELL_MAC, dport: 80 }));
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation']);
  t.match(h.out[0], { device: 'plug', profile: 'smart-plug', peer: DOORBELL_IP });
});

t.test('a device the inventory does not know is placed by the policy (default profile)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: '192.168.50.99', srcMac: '02:11:22:33:44:55', dport: 443 }));
  // no MAC on the frame (NetFlow): the address is all there is to name it by
  h.engine.flowStart(start({ src: '192.168.50.98', srcMac: '', dport: 443 }));
  h.engine.flush();
  // named by its MAC, as the inventory will key it: never first by IP, then by MAC
  t.match(h.out[0], { kind: 'policy.violation', device: '02:11:22:33:44:55', profile: 'quarantine', mac: '02:11:22:33:44:55' });
  t.match(h.out[1], { kind: 'policy.violation', device: '192.168.50.98', profile: 'quarantine', mac: '' });
});
