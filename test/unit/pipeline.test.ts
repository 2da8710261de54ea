// The composition root on the demo capture: stages fed in order, and a stage that throws
// costs its frame, never the run.

import t from 'tap';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { Pipeline } from '../../collector/pipeline.js';
import { loadPolicyFile } from '../../collector/policy/load.js';
import { openCapture } from '../../collector/sources/pcap-file.js';
import type { Anomaly, DeviceTraffic, Sink } from '../../collector/types.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policyFile = join(repoRoot, 'test/fixtures/demo/policy.yaml');

async function replay(sink: Sink) {
  const { policy } = await loadPolicyFile(policyFile);
  if (!policy) throw new Error('demo policy does not load');
  const pipeline = new Pipeline({ policy: () => policy, sinks: [sink] });
  await openCapture(demo).run(pipeline.handleFrame);
  await pipeline.finish();
  return pipeline;
}

t.test('every stage fed: anomalies, traffic per interval, devices', async (t) => {
  const anomalies: Anomaly[] = [];
  const traffic: DeviceTraffic[] = [];
  const devices = new Set<string>();
  const p = await replay({
    name: 'collect', anomaly: (a) => anomalies.push(a), deviceTraffic: (x) => traffic.push(x), device: (d) => devices.add(d.mac),
    flush: async () => {}, close: async () => {},
  });
  t.equal(p.counters.packets, 2272);
  t.equal(p.counters.stageErrors, 0);
  t.equal(anomalies.length, p.counters.anomalies);
  t.ok(anomalies.length >= 9, `${anomalies.length} anomalies`);
  t.ok(traffic.every((x) => x.time % 60_000 === 0), 'device_traffic on 60 s boundaries');
  t.ok(traffic.length > 10, `${traffic.length} device_traffic points`);
  t.equal(devices.size, 10, 'the ten devices of the watched VLAN, none from VLAN 1');
});

t.test('a sink that throws: counted, the other sinks still get every point', async (t) => {
  let calls = 0;
  const good: Anomaly[] = [];
  const { policy } = await loadPolicyFile(policyFile);
  const pipeline = new Pipeline({
    policy: () => policy!,
    sinks: [
      { name: 'broken', anomaly: () => { calls++; throw new Error('sink bug'); }, flush: async () => {}, close: async () => {} },
      { name: 'good', anomaly: (a) => good.push(a), flush: async () => {}, close: async () => {} },
    ],
  });
  await openCapture(demo).run(pipeline.handleFrame);
  await pipeline.finish();
  t.equal(pipeline.counters.packets, 2272, 'every frame was read');
  t.equal(pipeline.counters.sinkErrors, calls, 'each refusal counted');
  t.equal(good.length, pipeline.counters.anomalies, 'the good sink got every anomaly');
  t.ok(good.length >= 9);
});

t.test('a stage that throws costs its frame, not the run', async (t) => {
  const { policy } = await loadPolicyFile(policyFile);
  let n = 0;
  // the policy accessor is read by stages on the frame path; make it fail now and then
  const pipeline = new Pipeline({ policy: () => { if (++n % 97 === 0) throw new Error('stage bug'); return policy!; } });
  await openCapture(demo).run(pipeline.handleFrame);
  await pipeline.finish().catch(() => undefined);
  t.equal(pipeline.counters.packets, 2272, 'every frame was read');
  t.ok(pipeline.counters.stageErrors > 0, `${pipeline.counters.stageErrors} frames skipped and counted`);
});
