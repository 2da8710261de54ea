// scan.ports through the engine, default settings: the fast rule (SYNs to 10 distinct ports of
// one host within 2 s) and the slow rule (failed attempts to 15 distinct ports of one host
// within 5 min, from flow records).
import t from 'tap';
import { DOORBELL_IP, T0, harness, recordOf, start } from './helpers.js';
import { PAIRS_PER_SOURCE } from '../../../collector/detect/scan-ports.js';

const scans = (l: { kind: string; count: number; rule: string }[]) => l.filter((x) => x.kind === 'scan.ports').map((x) => [x.count, x.rule]);

t.test('fast: 1000 ports of one lan host at 100 a second give one scan.ports at the tenth port', async (t) => {
  const h = harness();
  for (let i = 0; i < 1000; i++) h.engine.flowStart(start({ dst: '192.168.1.20', dport: 1 + i, time: T0 + i * 10 }));
  h.engine.flush();
  t.same(scans(h.out), [[1000, 'scanPortsFastThreshold']], 'one scan.ports');
  t.same(h.out.filter((a) => a.kind === 'segment.crossing').map((a) => a.peerPort), [1, 2, 3, 4, 5, 6, 7, 8, 9], 'ports before the scan stay crossings; from the scan on they fold into it');
  t.equal(h.out.filter((a) => a.kind === 'protocol.plaintext').length, 0, 'ftp and telnet probes (21, 23) fold into the scan');
  t.match(h.out.find((a) => a.kind === 'scan.ports'), { severity: 'high', device: 'doorbell', ip: DOORBELL_IP, peer: '192.168.1.20', peerPort: 0 });
  t.match(h.out.find((a) => a.kind === 'scan.ports')!.message, /10 distinct ports of 192\.168\.1\.20 within 2 s/);
});

t.test('fast near miss: 9 ports in 2 s; 40 ports one every 3 s (answered)', async (t) => {
  const h = harness();
  for (let i = 0; i < 9; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + i * 200 }));
  h.engine.flush();
  t.same(scans(h.out), []);
  t.equal(h.out.filter((a) => a.kind === 'policy.violation').length, 9, 'each port stays its own violation');
  const h2 = harness();
  for (let i = 0; i < 40; i++) {
    const s = start({ dst: '203.0.113.5', dport: 1000 + i, time: T0 + i * 3000 });
    h2.engine.flowStart(s);
    h2.engine.tick(s.time);
    h2.engine.flowRecord(recordOf(s));
  }
  h2.engine.flush();
  t.same(scans(h2.out), []);
});

t.test('slow: rejected attempts to 20 ports, one every 10 s, are one scan.ports at the 15th', async (t) => {
  const h = harness();
  for (let i = 0; i < 20; i++) {
    const s = start({ dst: '203.0.113.5', dport: 100 + i, time: T0 + i * 10_000 });
    h.engine.flowStart(s);
    h.engine.tick(s.time);
    h.engine.flowRecord(recordOf(s, { end: s.time + 2, packets: 1, packetsRev: 1, tcpFlags: 0x16 }));
  }
  h.engine.flush();
  t.same(scans(h.out), [[20, 'scanPortsThreshold']]);
  t.equal(h.out.filter((a) => a.kind === 'policy.violation').length, 15, 'the 15 ports before the scan was found stay violations');
  t.match(h.out.find((a) => a.kind === 'scan.ports')!.message, /at least 15 distinct ports of 203\.0\.113\.5 within 5 min/);
});

t.test('slow near miss: 14 failed ports; 30 answered ones', async (t) => {
  const run = (n: number, rev: number) => {
    const h = harness();
    for (let i = 0; i < n; i++) {
      const s = start({ dst: '203.0.113.5', dport: 100 + i, time: T0 + i * 10_000 });
      h.engine.flowStart(s);
      h.engine.flowRecord(recordOf(s, rev ? {} : { packets: 2, packetsRev: 0, tcpFlags: 0x02 }));
    }
    h.engine.flush();
    return scans(h.out);
  };
  t.same(run(14, 0), []);
  t.same(run(30, 1), []);
});

t.test('near miss: many flows to one port (source ports differ)', async (t) => {
  const h = harness();
  for (let i = 0; i < 500; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 8080, sport: 20000 + i, time: T0 + i }));
  h.engine.flush();
  t.same(h.out.map((a) => [a.kind, a.count]), [['policy.violation', 500]]);
});

t.test('near miss: allowed flows to two ports of a STUN range', async (t) => {
  const h = harness();
  h.engine.flowStart(start({ proto: 'udp', dst: '52.94.1.1', dport: 3478, tcpFlags: 0 }));
  h.engine.flowStart(start({ proto: 'udp', dst: '52.94.1.1', dport: 3479, tcpFlags: 0 }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('memory stays bounded: (scanner, target) pairs are capped; a running port scan survives a sweep', async (t) => {
  const h = harness({ settings: { scanMaxSources: 16 } });
  const cap = 16 * PAIRS_PER_SOURCE;
  for (let i = 0; i < 40; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + i }));
  for (let i = 0; i < 5000; i++) h.engine.flowStart(start({ src: '192.168.50.12', srcMac: '', dst: `10.1.${i >> 8}.${i & 255}`, dport: 80, time: T0 + 100 + i }));
  for (let i = 40; i < 60; i++) h.engine.flowStart(start({ dst: '203.0.113.5', dport: 1 + i, time: T0 + 6000 + i }));
  const tracked = h.engine.stats().scanPortsTracked;
  t.ok(tracked > 0 && tracked <= cap, `tracked ${tracked} of ${cap}`);
  h.engine.flush();
  t.same(h.out.filter((a) => a.kind === 'scan.ports').map((a) => a.count), [60], 'one port scan, all 60 ports');
});
