// A template flood: 100,000 templates from distinct fake observation domains / source IDs
// (and many ids in one domain). The cache stays within its caps and the heap stays bounded.
import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { FlowExportDecoder } from '../../../collector/decode/flow-export.js';
import { set, template, ipfix, v9, type FieldSpec } from './flow-export-build.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const NOW = 1_700_000_000_000;
const FIELDS: FieldSpec[] = Array.from({ length: 30 }, (_, i) => [i + 1, 4] as FieldSpec);

function heapAfterGc(): number { gc(); gc(); return process.memoryUsage().heapUsed; }

t.test('100,000 templates from distinct domains: templates and scopes capped, heap bounded', async (t) => {
  // The template cap below the scope cap, so each bound is tested on its own.
  const d = new FlowExportDecoder({ maxTemplates: 1000, maxScopes: 4096 });
  // One template message rewritten in place per domain: the flood itself allocates nothing.
  const msg = ipfix(0, 0, NOW / 1000, [set(2, template(256, FIELDS))]);
  const v9msg = v9(0, 0, 0, NOW / 1000, [set(0, template(300, FIELDS))]);
  let base = 0;
  for (let i = 0; i < 100_000; i++) {
    msg.writeUInt32BE(i, 12);
    d.decode(msg, 0, msg.length, '198.51.100.7', NOW + i, () => {});
    v9msg.writeUInt32BE(i, 16);
    d.decode(v9msg, 0, v9msg.length, '198.51.100.8', NOW + i, () => {});
    if (i === 20_000) base = heapAfterGc();
    if (i % 10_000 === 0) t.ok(d.stats().templates <= 1000, `templates within the cap at ${i}`);
  }
  const s = d.stats();
  t.ok(s.templates <= 1000, `${s.templates} templates cached`);
  t.equal(s.templatesAdded, 200_000);
  t.equal(s.templatesEvicted, 200_000 - s.templates);
  t.equal(s.malformed, 0);
  const grown = heapAfterGc() - base;
  t.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(2)} MiB from 20k to 100k domains`);
});

t.test('defaults: the scope cap holds the template count too', async (t) => {
  const d = new FlowExportDecoder();
  const msg = ipfix(0, 0, NOW / 1000, [set(2, template(256, FIELDS))]);
  for (let i = 0; i < 20_000; i++) {
    msg.writeUInt32BE(i, 12);
    d.decode(msg, 0, msg.length, '198.51.100.7', NOW, () => {});
  }
  t.equal(d.stats().templates, 4096);
});

t.test('many template ids in one domain: the per-domain cap', async (t) => {
  const d = new FlowExportDecoder({ maxTemplatesPerDomain: 256 });
  const msg = ipfix(1, 0, NOW / 1000, [set(2, template(256, FIELDS))]);
  for (let id = 256; id < 65536; id++) {
    msg.writeUInt16BE(id, 20);
    d.decode(msg, 0, msg.length, '198.51.100.7', NOW, () => {});
  }
  t.equal(d.stats().templates, 256);
  t.equal(d.stats().templatesEvicted, 65536 - 256 - 256);
});

t.test('a full set of tiny templates (16,000 per datagram) is bounded work', async (t) => {
  const d = new FlowExportDecoder();
  const body: number[] = [];
  for (let id = 256; body.length + 8 <= 65535 - 20; id++) body.push(...template(id, [[8, 1]]));
  const msg = ipfix(1, 0, NOW / 1000, [set(2, body)]);
  const t0 = process.hrtime.bigint();
  d.decode(msg, 0, msg.length, '198.51.100.7', NOW, () => {});
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  t.ok(d.stats().templates <= 4096);
  t.ok(ms < 2000, `${ms.toFixed(1)} ms`);
});
