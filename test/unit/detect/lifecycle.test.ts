// The anomaly lifecycle stage on its own: open at the first occurrence, repeats raise the
// count, rewritten at most once per update interval and only when changed, closed when
// quiet for the idle time, at the end of input, or when a predicate (a policy reload) says.

import t from 'tap';
import type { Anomaly, AnomalyEvent } from '../../../collector/types.js';
import { AnomalyLifecycle, anomalyId, causeKey } from '../../../collector/detect/lifecycle.js';
import { makeAnomaly } from '../../../collector/detect/anomaly.js';
import { DEFAULT_SEVERITY } from '../../../collector/detect/settings.js';
import { T0 } from './helpers.js';

const subject = { device: 'doorbell', mac: 'aa:bb:cc:00:00:01', ip: '192.168.50.10', segment: 'iot', profile: 'camera' };
const an = (time: number, peer = '203.0.113.5', port = 8080): Anomaly => makeAnomaly({
  kind: 'policy.violation', time, subject, peer, peerPort: port, proto: 'tcp', bytes: 100, packets: 2, message: 'm',
}, DEFAULT_SEVERITY);

const MIN = 60_000, HOUR = 3_600_000;

function rig(o: { idleMs?: number; updateMs?: number; maxOpen?: number } = {}) {
  const events: Array<[AnomalyEvent, Anomaly]> = [];
  const lc = new AnomalyLifecycle({ idleMs: o.idleMs ?? HOUR, updateMs: o.updateMs ?? MIN, maxOpen: o.maxOpen ?? 1000, emit: (e, a) => events.push([e, a]) });
  const of = (e: AnomalyEvent) => events.filter(([x]) => x === e).map(([, a]) => a);
  return { lc, events, of };
}

t.test('opens at once, with an id and state open', async (t) => {
  const { lc, events } = rig();
  lc.submit(an(T0), T0);
  t.equal(events.length, 1, 'handed on at the first occurrence, no tick needed');
  const [ev, a] = events[0];
  t.equal(ev, 'opened');
  t.match(a, { state: 'open', closeReason: '', count: 1, bytes: 100, packets: 2, firstSeen: new Date(T0).toISOString(), lastSeen: new Date(T0).toISOString() });
  t.equal(a.id, anomalyId(a, T0));
  t.match(a.id, /^[0-9a-f]{20}$/);
});

t.test('the id: the same for the same cause and first packet, different otherwise', async (t) => {
  const a = an(T0);
  t.equal(anomalyId(a, T0), anomalyId({ ...a, count: 7, bytes: 1 } as Anomaly, T0), 'counts are not part of it');
  t.not(anomalyId(a, T0), anomalyId(a, T0 + 1), 'another first packet');
  for (const k of ['device', 'kind', 'peer', 'proto', 'rule'] as const) t.not(anomalyId({ ...a, [k]: 'x' }, T0), anomalyId(a, T0), k);
  t.not(anomalyId({ ...a, peerPort: 1 }, T0), anomalyId(a, T0), 'peerPort');
});

t.test('repeats raise count, bytes, packets, lastSeen; written at most once per interval, only when changed', async (t) => {
  const { lc, of } = rig();
  // a beacon every 2 minutes for 30 minutes
  for (let i = 0; i < 16; i++) {
    lc.submit(an(T0 + i * 2 * MIN), T0 + i * 2 * MIN);
    lc.tick(T0 + i * 2 * MIN);
    lc.tick(T0 + i * 2 * MIN + 30_000);
  }
  t.equal(of('opened').length, 1);
  const ups = of('updated');
  t.equal(ups.length, 15, 'one rewrite per repeat: each came 2 min after the last write');
  t.same(ups.map((a) => a.count), Array.from({ length: 15 }, (_, i) => i + 2), 'the count rises');
  t.ok(ups.every((a) => a.id === of('opened')[0].id && a.state === 'open'), 'under the same id, still open');
  t.equal(ups[14].lastSeen, new Date(T0 + 30 * MIN).toISOString());
  lc.tick(T0 + 40 * MIN);
  t.equal(of('updated').length, 15, 'nothing changed: nothing written');
});

t.test('a burst inside one interval is one rewrite', async (t) => {
  const { lc, of } = rig();
  lc.submit(an(T0), T0);
  for (let i = 1; i <= 500; i++) { lc.submit(an(T0 + i * 10), T0 + i * 10); lc.tick(T0 + i * 10); }
  t.equal(of('updated').length, 0, 'not before the interval is up');
  lc.tick(T0 + MIN);
  t.equal(of('updated').length, 1);
  t.equal(of('updated')[0].count, 501);
});

t.test('closes when quiet for the idle time; the same cause later is a new anomaly', async (t) => {
  const { lc, of } = rig();
  lc.submit(an(T0), T0);
  lc.submit(an(T0 + MIN), T0 + MIN);
  lc.tick(T0 + MIN + HOUR - 1);
  t.equal(of('closed').length, 0, 'not a ms early');
  lc.tick(T0 + MIN + HOUR);
  t.equal(of('closed').length, 1);
  t.match(of('closed')[0], { state: 'closed', closeReason: 'idle', count: 2, lastSeen: new Date(T0 + MIN).toISOString() });
  lc.submit(an(T0 + 3 * HOUR), T0 + 3 * HOUR);
  t.equal(of('opened').length, 2);
  t.not(of('opened')[1].id, of('opened')[0].id);
});

t.test('a repeat after the idle time closes the old one even before a tick saw it', async (t) => {
  const { lc, of } = rig();
  lc.submit(an(T0), T0);
  lc.submit(an(T0 + 2 * HOUR), T0 + 2 * HOUR);
  t.same(of('closed').map((a) => [a.count, a.closeReason]), [[1, 'idle']]);
  t.equal(of('opened').length, 2);
});

t.test('end of input closes everything, oldest first; writeOpen writes what changed and closes nothing', async (t) => {
  const { lc, of } = rig();
  lc.submit(an(T0 + 5, '203.0.113.9'), T0 + 5);
  lc.submit(an(T0, '203.0.113.8'), T0);
  lc.submit(an(T0 + 10, '203.0.113.8'), T0 + 10);
  lc.writeOpen();
  t.same(of('updated').map((a) => [a.peer, a.count, a.state]), [['203.0.113.8', 2, 'open']], 'only the one that changed');
  t.equal(of('closed').length, 0);
  t.equal(lc.size, 2);
  lc.closeAll('end');
  t.same(of('closed').map((a) => [a.peer, a.closeReason]), [['203.0.113.8', 'end'], ['203.0.113.9', 'end']]);
  t.equal(lc.size, 0);
});

t.test('closeWhere: a reload that allows the behaviour closes it', async (t) => {
  const { lc, of } = rig();
  lc.submit(an(T0, '203.0.113.8'), T0);
  lc.submit(an(T0, '203.0.113.9'), T0);
  t.equal(lc.closeWhere((a) => a.peer === '203.0.113.9', 'allowed'), 1);
  t.same(of('closed').map((a) => [a.peer, a.closeReason]), [['203.0.113.9', 'allowed']]);
  t.same(lc.openAnomalies().map((a) => a.peer), ['203.0.113.8']);
});

t.test('bounded: beyond maxOpen the oldest closes (capacity)', async (t) => {
  const { lc, of } = rig({ maxOpen: 3 });
  for (let i = 0; i < 5; i++) lc.submit(an(T0 + i, `203.0.113.${i}`), T0 + i);
  t.equal(lc.size, 3);
  t.same(of('closed').map((a) => [a.peer, a.closeReason]), [['203.0.113.0', 'capacity'], ['203.0.113.1', 'capacity']]);
});

t.test('addTraffic joins an open anomaly and refuses a closed one; repeat() refuses an unknown key', async (t) => {
  const { lc, of } = rig();
  const key = lc.submit(an(T0), T0);
  t.equal(key, causeKey('doorbell', 'policy.violation', '203.0.113.5', 8080, ''));
  t.ok(lc.addTraffic(key, 1000, 10, T0 + 5));
  t.notOk(lc.repeat('nope', 1, T0, T0, 0, 0));
  lc.closeAll('end');
  t.match(of('closed')[0], { bytes: 1100, packets: 12 });
  t.notOk(lc.addTraffic(key, 1, 1, T0 + 6));
});

t.test('a tick that comes a century late costs one pass, not one per interval', async (t) => {
  const { lc, of } = rig();
  for (let i = 0; i < 100; i++) lc.submit(an(T0, `203.0.113.${i}`), T0);
  // a walk per update interval would not end within the test's timeout
  lc.tick(T0 + 100 * 365 * 24 * HOUR);
  t.equal(of('closed').length, 100);
});

t.test('resume: an anomaly from an earlier run goes on under its id', async (t) => {
  const { lc, of } = rig();
  const old = { ...an(T0), id: 'kept-id', count: 7 };
  lc.resume(old, T0, T0 + MIN, T0 + MIN);
  t.equal(of('opened').length, 0, 'not announced again');
  lc.submit(an(T0 + 2 * MIN), T0 + 2 * MIN);
  lc.closeAll('end');
  t.match(of('closed')[0], { id: 'kept-id', count: 8 });
});

t.test('an event nobody downstream takes is handed on without a copy; a closed anomaly is handed over and left alone', async (t) => {
  const events: Array<[AnomalyEvent, Anomaly]> = [];
  const lc = new AnomalyLifecycle({
    idleMs: HOUR, updateMs: MIN, maxOpen: 1000, emit: (e, a) => events.push([e, a]), wants: (e) => e === 'closed',
  });
  lc.submit(an(T0), T0);
  lc.submit(an(T0 + 1000), T0 + 1000);
  lc.tick(T0 + 2 * MIN);
  lc.closeAll('end');
  t.same(events.map(([e]) => e), ['opened', 'updated', 'closed'], 'every event still reaches emit (the collector counts them)');
  const [[, opened], [, updated], [, closed]] = events;
  t.equal(opened, updated, 'opened and updated: the stage\'s own object both times, no copies made');
  t.equal(closed.count, 2);
  t.equal(closed.state, 'closed');
  t.equal(closed.lastSeen, new Date(T0 + 1000).toISOString(), 'lastSeen brought up to date at the hand-over');
  const kept = JSON.stringify(closed);
  // the same cause again: a new anomaly; the one handed over is the receiver's, never touched again
  lc.submit(an(T0 + 3 * MIN), T0 + 3 * MIN);
  lc.submit(an(T0 + 4 * MIN), T0 + 4 * MIN);
  lc.tick(T0 + 10 * MIN);
  lc.closeAll('end');
  t.equal(JSON.stringify(closed), kept, 'the closed anomaly is as it was handed on');
  t.not(events[events.length - 1][1], closed, 'the second anomaly is another object');
  t.equal(events[events.length - 1][1].count, 2);
});
