import t from 'tap';
import { DOORBELL_IP, DOORBELL_IP6, PLUG_IP, PLUG_MAC, T0, harness, kinds, start } from './helpers.js';

t.test('positive: plain DNS and DoT to resolvers that are not approved', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', dst: '8.8.8.8', dport: 53, tcpFlags: 0, sport: 40001 }));
  h.engine.flowStart(start({ proto: 'tcp', dst: '1.1.1.1', dport: 853 }));
  h.engine.flowStart(start({ proto: 'udp', src: DOORBELL_IP6, dst: '2001:4860:4860::8888', dport: 53, tcpFlags: 0 }));
  h.engine.flush();
  t.same(kinds(h.out), ['dns.bypass', 'dns.bypass', 'dns.bypass'], 'dns.bypass takes precedence over policy.violation');
  const dot = h.out.find((a) => a.peerPort === 853)!;
  t.match(dot, { severity: 'high', peer: '1.1.1.1', proto: 'tcp', rule: 'resolvers', device: 'doorbell' });
  t.match(dot.message, /dns-over-tls \(tcp\/853\) to 1\.1\.1\.1, which is not an approved resolver/);
});

t.test('one anomaly per (device, peer): repeated queries raise the count', async (t) => {
  const h = harness();
  for (let i = 0; i < 10; i++) h.engine.flowStart(start({ proto: 'udp', dst: '8.8.8.8', dport: 53, sport: 40000 + i, tcpFlags: 0, time: T0 + i * 100 }));
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.equal(h.out[0].count, 10);
});

t.test('near miss: DNS to the approved resolver (v4 and v6)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', dst: '192.168.50.1', dport: 53, tcpFlags: 0 }));
  h.engine.flowStart(start({ proto: 'udp', src: DOORBELL_IP6, dst: 'fd00:50::1', dport: 53, tcpFlags: 0 }));
  h.engine.flowStart(start({ proto: 'udp', src: PLUG_IP, srcMac: PLUG_MAC, dst: '192.168.50.1', dport: 53, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: mDNS to the multicast group is not DNS bypass', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', sport: 5353, dst: '224.0.0.251', dport: 5353, tcpFlags: 0 }));
  h.engine.flowStart(start({ proto: 'udp', src: DOORBELL_IP6, sport: 5353, dst: 'ff02::fb', dport: 5353, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: a resolver the profile allows explicitly (9.9.9.9 53/udp)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', dst: '9.9.9.9', dport: 53, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: DNS bypass by a device outside the watched segment', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', src: '192.168.1.5', srcMac: '02:00:00:00:01:05', dst: '8.8.8.8', dport: 53, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: a public resolver queries nothing; its answer to an approved-resolver flow is not bypass', async (t) => {
  const h = harness();
  // an answer from the approved resolver, request not seen (UDP from 53 to an ephemeral port)
  h.engine.flowStart(start({ proto: 'udp', src: '192.168.50.1', srcMac: '02:00:00:00:00:01', sport: 53, dst: DOORBELL_IP, dport: 40002, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});
