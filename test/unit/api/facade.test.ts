import t from 'tap';
import { AnomalyRing, DEFAULT_RING_CAPACITY } from '../../../collector/api/facade.js';
import type { Anomaly } from '../../../collector/types.js';

function anomaly(i: number): Anomaly {
  const time = new Date(1_700_000_000_000 + i * 1000).toISOString();
  return {
    id: `a${i}`, state: 'open', closeReason: '', suppressed: false,
    time, kind: 'scan.ports', severity: 'high', device: `dev${i}`, mac: '', ip: '192.168.50.9', segment: 'iot',
    profile: 'camera', peer: '192.168.1.1', peerName: '', peerPort: i, proto: 'tcp', bytes: 60, packets: 1,
    count: 1, firstSeen: time, lastSeen: time, rule: 'detectors.scan_ports', message: `m${i}`,
  };
}

t.test('empty ring', async (t) => {
  const r = new AnomalyRing();
  t.equal(r.capacity, DEFAULT_RING_CAPACITY);
  t.equal(r.size, 0);
  t.same(r.last(10), []);
});

t.test('newest first, bounded by n and by what is held', async (t) => {
  const r = new AnomalyRing(5);
  for (let i = 0; i < 3; i++) r.push(anomaly(i));
  t.same(r.last(10).map((a) => a.peerPort), [2, 1, 0]);
  t.same(r.last(2).map((a) => a.peerPort), [2, 1]);
  t.same(r.last(0), []);
  t.same(r.last(-3), []);
});

t.test('overwrites the oldest once full', async (t) => {
  const r = new AnomalyRing(4);
  for (let i = 0; i < 11; i++) r.push(anomaly(i));
  t.equal(r.size, 4);
  t.same(r.last(100).map((a) => a.peerPort), [10, 9, 8, 7]);
  r.clear();
  t.equal(r.size, 0);
  r.push(anomaly(42));
  t.same(r.last(5).map((a) => a.peerPort), [42]);
});

t.test('capacity must be a positive integer', async (t) => {
  t.throws(() => new AnomalyRing(0), RangeError);
  t.throws(() => new AnomalyRing(1.5), RangeError);
  t.throws(() => new AnomalyRing(Number.NaN), RangeError);
  const one = new AnomalyRing(1);
  one.push(anomaly(1)); one.push(anomaly(2));
  t.same(one.last(5).map((a) => a.peerPort), [2]);
});
