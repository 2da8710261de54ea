import t from 'tap';
import {
  anomalyPoint, anomalyOffsetNs, collectorPoint, devicePoint, deviceTrafficPoint, fnv1a, SeriesTimeGuard, anomalyIdentity,
} from '../../../../collector/sinks/influx/points.js';
import { serializePoint } from '../../../../collector/sinks/influx/line-protocol.js';
import type { Anomaly } from '../../../../collector/types.js';

const a: Anomaly = {
  id: 'a1b2c3d4e5f60718293a', state: 'open', closeReason: '', suppressed: false,
  time: '2024-01-01T00:00:00.123Z', kind: 'segment.crossing', severity: 'critical', device: 'cam', mac: 'aa:bb:cc:00:00:01',
  ip: '192.168.50.10', segment: 'iot', profile: '', peer: '192.168.1.5', peerName: '', peerPort: 22, proto: 'tcp',
  bytes: 60, packets: 1, count: 1, firstSeen: '2024-01-01T00:00:00.123Z', lastSeen: '2024-01-01T00:00:00.123Z',
  rule: 'protected: lan', message: 'cam opened 22/tcp into lan',
};

t.test('anomaly line', async (t) => {
  const line = serializePoint(anomalyPoint(a))!;
  const ns = String(anomalyOffsetNs(a)).padStart(6, '0');
  t.equal(line, `anomaly,device=cam,kind=segment.crossing,segment=iot,severity=critical id="a1b2c3d4e5f60718293a",state="open",close_reason="",suppressed=false,peer="192.168.1.5",peer_name="",proto="tcp",message="cam opened 22/tcp into lan",rule="protected: lan",peer_port=22i,bytes=60i,packets=1i,count=1i,last_seen=1704067200123i 1704067200123${ns}`,
    'tags of DESIGN.md, empty profile left out, time = first packet + offset from the id');
  t.equal(anomalyOffsetNs({ ...a, count: 9, bytes: 1, state: 'closed', lastSeen: '2024-01-01T01:00:00.000Z' }), anomalyOffsetNs(a), 'updates and the closing keep the key');
  const closed = serializePoint(anomalyPoint({ ...a, count: 9, state: 'closed', closeReason: 'idle', lastSeen: '2024-01-01T01:00:00.000Z' }))!;
  t.equal(closed.split(' ').slice(-1)[0], line.split(' ').slice(-1)[0], 'the closing is written with the timestamp it opened with');
  t.equal(closed.split(' ')[0], line.split(' ')[0], 'and the same tags');
  t.match(closed, /state="closed",close_reason="idle"/);
  t.match(closed, /count=9i,last_seen=1704070800000i /);
  t.not(anomalyOffsetNs({ ...a, id: 'another' }), anomalyOffsetNs(a), 'another anomaly, another key');
  t.equal(fnv1a(''), 0x811c9dc5);
  t.equal(fnv1a('a'), 0xe40c292c, 'FNV-1a reference value');
  t.equal(anomalyPoint({ ...a, time: 'garbage' }).time, undefined, 'bad time: no timestamp rather than a wrong one');
});

t.test('other measurements', async (t) => {
  t.equal(serializePoint(deviceTrafficPoint({ time: 60000, device: 'cam', segment: 'iot', bytesOut: 1, bytesIn: 2, packetsOut: 3, packetsIn: 4, flows: 5, peers: 6 })),
    'device_traffic,device=cam,segment=iot bytes_out=1i,bytes_in=2i,packets_out=3i,packets_in=4i,flows=5i,peers=6i 60000000000');
  t.equal(serializePoint(devicePoint({ id: '192.168.50.9', name: '', mac: '', ips: ['192.168.50.9'], vendor: '', hostname: '', profile: 'quarantine', segment: 'iot', firstSeen: 1, lastSeen: 2, known: false })),
    'device,device=192.168.50.9 ip="192.168.50.9",hostname="",profile="quarantine",known=false 2000000', 'device falls back to id; empty mac/vendor tags left out');
  t.equal(serializePoint(collectorPoint({ time: 10000, host: 'pi', source: 'eth0', packets: 1, bytes: 2, drops: 3, decodeErrors: 4, flowsActive: 5, flowsEvicted: 6, queue: 7, spoolBytes: 8 })),
    'collector,host=pi,source=eth0 packets=1i,bytes=2i,drops=3i,decode_errors=4i,flows_active=5i,flows_evicted=6i,queue=7i,spool_bytes=8i,kernel_drops=0i,if_drops=0i,ring_drops=0i 10000000000');
  t.equal(serializePoint(collectorPoint({ time: 10000, host: 'pi', source: 'live:eth0', packets: 1, bytes: 2, drops: 6, decodeErrors: 4, flowsActive: 5, flowsEvicted: 6, queue: 7, spoolBytes: 8,
    capture: { kernel: 1, interface: 2, ring: 3 } })),
  'collector,host=pi,source=live:eth0 packets=1i,bytes=2i,drops=6i,decode_errors=4i,flows_active=5i,flows_evicted=6i,queue=7i,spool_bytes=8i,kernel_drops=1i,if_drops=2i,ring_drops=3i 10000000000',
  'a live capture\'s drops by where, apart');
});

t.test('SeriesTimeGuard moves a colliding distinct point by 1 ns, never a repeat', async (t) => {
  const g = new SeriesTimeGuard(4);
  const p1 = anomalyPoint(a);
  const p2 = { ...anomalyPoint(a), timeNs: p1.timeNs };
  g.place(p1, anomalyIdentity(a));
  g.place(p2, 'someone else');
  t.equal(p2.timeNs, (p1.timeNs! + 1) % 1000000);
  const p3 = anomalyPoint(a);
  g.place(p3, anomalyIdentity(a));
  t.equal(p3.timeNs, p1.timeNs, 'the same anomaly again keeps its key');
});

t.test('SeriesTimeGuard remembers exactly `capacity` keys, the oldest placed forgotten first', async (t) => {
  // points of one series at times 0..n-1 ms, each its own key
  const fill = (n: number, capacity?: number) => {
    const g = new SeriesTimeGuard(capacity);
    for (let i = 0; i < n; i++) g.place({ ...anomalyPoint(a), time: i, timeNs: 0 }, `x${i}`);
    return g;
  };
  // another anomaly on the key of time i: moved by 1 ns while the key is remembered, not after
  const remembers = (g: SeriesTimeGuard, i: number) => {
    const p = { ...anomalyPoint(a), time: i, timeNs: 0 };
    g.place(p, 'intruder');
    return p.timeNs === 1;
  };
  t.ok(remembers(fill(4, 4), 0), '4 keys in a guard of 4: the first still held');
  t.notOk(remembers(fill(5, 4), 0), 'a fifth key: the first forgotten');
  for (const i of [1, 2, 3, 4]) t.ok(remembers(fill(5, 4), i), `a fifth key: key ${i} still held`);
  t.notOk(remembers(fill(6, 4), 1), 'a sixth: the second forgotten');
  t.ok(remembers(fill(6, 4), 2));

  // repeats of a held point add no key; the order is that of first placing
  const g = fill(4, 4);
  for (let k = 0; k < 10; k++) g.place({ ...anomalyPoint(a), time: 0, timeNs: 0 }, 'x0');
  g.place({ ...anomalyPoint(a), time: 4, timeNs: 0 }, 'x4');
  t.notOk(remembers(g, 0), 'a repeat does not make a key young');

  // a point moved to a free nanosecond holds that key too
  const h = fill(3, 4);
  t.ok(remembers(h, 0), 'the intruder is moved to ns 1: the fourth key');
  h.place({ ...anomalyPoint(a), time: 3, timeNs: 0 }, 'x3');
  t.notOk(remembers(h, 0), 'the fifth key pushed out time 0, ns 0');

  t.ok(remembers(fill(65_536), 0), 'the default capacity: 65,536 keys');
  t.notOk(remembers(fill(65_537), 0), 'one more forgets the first');
});
