// FlowStarts gives back what was stored, for live flows only, through growth and row reuse.
import t from 'tap';
import { FlowStarts } from '../../../collector/detect/flow-starts.js';
import type { FlowStart } from '../../../collector/types.js';
import { Prng } from '../../fixtures/synth/prng.js';

/** Mostly flows as the flow table makes them; every few an odd one a row cannot hold. */
function start(id: number): FlowStart {
  const mac = (n: number) => n.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
  return {
    id, time: 1_700_000_000_000 + id * 1.5, proto: id % 17 === 0 ? 47 : id % 3 === 0 ? 'tcp' : id % 3 === 1 ? 'udp' : 'icmpv6',
    src: id % 19 === 0 ? '010.0.0.1' : `10.${id >> 16 & 255}.${id >> 8 & 255}.${id & 255}`, sport: 1024 + id % 60000,
    dst: id % 7 === 0 ? `fd00::${id.toString(16)}` : `203.0.113.${id % 256}`, dport: 443,
    srcMac: id % 11 === 0 ? 'AA:00:00:00:00:01' : id % 2 ? mac(id * 7919) : '', dstMac: mac(0xffffffffffff - id),
    vlan: id % 4095, tcpFlags: id & 0xff, bytes: 40 + id,
    origin: id % 5 === 1 ? 'netflow' : id % 5 === 2 ? 'ipfix' : 'pcap', exporter: id % 13 === 0 ? '192.0.2.1' : '', sureInitiator: id % 2 === 0,
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

t.test('texts come back as they went in, at the edges of their ranges', async (tt) => {
  const s = new FlowStarts();
  const base = start(2);
  const cases: Partial<FlowStart>[] = [
    { src: '0.0.0.0', dst: '255.255.255.255', srcMac: '00:00:00:00:00:00', dstMac: 'ff:ff:ff:ff:ff:ff' },
    { src: '1.2.3.4', dst: '10.0.0.1', srcMac: '', dstMac: '' },
    { src: '192.168.50.100', dst: '::ffff:1.2.3.4', srcMac: '0a:0b:0c:0d:0e:0f', dstMac: 'a0:b0:c0:d0:e0:f0' },
    { src: '1.2.3.4', dst: '5.6.7.8', srcMac: 'aa:bb:cc:dd:ee:f', dstMac: 'aa-bb-cc-dd-ee-ff' },
  ];
  cases.forEach((c, i) => s.set({ ...base, ...c, id: 100 + i }));
  cases.forEach((c, i) => tt.same(s.get(100 + i), { ...base, ...c, id: 100 + i }, JSON.stringify(c)));
});
