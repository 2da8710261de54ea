// The fan-out to the sinks: every sink gets every event (one that throws is counted, the
// others still get it), and close() goes last-added first, so the state database (the
// first sink) closes after the alert dispatcher that still records deliveries in it.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fanout } from '../../../collector/sinks/fanout.js';
import { StateDb } from '../../../collector/state/db.js';
import { StateSink } from '../../../collector/state/sink.js';
import type { Sink } from '../../../collector/types.js';
import { silentLog } from '../../../collector/types.js';
import { anomaly } from './alerts/fixture.js';

t.test('close: last added first, so a sink may still write to the state while it closes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-fanout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = StateDb.open(dir);
  const order: string[] = [];
  const state = new StateSink(db);
  const stateClose = state.close.bind(state);
  state.close = async () => { order.push('state'); await stateClose(); };
  // closes the way the alert dispatcher does: it records the last delivery in the state
  const late: Sink = {
    name: 'late', flush: async () => {},
    close: async () => { order.push('late'); db.setMeta('last-delivery', 'recorded at close'); },
  };
  const out = new Fanout([state, late], silentLog);
  out.anomaly(anomaly(), 'opened');
  await out.close();
  t.same(order, ['late', 'state'], 'the state closes last');
  const again = StateDb.open(dir);
  t.equal(again.meta('last-delivery'), 'recorded at close', 'what the late sink wrote at close is in the database');
  t.equal(again.anomalies(10).length, 1);
  again.close();
});

t.test('a sink gets only the lifecycle events it takes, each its own copy; an event nobody takes is wanted by none', async (t) => {
  const got: Array<[string, string, object]> = [];
  const sink = (name: string, events?: Sink['anomalyEvents']): Sink => ({
    name, anomalyEvents: events, flush: async () => {}, close: async () => {},
    anomaly: (a, ev) => { got.push([name, ev, a]); },
  });
  const out = new Fanout([sink('all'), sink('final', ['closed']), sink('lifecycle', ['opened', 'closed'])], silentLog);
  t.equal(out.wants('opened'), true);
  t.equal(out.wants('updated'), true, 'the sink that names none takes all three');
  const a = anomaly();
  for (const ev of ['opened', 'updated', 'closed'] as const) out.anomaly(a, ev);
  t.same(got.map(([n, ev]) => `${n}:${ev}`), ['all:opened', 'lifecycle:opened', 'all:updated', 'all:closed', 'final:closed', 'lifecycle:closed']);
  const closed = got.filter(([, ev]) => ev === 'closed').map(([, , x]) => x);
  t.equal(new Set(closed).size, 3, 'three sinks, three objects');
  t.ok(closed.includes(a), 'the last taker gets the caller\'s own');

  const replay = new Fanout([sink('final', ['closed']), { name: 'points', flush: async () => {}, close: async () => {} }], silentLog);
  t.equal(replay.wants('opened'), false, 'a replay\'s sinks take no openings: the lifecycle need not copy them');
  t.equal(replay.wants('updated'), false);
  t.equal(replay.wants('closed'), true);
});
