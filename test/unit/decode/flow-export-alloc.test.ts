// The hot path allocates nothing per record beyond the address and MAC strings: with a template
// that carries neither, two million records must not fill the young generation even once.
// The order matters: IPFIX first, then v9 in the same process, boxed every computed time until
// the time code stopped mixing the tagged export-time parameter into its branches (4 scavenges
// per 2M records before, 0 after).
import t from 'tap';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { FlowExportDecoder } from '../../../collector/decode/flow-export.js';
import { set, template, ipfix, v9, u16, u32, type FieldSpec } from './flow-export-build.js';

const NOW = 1_700_000_000_000;
const F: FieldSpec[] = [[7, 2], [11, 2], [4, 1], [2, 4], [1, 8], [6, 1], [22, 4], [21, 4], [10, 2], [14, 2], [58, 2]];
const recs = Array.from({ length: 40 }, (_, i) => [...u16(i), ...u16(443), 6, ...u32(10), ...u32(0), ...u32(1500), 0x1b, ...u32(1000), ...u32(2000), ...u16(1), ...u16(2), ...u16(30)]).flat();

for (const [name, tpl, data] of [
  ['IPFIX', ipfix(1, 0, NOW / 1000, [set(2, template(256, F))]), ipfix(1, 0, NOW / 1000, [set(256, recs)])],
  ['v9', v9(1, 0, 5000, NOW / 1000, [set(0, template(256, F))]), v9(1, 0, 5000, NOW / 1000, [set(256, recs)])],
] as const) {
  t.test(`${name}: no garbage per record`, async (t) => {
    const d = new FlowExportDecoder();
    d.decode(tpl, 0, tpl.length, '192.0.2.1', NOW, () => {});
    let sink = 0;
    // an integer sink: adding doubles to a captured variable would itself allocate
    const cb = (r: { bytes: number; start: number }) => { sink = (sink + r.bytes + (r.start & 1)) | 0; };
    for (let i = 0; i < 20_000; i++) d.decode(data, 0, data.length, '192.0.2.1', NOW, cb);
    let minor = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    });
    obs.observe({ entryTypes: ['gc'] });
    for (let i = 0; i < 50_000; i++) d.decode(data, 0, data.length, '192.0.2.1', NOW, cb);
    await new Promise((r) => setTimeout(r, 50));
    obs.disconnect();
    t.ok(minor <= 1, `${minor} scavenges over 2,000,000 records`);
    t.equal(d.stats().records, 70_000 * 40);
    t.not(sink, 0.5);
  });
}
