import t from 'tap';
import { DOORBELL_IP, T0, harness, start } from './helpers.js';

t.test('positive: 1000 ports of one lan host give one scan.ports anomaly', async (t) => {
  const h = harness();
  for (let i = 0; i < 1000; i++) h.engine.flowStart(start({ dst: '192.168.1.20', dport: 1 + i, time: T0 + i * 10 }));
  h.engine.flush();
  const scans = h.out.filter((a) => a.kind === 'scan.ports');
  t.equal(scans.length, 1, 'one scan.ports');
  // the 31 ports before the 32nd made it a scan were delivered when they happened
  t.same(h.out.filter((a) => a.kind === 'segment.crossing').map((a) => a.peerPort), Array.from({ length: 31 }, (_, i) => i + 1), 'ports before the scan stay crossings; from the scan on they fold into it');
  h.out.splice(0, h.out.length, ...scans);
  t.match(h.out[0], { kind: 'scan.ports', severity: 'high', device: 'doorbell', ip: DOORBELL_IP, peer: '192.168.1.20', peerPort: 0, count: 1000 });
  t.match(h.out[0].message, /at least 32 distinct ports of 192\.168\.1\.20 within 60 s/);
});

t.test('near miss: 31 ports is not a scan', async (t) => {
  const h = harness();
  for (let i = 0; i < 31; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + i }));
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'scan.ports'));
  t.equal(h.out.filter((a) => a.kind === 'policy.violation').length, 31, 'each port stays its own violation');
});

t.test('near miss: 40 ports over 20 minutes', async (t) => {
  const h = harness();
  for (let i = 0; i < 40; i++) {
    h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + i * 30_000 }));
    h.engine.tick(T0 + i * 30_000);
  }
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'scan.ports'));
});

t.test('near miss: many flows to one port (source ports differ)', async (t) => {
  const h = harness();
  for (let i = 0; i < 500; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 8080, sport: 20000 + i, time: T0 + i }));
  h.engine.flush();
  t.same(h.out.map((a) => [a.kind, a.count]), [['policy.violation', 500]]);
});

t.test('near miss: allowed flows to many ports of a STUN range are counted but few', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', dst: '52.94.1.1', dport: 3478, tcpFlags: 0 }));
  h.engine.flowStart(start({ proto: 'udp', dst: '52.94.1.1', dport: 3479, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('memory stays bounded: (scanner, target) pairs are capped; a running port scan survives a sweep', async (t) => {
  const h = harness({ settings: { scanMaxSources: 16 } }); // 256 pairs
  for (let i = 0; i < 40; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + i }));
  for (let i = 0; i < 5000; i++) h.engine.flowStart(start({ src: '192.168.50.12', srcMac: '', dst: `10.1.${i >> 8}.${i & 255}`, dport: 80, time: T0 + 100 + i }));
  for (let i = 40; i < 60; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + 6000 + i }));
  const tracked = h.engine.stats().scanPortsTracked;
  t.ok(tracked > 0 && tracked <= 256, `tracked ${tracked}`);
  h.engine.flush();
  t.same(h.out.filter((a) => a.kind === 'scan.ports').map((a) => a.count), [60], 'one port scan, all 60 ports');
});
