// FlowTable.active(): the live flows as interim records, read-only. Checked against what
// flush() then emits for the same flows, on the demo capture read by the real pipeline.

import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Pipeline } from '../../../collector/pipeline.js';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import type { FlowRecord } from '../../../collector/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const flushed: FlowRecord[] = [];
let flushing = false;
const pipeline = new Pipeline({ inventory: false, onFlow: (r) => { if (flushing) flushed.push(r); } });
await openCapture(root + 'test/fixtures/demo/demo.pcap').run(pipeline.handleStampedFrame, pipeline.stamp);
const stats = pipeline.flows.stats();

t.test('every live flow once, as flush() would write it but not final', async (t) => {
  t.ok(stats.active > 100, `live flows: ${stats.active}`);
  const active = pipeline.flows.active(Number.MAX_SAFE_INTEGER);
  t.equal(active.length, stats.active);
  t.ok(active.every((r) => r.final === false));
  const again = pipeline.flows.active(Number.MAX_SAFE_INTEGER);
  t.same(again, active, 'reading changes nothing');
  t.same(pipeline.flows.stats(), stats, 'the table is untouched');
  flushing = true;
  pipeline.flows.flush();
  flushing = false;
  t.equal(flushed.length, active.length);
  const byId = new Map(flushed.map((r) => [r.id, r]));
  for (const r of active) t.same({ ...r, final: true }, byId.get(r.id), `flow ${r.id}`);
  t.same(pipeline.flows.active(10), [], 'none live after the flush');
});
