import t from 'tap';
import { DOORBELL_IP, DOORBELL_IP6, DOORBELL_MAC, NVR_IP, harness, kinds, start } from './helpers.js';

t.test('positive: the doorbell opens telnet into the protected lan', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dst: '192.168.1.20', dport: 23 }));
  h.engine.flush();
  t.same(kinds(h.out), ['protocol.plaintext', 'segment.crossing'], 'crossing replaces policy.violation; clear text is its own cause');
  const a = h.out.find((x) => x.kind === 'segment.crossing')!;
  t.match(a, { severity: 'critical', device: 'doorbell', peer: '192.168.1.20', peerPort: 23, segment: 'iot', profile: 'camera', rule: 'protected.lan' });
  t.equal(a.message, 'doorbell (192.168.50.10) opened tcp/23 (telnet) to 192.168.1.20 in protected segment lan: block it or allow it in profile camera');
});

t.test('positive: IPv6 into the protected lan', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: DOORBELL_IP6, dst: 'fd00:1::20', dport: 445 }));
  h.engine.flush();
  t.same(kinds(h.out), ['segment.crossing']);
  t.equal(h.out[0].ip, DOORBELL_IP6);
});

t.test('near miss: a flow into lan that an allow rule permits (device:nvr 554/tcp)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dst: NVR_IP, dport: 554 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: the same NVR on a port the rule does not allow is a crossing', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ dst: NVR_IP, dport: 80 }));
  h.engine.flush();
  t.same(kinds(h.out), ['segment.crossing']);
});

t.test('near miss: a lan host opens a flow to the doorbell (inbound, not the device\'s flow)', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: NVR_IP, srcMac: 'aa:bb:cc:00:00:30', sport: 50000, dst: DOORBELL_IP, dstMac: DOORBELL_MAC, dport: 80 }));
  // and the doorbell's answers, seen first because the capture started mid-flow
  h.engine.flowStart(start({ src: DOORBELL_IP, sport: 554, dst: NVR_IP, dport: 50001, tcpFlags: 0x18, sureInitiator: false }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: lan to lan traffic involves no watched device', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ src: '192.168.1.5', srcMac: '02:00:00:00:01:05', dst: '192.168.1.20', dport: 23 }));
  h.engine.flush();
  t.same(h.out, []);
});
