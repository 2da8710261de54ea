import t from 'tap';
import { DOORBELL_IP, DOORBELL_MAC, T0, harness, kinds, start, vlanPolicy } from './helpers.js';

t.test('positive: the doorbell opens telnet to the internet', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dst: '203.0.113.9', dport: 23 }));
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation', 'protocol.plaintext']);
  const a = h.out.find((x) => x.kind === 'protocol.plaintext')!;
  t.match(a, { severity: 'high', device: 'doorbell', peer: '203.0.113.9', peerPort: 23, proto: 'tcp' });
  t.match(a.message, /opened tcp\/23 \(telnet\) to 203\.0\.113\.9/);
});

t.test('positive: someone opens telnet 2323 to the doorbell (the device serves it)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: '198.51.100.7', srcMac: '02:00:00:00:00:fe', sport: 51515, dst: DOORBELL_IP, dstMac: DOORBELL_MAC, dport: 2323 }));
  h.engine.flush();
  // the Internet reaching it is device.exposed (device-exposed.ts), not the doorbell's violation
  t.same(kinds(h.out), ['device.exposed', 'protocol.plaintext'], 'no policy.violation: the device did not open it');
  const a = h.out.find((x) => x.kind === 'protocol.plaintext')!;
  t.match(a, { device: 'doorbell', ip: DOORBELL_IP, peer: '198.51.100.7', peerPort: 2323 });
  t.match(a.message, /serves it in clear text/);
});

t.test('positive: plain MQTT is reported even when the policy allows the flow', async (t) => {
  const h = harness();
  h.inv.addName(DOORBELL_IP, '203.0.113.50', 'mqtt.example.net', T0 + 60_000);
  h.engine.flowStart(start({ dst: '203.0.113.50', dport: 1883 }));
  h.engine.flowStart(start({ dst: '203.0.113.51', dport: 21 }));
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation', 'protocol.plaintext', 'protocol.plaintext']);
  t.same(h.out.filter((a) => a.kind === 'protocol.plaintext').map((a) => a.peerPort).sort(), [1883, 21].sort());
});

t.test('positive: HTTP Basic auth signalled by the pipeline', async (t) => {
  const h = harness();
  const s = start({ dst: '52.94.3.3', dport: 80 });
  h.engine.signal(s, 'http-basic-auth');
  h.engine.flush();
  t.same(kinds(h.out), ['protocol.plaintext']);
  t.match(h.out[0], { rule: 'plaintext.http-basic-auth', peerPort: 80 });
  t.match(h.out[0].message, /HTTP Basic auth/);
});

t.test('near miss: MQTT over TLS (8883) is not clear text', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dst: '203.0.113.50', dport: 8883 }));
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation']);
});

t.test('near miss: telnet between hosts that are not watched', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: '192.168.1.5', srcMac: '02:00:00:00:01:05', dst: '203.0.113.9', dport: 23 }));
  h.engine.signal(start({ src: '192.168.1.5', dst: '203.0.113.9', dport: 80 }), 'http-basic-auth');
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: telnet on another VLAN than the watched one', async (t) => {
  const h = harness({ policy: vlanPolicy(50) });
  h.engine.flowStart(start({ dst: '203.0.113.9', dport: 23, vlan: 51 }));
  h.engine.flowStart(start({ dst: '203.0.113.9', dport: 23, vlan: 50 }));
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation', 'protocol.plaintext']);
});

t.test('near miss: a telnet client port (sport 23) answering is not a new telnet session', async (t) => {
  const h = harness();
  // the doorbell's own telnet client session seen mid-flow: server 203.0.113.9:23 -> doorbell
  h.engine.flowStart(start({ src: '203.0.113.9', sport: 23, dst: DOORBELL_IP, dport: 50123, tcpFlags: 0x18, sureInitiator: false }));
  h.engine.flush();
  t.same(kinds(h.out), ['policy.violation', 'protocol.plaintext'], 'oriented as the doorbell\'s telnet session: reported once, as its own');
  t.equal(h.out[0].peer, '203.0.113.9');
});
