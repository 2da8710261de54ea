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
