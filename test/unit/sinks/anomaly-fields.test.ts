import t from 'tap';
import { ANOMALY_FIELDS, orderedAnomaly } from '../../../collector/sinks/anomaly-fields.js';
import type { Anomaly } from '../../../collector/types.js';

t.test('orderedAnomaly: exactly the DESIGN.md fields, in ANOMALY_FIELDS order, whatever the order they were built in', async (t) => {
  const built: Record<string, unknown> = {};
  // reversed, with one field too many, as an object from elsewhere might come
  for (const k of [...ANOMALY_FIELDS].reverse()) built[k] = k === 'suppressed' ? false : k;
  built.extra = 'not a DESIGN.md field';
  const o = orderedAnomaly(built as unknown as Anomaly);
  t.same(Object.keys(o), [...ANOMALY_FIELDS]);
  for (const k of ANOMALY_FIELDS) t.equal(o[k], built[k], k);
});
