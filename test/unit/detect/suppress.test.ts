import t from 'tap';
import type { Anomaly } from '../../../collector/types.js';
import { Suppressor, suppressionKey } from '../../../collector/detect/suppress.js';
import { makeAnomaly } from '../../../collector/detect/anomaly.js';
import { DEFAULT_SEVERITY } from '../../../collector/detect/settings.js';
import { T0 } from './helpers.js';

const subject = { device: 'doorbell', mac: 'aa:bb:cc:00:00:01', ip: '192.168.50.10', segment: 'iot', profile: 'camera' };
const an = (time: number, peer = '203.0.113.5', port = 8080): Anomaly => makeAnomaly({
  kind: 'policy.violation', time, subject, peer, peerPort: port, proto: 'tcp', bytes: 100, packets: 2, message: 'm',
}, DEFAULT_SEVERITY);

function rig(windowMs = 3_600_000, maxEntries = 1000) {
  const out: Anomaly[] = [], first: Anomaly[] = [];
  const s = new Suppressor({ windowMs, maxEntries, emit: (a) => out.push(a), onFirst: (a) => first.push(a) });
  return { s, out, first };
}

t.test('repeats within the window: one record, count, bytes, lastSeen', async (t) => {
  const { s, out, first } = rig();
  for (let i = 0; i < 100; i++) s.submit(an(T0 + i * 1000), T0 + i * 1000);
  t.equal(first.length, 1, 'onFirst once');
  t.equal(first[0].count, 1);
  t.equal(out.length, 0, 'held until the window ends');
  s.tick(T0 + 3_600_000 - 1);
  t.equal(out.length, 0);
  s.tick(T0 + 3_600_000);
  t.equal(out.length, 1);
  t.match(out[0], { count: 100, bytes: 10_000, packets: 200, firstSeen: new Date(T0).toISOString(), lastSeen: new Date(T0 + 99_000).toISOString() });
  t.equal(first[0].count, 1, 'the alert copy is not mutated by later repeats');
});

t.test('different peer or port are different keys', async (t) => {
  const { s, out } = rig();
  s.submit(an(T0), T0);
  s.submit(an(T0, '203.0.113.6'), T0);
  s.submit(an(T0, '203.0.113.5', 8081), T0);
  s.submit(an(T0 + 1), T0 + 1);
  s.flush();
  t.same(out.map((a) => [a.peer, a.peerPort, a.count]), [['203.0.113.5', 8080, 2], ['203.0.113.6', 8080, 1], ['203.0.113.5', 8081, 1]]);
});

t.test('a repeat after the window starts a new record and releases the old one', async (t) => {
  const { s, out, first } = rig(60_000);
  s.submit(an(T0), T0);
  s.submit(an(T0 + 30_000), T0 + 30_000);
  s.submit(an(T0 + 61_000), T0 + 61_000);
  t.equal(out.length, 1);
  t.equal(out[0].count, 2);
  s.flush();
  t.same(out.map((a) => a.count), [2, 1]);
  t.equal(first.length, 2);
});

t.test('bump and addTraffic; bump refuses a closed window', async (t) => {
  const { s, out } = rig(60_000);
  const key = s.submit(an(T0), T0);
  t.equal(key, suppressionKey(an(T0)));
  t.ok(s.bump(key, 5, T0 + 10));
  t.ok(s.addTraffic(key, 1000, 10, T0 + 20));
  t.notOk(s.bump(key, 1, T0 + 60_000), 'window over');
  t.notOk(s.bump('nope', 1, T0));
  s.flush();
  t.match(out[0], { count: 6, bytes: 1100, packets: 12, lastSeen: new Date(T0 + 20).toISOString() });
});

t.test('the entry cap emits the oldest early instead of growing', async (t) => {
  const { s, out } = rig(3_600_000, 10);
  for (let i = 0; i < 25; i++) s.submit(an(T0 + i, `203.0.113.${i}`), T0 + i);
  t.equal(s.size, 10);
  t.equal(out.length, 15);
  t.equal(out[0].peer, '203.0.113.0');
});

t.test('absorb drops held aggregates a predicate picks', async (t) => {
  const { s, out } = rig();
  s.submit(an(T0), T0);
  s.submit(an(T0, '203.0.113.6'), T0);
  s.submit(an(T0), T0);
  t.equal(s.absorb((a) => a.peer === '203.0.113.5'), 2);
  s.flush();
  t.same(out.map((a) => a.peer), ['203.0.113.6']);
});

t.test('flush emits oldest first', async (t) => {
  const { s, out } = rig();
  s.submit(an(T0 + 5, 'b'), T0 + 5);
  s.submit(an(T0 + 1, 'a'), T0 + 1);
  s.flush();
  t.same(out.map((a) => a.peer), ['a', 'b']);
  s.flush();
  t.equal(out.length, 2, 'nothing twice');
});

t.test('fold() joins a repeat as submit() would, and declines when submit() would start afresh', async (t) => {
  const viaSubmit = rig(), viaFold = rig();
  const key = suppressionKey(an(T0));
  t.notOk(viaFold.s.fold(key, 1, T0, T0, 100, 2), 'nothing held yet');
  for (const r of [viaSubmit, viaFold]) r.s.submit(an(T0), T0);
  for (let i = 1; i < 10; i++) {
    viaSubmit.s.submit(an(T0 + i * 1000), T0 + i * 1000, T0 + i * 1500);
    t.ok(viaFold.s.fold(key, 1, T0 + i * 1000, T0 + i * 1500, 100, 2));
  }
  t.notOk(viaFold.s.fold(key, 1, T0 + 3_600_000, T0 + 3_600_000, 100, 2), 'the window is over');
  t.notOk(viaFold.s.fold(suppressionKey(an(T0, '203.0.113.9')), 1, T0, T0, 1, 1), 'another key');
  for (const r of [viaSubmit, viaFold]) r.s.flush();
  t.same(viaFold.out, viaSubmit.out);
  t.equal(viaFold.s.folded, viaSubmit.s.folded);
  t.match(viaFold.out[0], { count: 10, bytes: 1000, packets: 20, lastSeen: new Date(T0 + 13_500).toISOString() });
});
