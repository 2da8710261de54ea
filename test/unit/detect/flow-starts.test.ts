// FlowStarts gives back what was stored, for live flows only, through growth and row reuse.
import t from 'tap';
import { FlowStarts } from '../../../collector/detect/flow-starts.js';
import type { FlowStart } from '../../../collector/types.js';
import { Prng } from '../../fixtures/synth/prng.js';

function start(id: number): FlowStart {
  return {
    id, time: 1_700_000_000_000 + id * 1.5, proto: id % 3 === 0 ? 'tcp' : id % 3 === 1 ? 'udp' : 47,
    src: `10.0.${id >> 8 & 255}.${id & 255}`, sport: 1024 + id % 60000, dst: `fd00::${id.toString(16)}`, dport: 443,
    srcMac: id % 2 ? '02:00:00:00:00:01' : '', dstMac: '02:00:00:00:00:02', vlan: id % 4095, tcpFlags: id & 0xff,
    bytes: 40 + id, origin: id % 5 ? 'pcap' : 'netflow', exporter: id % 5 ? '' : '192.0.2.1', sureInitiator: id % 2 === 0,
  };
}

t.test('set, get, delete through growth and reuse', async (tt) => {
  const s = new FlowStarts();
  for (let id = 1; id <= 5000; id++) s.set(start(id));
  tt.equal(s.size, 5000);
  for (let id = 1; id <= 5000; id += 2) s.delete(id);
  for (let id = 5001; id <= 8000; id++) s.set(start(id));
  let bad = 0;
  for (let id = 1; id <= 8000; id++) {
    const got = s.get(id);
    if (id <= 5000 && id % 2 === 1) { if (got !== undefined) bad++; continue; }
    if (JSON.stringify(got) !== JSON.stringify(start(id))) bad++;
  }
  tt.equal(bad, 0);
  tt.same(s.get(3), undefined);
  tt.same(s.get(2), start(2));
  s.delete(2);
  s.delete(2);
  tt.equal(s.size, 5500 - 1);
  tt.same(s.get(123456), undefined);
});

t.test('setting a live id again replaces its facts', async (tt) => {
  const s = new FlowStarts();
  s.set(start(1));
  s.set({ ...start(1), dst: '192.0.2.9' });
  tt.equal(s.size, 1);
  tt.equal(s.get(1)!.dst, '192.0.2.9');
});

t.test('long-lived flows among short ones: rows taken over, growth, against a Map', async (tt) => {
  for (const seed of [1, 2, 3]) {
    const rnd = new Prng(seed);
    const s = new FlowStarts(16), model = new Map<number, FlowStart>();
    const live: number[] = [];
    let id = rnd.int(0, 3), bad = 0, maxLive = 0;
    for (let step = 0; step < 30_000; step++) {
      const r = rnd.float();
      if (r < 0.5) {
        id += rnd.int(1, 3);
        const ev = start(id);
        s.set(ev); model.set(id, ev); live.push(id);
      } else if (live.length > 0) {
        // mostly the oldest few go (short flows), now and then any (a long one ends)
        const i = r < 0.9 ? rnd.int(0, Math.min(live.length - 1, 8)) : rnd.int(0, live.length - 1);
        const gone = live.splice(i, 1)[0];
        s.delete(gone); model.delete(gone);
      }
      // a few flows live long: never deleted while the others churn
      maxLive = Math.max(maxLive, live.length);
      const q = rnd.float() < 0.8 && live.length ? rnd.pick(live) : rnd.int(0, id + 5);
      if (JSON.stringify(s.get(q)) !== JSON.stringify(model.get(q))) bad++;
      if (s.size !== model.size) bad++;
    }
    for (const q of model.keys()) if (JSON.stringify(s.get(q)) !== JSON.stringify(model.get(q))) bad++;
    tt.equal(bad, 0, `seed ${seed}: every look-up agrees`);
    tt.ok(maxLive > 32, `seed ${seed}: up to ${maxLive} live flows in a table of 16 rows at first`);
  }
});
