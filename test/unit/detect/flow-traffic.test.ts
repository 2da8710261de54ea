// The later bytes of a denied flow join its anomaly: FlowTraffic on its own, with a Reporter
// that records what it is given. Flow ids that share a bucket of the filter in front of the
// Map (ids 65,536 apart) must not hide one another, at the cap, at the end, or after clear().

import t from 'tap';
import { FlowTraffic } from '../../../collector/detect/flow-traffic.js';
import type { Reporter } from '../../../collector/detect/anomaly.js';
import type { FlowRecord } from '../../../collector/types.js';

function rig(max = 1000) {
  const added: Array<[string, number, number, number]> = [];
  const reporter: Reporter = {
    report: () => '',
    bump: () => true,
    addTraffic: (key, bytes, packets, time) => { added.push([key, bytes, packets, time]); return true; },
  };
  return { ft: new FlowTraffic(reporter, () => max), added };
}

const rec = (id: number, o: Partial<FlowRecord> = {}): FlowRecord => ({
  id, start: 1000, end: 2000, proto: 'tcp', src: '192.168.50.10', sport: 40000, dst: '203.0.113.5', dport: 443,
  srcMac: '', dstMac: '', vlan: 0, bytes: 100, bytesRev: 50, packets: 2, packetsRev: 1, tcpFlags: 0, final: false,
  origin: 'pcap', exporter: '', ...o,
} as FlowRecord);

t.test('a tracked flow adds what each record carried since the last; untracked ones add nothing', async (t) => {
  const { ft, added } = rig();
  ft.track(7, 'k7', 1000, 60, 1);
  t.equal(ft.record(rec(8)), false, 'not tracked');
  t.equal(ft.record(rec(7)), true);
  t.same(added, [['k7', 90, 2, 2000]], 'totals 150 bytes / 3 packets less the 60 / 1 counted at the report');
  // an interim record restarted the counters: the next one with a later start is all new
  t.equal(ft.record(rec(7, { start: 3000, end: 4000, bytes: 10, bytesRev: 0, packets: 1, packetsRev: 0, final: true })), true);
  t.same(added[1], ['k7', 10, 1, 4000]);
  t.equal(ft.record(rec(7)), false, 'a final record forgets the flow');
  t.equal(ft.keyOf(7), undefined);
  t.equal(ft.size, 0);
});

t.test('ids in one bucket of the filter stay apart', async (t) => {
  const { ft, added } = rig();
  const a = 5, b = 5 + 65_536, c = 5 + 2 * 65_536;
  ft.track(a, 'ka', 1000, 0, 0);
  ft.track(b, 'kb', 1000, 0, 0);
  t.equal(ft.keyOf(c), undefined, 'a third id of the bucket is not tracked');
  t.equal(ft.record(rec(a, { final: true })), true);
  t.equal(ft.keyOf(b), 'kb', 'the other id of the bucket is still tracked after the first is forgotten');
  t.equal(ft.record(rec(b, { final: true })), true);
  t.same(added.map((x) => x[0]), ['ka', 'kb']);
  t.equal(ft.record(rec(b)), false);
});

t.test('at the cap the oldest flow stops adding; tracking an id again updates it in place', async (t) => {
  const { ft, added } = rig(2);
  ft.track(1, 'k1', 1000, 0, 0);
  ft.track(1 + 65_536, 'k2', 1000, 0, 0);
  ft.track(1 + 65_536, 'k2b', 1000, 0, 0);
  t.equal(ft.size, 2, 'the same id again is no new entry');
  ft.track(3, 'k3', 1000, 0, 0);
  t.equal(ft.size, 2);
  t.equal(ft.keyOf(1), undefined, 'the oldest went');
  t.equal(ft.record(rec(1)), false);
  t.equal(ft.record(rec(1 + 65_536)), true, 'its bucket-mate is still found');
  t.same(added.map((x) => x[0]), ['k2b']);
  ft.clear();
  t.equal(ft.record(rec(3)), false, 'clear() forgets every flow');
  ft.track(3, 'k3', 1000, 0, 0);
  t.equal(ft.record(rec(3)), true, 'and tracks again after it');
});

t.test('counted() moves a tracked flow\'s start, so its next record counts as a delta', async (t) => {
  const { ft, added } = rig();
  ft.track(9, 'k9', 500, 150, 3);
  ft.counted(rec(9, { start: 1000 }));
  ft.record(rec(9, { start: 1000, bytes: 200, bytesRev: 0, packets: 4, packetsRev: 0 }));
  t.same(added, [['k9', 50, 1, 2000]], 'same start as the one counted: the totals less what was counted');
});

t.test('20,000 random operations agree with the rules stated at the top of the module', async (t) => {
  // the rules, plainly: a Map in insertion order; at the cap the first inserted goes; a record
  // adds (totals less what was counted, same start) or (all of it, another start); final forgets
  const model = new Map<number, { key: string; start: number; bytes: number; packets: number }>();
  const want: Array<[string, number, number, number]> = [];
  const { ft, added } = rig(50);
  let seed = 42;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  let wrongKeys = 0;
  for (let i = 0; i < 20_000; i++) {
    // ids of a few buckets (65,536 apart) and a spread of others
    const id = rnd(2) === 0 ? 1 + rnd(4) * 65_536 : 1 + rnd(300);
    const op = rnd(10);
    if (op < 3) {
      const v = { key: `k${i}`, start: rnd(5) * 1000, bytes: rnd(100), packets: rnd(3) };
      const had = model.get(id);
      if (had) Object.assign(had, v);
      else {
        if (model.size >= 50) model.delete(model.keys().next().value!);
        model.set(id, v);
      }
      ft.track(id, v.key, v.start, v.bytes, v.packets);
    } else if (op < 9) {
      const r = rec(id, { start: rnd(5) * 1000, end: 10_000 + i, bytes: rnd(500), bytesRev: rnd(50), packets: rnd(5), packetsRev: rnd(2), final: rnd(3) === 0 });
      const m = model.get(id);
      if (m) {
        const total = r.bytes + r.bytesRev, pkts = r.packets + r.packetsRev, same = r.start === m.start;
        const db = same ? Math.max(0, total - m.bytes) : total, dp = same ? Math.max(0, pkts - m.packets) : pkts;
        if (db > 0 || dp > 0) want.push([m.key, db, dp, r.end]);
        m.start = r.start; m.bytes = total; m.packets = pkts;
        if (r.final) model.delete(id);
      }
      if (ft.record(r) !== (m !== undefined)) wrongKeys++;
    } else {
      ft.clear();
      model.clear();
    }
    if (ft.keyOf(id) !== model.get(id)?.key || ft.size !== model.size) wrongKeys++;
  }
  t.same(added, want, 'the same additions, in the same order');
  t.equal(wrongKeys, 0, 'the same flows tracked, under the same keys, after every operation');
  t.ok(want.length > 1000, `${want.length} additions compared`);
});
