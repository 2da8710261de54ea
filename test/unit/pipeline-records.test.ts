// Flow records (NetFlow/IPFIX) through the pipeline's record entry: one device whether seen in
// packets or in records (by MAC when the record carries it, else by its address binding), the
// opener a source settled is believed, and a record without a VLAN id is on the policy's VLAN.

import t from 'tap';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { Pipeline } from '../../collector/pipeline.js';
import { loadPolicyFile } from '../../collector/policy/load.js';
import { openCapture } from '../../collector/sources/pcap-file.js';
import type { Anomaly, FlowRecord } from '../../collector/types.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policyFile = join(repoRoot, 'test/fixtures/demo/policy.yaml');

let nextId = 1_000_000;
function record(o: Partial<FlowRecord>): FlowRecord {
  return {
    id: nextId++, start: 0, end: 0, proto: 'tcp', src: '', sport: 50000, dst: '', dport: 443, packets: 5, bytes: 500, packetsRev: 5, bytesRev: 5000,
    srcMac: '', dstMac: '', vlan: 0, tcpFlags: 0x1b, origin: 'ipfix', exporter: '192.168.50.1', final: true, ...o,
  };
}

async function withDemo() {
  const { policy } = await loadPolicyFile(policyFile);
  if (!policy) throw new Error('demo policy does not load');
  const opened: Anomaly[] = [];
  const p = new Pipeline({ policy: () => policy, sinks: [{ name: 'c', anomaly: (a, ev) => { if (ev === 'opened') opened.push(a); }, flush: async () => {}, close: async () => {} }] });
  await openCapture(demo).run(p.handleFrame);
  return { p, opened };
}

t.test('a device seen in packets is the same device in records: by address binding, and by MAC', async (t) => {
  const { p, opened } = await withDemo();
  const devices = p.inventory.devices().length;
  const t0 = p.counters.lastTs;
  const before = opened.length;
  // the doorbell (known by its MAC in the policy) to a host its profile does not allow; no MAC in the record
  p.handleRecord(record({ start: t0 + 1000, end: t0 + 2000, src: '192.168.50.21', dst: '198.51.100.99', sureInitiator: true }));
  // a record that carries the doorbell's MAC, under another address it never used in packets
  p.handleRecord(record({ start: t0 + 3000, end: t0 + 4000, src: '192.168.50.21', srcMac: '00:b4:63:a1:00:21', dst: '198.51.100.98', sureInitiator: true }));
  await p.finish();
  const fresh = opened.slice(before).filter((a) => a.kind === 'policy.violation');
  t.equal(fresh.length, 2, 'both records judged');
  t.ok(fresh.every((a) => a.device === 'doorbell'), `named ${fresh.map((a) => a.device).join(', ')}`);
  t.equal(p.inventory.devices().length, devices, 'no new device');
  t.notOk(opened.slice(before).some((a) => a.kind === 'device.new'), 'no device.new for a device known from packets');
});

t.test('a settled opener is believed over the SYN test; a guessed one is left to the port rules', async (t) => {
  const { p, opened } = await withDemo();
  const t0 = p.counters.lastTs;
  const before = opened.length;
  // sure: the outside host opened a connection to the doorbell's port 443 (device.exposed material, not the doorbell's flow)
  p.handleRecord(record({ start: t0 + 1000, end: t0 + 2000, src: '192.168.50.21', sport: 40001, dst: '198.51.100.97', dport: 40002, tcpFlags: 0x18, sureInitiator: true }));
  await p.finish();
  const a = opened.slice(before).find((x) => x.peer === '198.51.100.97');
  t.ok(a, 'judged as the doorbell opening it although its flags show no SYN');
  t.equal(a?.device, 'doorbell');
});
