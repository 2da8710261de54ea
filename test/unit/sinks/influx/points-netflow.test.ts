// The collector measurement with NetFlow/IPFIX sources: their figures as netflow_* fields.

import t from 'tap';
import { collectorPoint } from '../../../../collector/sinks/influx/points.js';
import { serializePoint } from '../../../../collector/sinks/influx/line-protocol.js';

t.test('netflow_* fields when a NetFlow/IPFIX source runs, none otherwise', async (t) => {
  const base = { time: 10000, host: 'pi', source: 'netflow:0.0.0.0:2055', packets: 0, bytes: 0, drops: 3, decodeErrors: 0, flowsActive: 0, flowsEvicted: 0, queue: 0, spoolBytes: 0 };
  const line = serializePoint(collectorPoint({ ...base, netflow: { datagrams: 10, records: 300, refused: 1, filtered: 20, malformed: 2, lost: 5 } }));
  t.match(line, /netflow_datagrams=10i,netflow_records=300i,netflow_refused=1i,netflow_filtered=20i,netflow_malformed=2i,netflow_lost=5i 10000000000$/);
  t.notMatch(serializePoint(collectorPoint(base)), /netflow_/);
});
