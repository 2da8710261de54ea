// The composition root on the demo capture: stages fed in order, and a stage that throws
// costs its frame, never the run. device_traffic to the byte on a synthetic conversation.

import t from 'tap';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { Pipeline } from '../../collector/pipeline.js';
import { loadPolicyFile } from '../../collector/policy/load.js';
import { openCapture } from '../../collector/sources/pcap-file.js';
import type { Anomaly, DeviceTraffic, FlowRecord, Sink } from '../../collector/types.js';
import { sendUdp, type Host, type Wire } from '../fixtures/synth/conversation.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policyFile = join(repoRoot, 'test/fixtures/demo/policy.yaml');

async function replay(sink: Sink) {
  const { policy } = await loadPolicyFile(policyFile);
  if (!policy) throw new Error('demo policy does not load');
  const pipeline = new Pipeline({ policy: () => policy, sinks: [sink] });
  await openCapture(demo).run(pipeline.handleFrame);
  await pipeline.finish();
  return pipeline;
}

t.test('every stage fed: anomalies, traffic per interval, devices', async (t) => {
  const anomalies: Anomaly[] = [];
  const traffic: DeviceTraffic[] = [];
  const devices = new Set<string>();
  const p = await replay({
    name: 'collect', anomaly: (a, ev) => { if (ev === 'opened') anomalies.push(a); }, deviceTraffic: (x) => traffic.push(x), device: (d) => devices.add(d.mac),
    flush: async () => {}, close: async () => {},
  });
  t.equal(p.counters.packets, 2272);
  t.equal(p.counters.stageErrors, 0);
  t.equal(anomalies.length, p.counters.anomalies, 'the counter counts openings');
  t.ok(anomalies.length >= 9, `${anomalies.length} anomalies`);
  t.ok(traffic.every((x) => x.time % 60_000 === 0), 'device_traffic on 60 s boundaries');
  t.ok(traffic.length > 10, `${traffic.length} device_traffic points`);
  t.equal(devices.size, 10, 'the ten devices of the watched VLAN, none from VLAN 1');
});

t.test('a sink that throws: counted, the other sinks still get every point', async (t) => {
  let calls = 0;
  const good: Anomaly[] = [];
  const { policy } = await loadPolicyFile(policyFile);
  const pipeline = new Pipeline({
    policy: () => policy!,
    sinks: [
      { name: 'broken', anomaly: () => { calls++; throw new Error('sink bug'); }, flush: async () => {}, close: async () => {} },
      { name: 'good', anomaly: (a, ev) => { if (ev === 'closed') good.push(a); }, flush: async () => {}, close: async () => {} },
    ],
  });
  await openCapture(demo).run(pipeline.handleFrame);
  await pipeline.finish();
  t.equal(pipeline.counters.packets, 2272, 'every frame was read');
  t.equal(pipeline.counters.sinkErrors, calls, 'each refusal counted');
  t.ok(calls >= 2 * pipeline.counters.anomalies, 'the broken sink was offered each opening, update and closing');
  t.equal(good.length, pipeline.counters.anomalies, 'the good sink got every anomaly\'s closing');
  t.ok(good.length >= 9);
});

t.test('a stage that throws costs its frame, not the run', async (t) => {
  const { policy } = await loadPolicyFile(policyFile);
  let n = 0;
  // the policy accessor is read by stages on the frame path; make it fail now and then
  const pipeline = new Pipeline({ policy: () => { if (++n % 97 === 0) throw new Error('stage bug'); return policy!; } });
  await openCapture(demo).run(pipeline.handleFrame);
  await pipeline.finish().catch(() => undefined);
  t.equal(pipeline.counters.packets, 2272, 'every frame was read');
  t.ok(pipeline.counters.stageErrors > 0, `${pipeline.counters.stageErrors} frames skipped and counted`);
});

t.test('device_traffic: exact bytes and packets each way, as initiator and as responder', async (t) => {
  const traffic: DeviceTraffic[] = [];
  const pipeline = new Pipeline({
    sinks: [{ name: 'traffic', deviceTraffic: (x) => traffic.push(x), flush: async () => {}, close: async () => {} }],
  });
  // frames straight into the pipeline, as a capture source hands them over
  const wire: Wire = {
    sink: {
      write: (tsUs, frame, wireLen = frame.length) => {
        pipeline.handleFrame(Buffer.from(frame.buffer, frame.byteOffset, frame.length), 0, frame.length, wireLen, tsUs / 1000, 1);
      },
    },
  };
  const d: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
  const e: Host = { mac: '14:75:90:c3:00:42', ip: '192.168.50.42' };
  // beyond the router: its MAC, an address no device gets
  const remote: Host = { mac: '24:5a:4c:50:00:01', ip: '203.0.113.80' };
  const t0 = Date.UTC(2026, 0, 15, 12, 0, 1) * 1000;
  const pay = (n: number) => Buffer.alloc(n, 0x61);
  // flow 1, d initiates: 3 datagrams out (100, 200, 300 payload bytes), 2 back (1000, 50)
  sendUdp(wire, t0, d, remote, 50000, 443, pay(100));
  sendUdp(wire, t0 + 100, d, remote, 50000, 443, pay(200));
  sendUdp(wire, t0 + 200, remote, d, 443, 50000, pay(1000));
  sendUdp(wire, t0 + 300, d, remote, 50000, 443, pay(300));
  sendUdp(wire, t0 + 400, remote, d, 443, 50000, pay(50));
  // flow 2, e initiates to d: 1 datagram (10 bytes), 4 answers of 400
  sendUdp(wire, t0 + 1000, e, d, 40000, 5683, pay(10));
  for (let i = 0; i < 4; i++) sendUdp(wire, t0 + 1100 + i * 100, d, e, 5683, 40000, pay(400));
  await pipeline.finish();
  t.equal(pipeline.counters.packets, 10);

  // flow bytes are IP bytes: 20 (IPv4) + 8 (UDP) + payload
  const ip = (payload: number) => 28 + payload;
  const f1Out = ip(100) + ip(200) + ip(300), f1In = ip(1000) + ip(50);
  const f2Out = ip(10), f2In = 4 * ip(400);
  t.same([f1Out, f1In, f2Out, f2In], [684, 1106, 38, 1712]);
  const end = Date.UTC(2026, 0, 15, 12, 1, 0);
  t.same([...traffic].sort((x, y) => x.device.localeCompare(y.device)), [
    { time: end, device: d.mac, segment: '', bytesOut: f1Out + f2In, bytesIn: f1In + f2Out, packetsOut: 3 + 4, packetsIn: 2 + 1, flows: 2, peers: 2 },
    { time: end, device: e.mac, segment: '', bytesOut: f2Out, bytesIn: f2In, packetsOut: 1, packetsIn: 4, flows: 1, peers: 1 },
  ], 'one point per device for the interval; nothing for the remote peer');
});

t.test('the flow-record entry: NetFlow/IPFIX-style records run the same inventory, policy and detectors', async (t) => {
  const { loadPolicyText } = await import('../../collector/policy/load.js');
  const policy = loadPolicyText(`version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
devices:
  - { name: camera, mac: "00:b4:63:a1:00:21", profile: camera }
default_profile: camera
profiles:
  camera:
    allow:
      - { service: dns }
`, 'records.yaml').policy!;
  const events: Array<[string, Anomaly]> = [];
  const traffic: DeviceTraffic[] = [];
  const pipeline = new Pipeline({
    policy: () => policy,
    sinks: [{ name: 'rec', anomaly: (a, e) => { events.push([e, a]); }, deviceTraffic: (x) => traffic.push(x), flush: async () => {}, close: async () => {} }],
  });
  const T = Date.UTC(2026, 10, 3, 9, 0, 0);
  let id = 1;
  const rec = (o: Partial<FlowRecord>): FlowRecord => ({
    id: id++, start: T, end: T + 2000, proto: 'tcp', src: '192.168.50.21', sport: 40001, dst: '203.0.113.9', dport: 8443,
    packets: 10, bytes: 1500, packetsRev: 8, bytesRev: 9000, srcMac: '00:b4:63:a1:00:21', dstMac: '24:5a:4c:50:00:01',
    vlan: 0, tcpFlags: 0x1b, origin: 'ipfix', exporter: '192.168.50.1', final: true, ...o,
  });
  pipeline.handleRecord(rec({}));                                                     // forbidden: a violation
  pipeline.handleRecord(rec({ proto: 'udp', dst: '192.168.50.1', dport: 53, tcpFlags: 0, start: T + 10, end: T + 20 })); // allowed DNS
  pipeline.handleRecord(rec({ start: T + 60_000, end: T + 61_000 }));                 // the same cause again
  pipeline.handleRecord(rec({ start: T + 100 * 365 * 86_400_000, end: T + 100 * 365 * 86_400_000 + 1 })); // a forged time
  pipeline.handleRecord(rec({ start: T + 130_000, end: T + 131_000, dport: 9999 }));  // time goes on normally after it
  await pipeline.finish();
  const opened = events.filter(([e]) => e === 'opened').map(([, a]) => a);
  t.same(opened.map((a) => [a.kind, a.device, a.peer, a.peerPort]), [
    ['policy.violation', 'camera', '203.0.113.9', 8443],
    ['policy.violation', 'camera', '203.0.113.9', 9999],
  ], 'judged like packets: one anomaly per cause, DNS to the resolver allowed');
  const closed = events.filter(([e]) => e === 'closed').map(([, a]) => a);
  t.equal(closed.find((a) => a.peerPort === 8443)?.count, 3, 'the repeat and the forged-time record joined it');
  t.equal(pipeline.counters.records, 5);
  t.equal(pipeline.counters.timeJumps, 1, 'the forged time was clamped and counted');
  t.equal(pipeline.inventory.deviceByMac('00:b4:63:a1:00:21')?.name, 'camera', 'the inventory learned the device from records');
  const cam = traffic.filter((x) => x.device === 'camera');
  t.equal(cam.reduce((n, x) => n + x.flows, 0), 5, 'device_traffic counts the records');
  t.equal(cam.reduce((n, x) => n + x.bytesOut, 0), 5 * 1500);
  t.equal(cam.reduce((n, x) => n + x.bytesIn, 0), 5 * 9000);
  t.equal(pipeline.counters.stageErrors, 0);
});
