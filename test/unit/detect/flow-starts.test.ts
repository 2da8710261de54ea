// FlowStarts gives back what was stored, for live flows only, through growth and row reuse.
import t from 'tap';
import { FlowStarts } from '../../../collector/detect/flow-starts.js';
import type { FlowStart } from '../../../collector/types.js';

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
