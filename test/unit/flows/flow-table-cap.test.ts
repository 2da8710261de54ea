// The flow table's cap (README "Limits"): at maxFlows live flows a new flow pushes out the least
// recently seen one, which ends as a final record and is counted in stats().evicted; the
// default cap holds a million flows.
import t from 'tap';
import { FlowTable, DEFAULT_MAX_FLOWS } from '../../../collector/flows/flow-table.js';
import { PacketInfo, L3, TCP_SYN } from '../../../collector/decode/packet.js';
import type { FlowRecord } from '../../../collector/types.js';

const T = 1_700_000_000_000;

/** A SYN of flow i: device 10.50.0.(i % 200), to host 20.0.0.0 + i, port 443; 1 ms apart. */
function syn(p: PacketInfo, i: number): PacketInfo {
  p.l3 = L3.IPv4; p.proto = 6; p.hasL4 = true; p.srcMac = 0x025000000000 + (i % 200); p.dstMac = 0x245a4c500001;
  p.src4 = (0x0a320000 + (i % 200)) >>> 0; p.dst4 = (0x14000000 + i) >>> 0; p.sport = 40000 + (i % 20000); p.dport = 443;
  p.tcpFlags = TCP_SYN; p.ipLen = 44; p.ts = T + i;
  return p;
}

t.test('cap 1,000, 10,000 flows fed: at most 1,000 live, 9,000 evicted (each as a final record, oldest first)', async (t) => {
  const records: FlowRecord[] = [];
  const ft = new FlowTable({ maxFlows: 1000 }, { onRecord: (r) => { records.push(r); } });
  const p = new PacketInfo();
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    ft.add(syn(p, i));
    most = Math.max(most, ft.stats().active);
  }
  t.equal(most, 1000, 'never more than the cap live');
  t.equal(ft.stats().active, 1000);
  t.equal(ft.stats().evicted, 9000, 'every flow beyond the cap pushed one out');
  t.equal(ft.stats().expired, 0, 'none was idle: evictions, not expiries');
  t.equal(records.length, 9000);
  t.ok(records.every((r) => r.final), 'evicted flows end as final records');
  t.same(records.slice(0, 2).map((r) => r.dst), ['20.0.0.0', '20.0.0.1'], 'the least recently seen go first');
  ft.flush();
  t.equal(records.length, 10_000, 'the last 1,000 end at the flush');
});

t.test('the default cap holds a million flows', async (t) => {
  t.equal(DEFAULT_MAX_FLOWS, 1 << 20);
  const ft = new FlowTable({}, { onRecord() {} });
  t.equal(ft.capacity, 1 << 20);
});
