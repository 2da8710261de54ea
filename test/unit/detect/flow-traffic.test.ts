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
