// Reading, decoding and counting flows on a worker thread (segwatch replay's default) gives the
// whole pipeline exactly what one thread gives: the same anomaly events in the same order, the
// same devices, device_traffic and collector points, the same flow records (server names
// included), the same counters, and the same end on a damaged file.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { FlowThread } from '../../../collector/sources/flow-thread.js';
import { Pipeline } from '../../../collector/pipeline.js';
import { loadPolicyFile, loadPolicyText } from '../../../collector/policy/load.js';
import type { CompiledPolicy } from '../../../collector/policy/types.js';
import type { Sink } from '../../../collector/types.js';
import { generateImixPcap } from '../../../bench/readers.js';
import { manifest, capture, repoRoot } from '../../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'segwatch-flow-thread-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// Every private range watched, little allowed: third-party captures raise many kinds.
const SITE = `version: 1
segments:
  iot: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"]
watch: [iot]
resolvers: ["192.168.1.1"]
default_profile: strict
profiles:
  strict:
    allow:
      - { service: dhcp }
      - { service: dns }
      - { to: "*.amazonaws.com", ports: ["443/tcp"] }
`;

interface Outcome { events: string[]; flows: string[]; counters: unknown; errors: unknown; devices: unknown; error?: string }

async function run(file: string, policy: CompiledPolicy, threaded: boolean, ringBytes?: number, activeTimeoutMs?: number): Promise<Outcome> {
  const events: string[] = [];
  const flows: string[] = [];
  const t0 = Date.now();
  const sink: Sink = {
    name: 'collect',
    anomaly: (a, ev) => events.push(`${ev} ${JSON.stringify(a)}`),
    device: (d) => events.push(`device ${JSON.stringify(d)}`),
    deviceTraffic: (x) => events.push(`traffic ${JSON.stringify(x)}`),
    // a capture whose packets carry no time writes its last health point at the wall clock
    collector: (s) => events.push(`collector ${JSON.stringify({ ...s, time: s.time >= t0 ? 'now' : s.time })}`),
    flush: async () => {}, close: async () => {},
  };
  const pl = new Pipeline({
    policy: () => policy, sinks: [sink], onFlow: (r) => flows.push(JSON.stringify(r)), host: 'h', source: 's',
    ...(activeTimeoutMs ? { flows: { activeTimeoutMs } } : {}),
  });
  let error: string | undefined;
  try {
    if (threaded) await new FlowThread(file, ringBytes).run((f) => pl.flowThreadEntry(f), pl.flowOptions);
    else await openCapture(file).run(pl.handleFrame);
  } catch (e) {
    error = (e as Error).message;
  }
  await pl.finish();
  return {
    events, flows, counters: { ...pl.counters, decodeErrorsByReason: undefined }, errors: pl.decodeErrorsByReason(),
    devices: pl.inventory.devices(), error,
  };
}

const site = loadPolicyText(SITE, 'site.yaml').policy!;

t.test('the shared captures and the demo: the same events, records and counters', async (t) => {
  const rows = manifest().filter((r) => /^(decode|proto|iot|mud\/tcpdump)/.test(r.file) && !r.file.endsWith('.txt'));
  const { policy: demoPolicy } = await loadPolicyFile(join(repoRoot, 'test/fixtures/demo/policy.yaml'));
  const cases: [string, CompiledPolicy][] = [
    ...rows.map((r): [string, CompiledPolicy] => [capture(r.file), site]),
    [join(repoRoot, 'test/fixtures/demo/demo.pcap'), demoPolicy!],
  ];
  let anomalies = 0, named = 0, frames = 0;
  const kinds = new Set<string>();
  for (const [file, policy] of cases) {
    const [a, b] = [await run(file, policy, false), await run(file, policy, true)];
    t.same(b, a, file.split('/').slice(-2).join('/'));
    for (const e of a.events) if (e.startsWith('opened ')) { anomalies++; kinds.add(JSON.parse(e.slice(7)).kind); }
    named += a.flows.filter((f) => f.includes('"serverName"')).length;
    frames += (a.counters as { packets: number }).packets;
  }
  t.ok(cases.length >= 100, `${cases.length} captures, ${frames} frames`);
  t.ok(anomalies > 500, `${anomalies} anomalies`);
  t.ok(kinds.size >= 9, `kinds: ${[...kinds].sort().join(' ')}`);
  t.ok(named > 10, `${named} flows named by a TLS or HTTP payload handed over`);
});

t.test('interim records of long flows: the same counts since the last one', async (t) => {
  const { policy } = await loadPolicyFile(join(repoRoot, 'test/fixtures/demo/policy.yaml'));
  const file = join(repoRoot, 'test/fixtures/demo/demo.pcap');
  const [a, b] = [await run(file, policy!, false, undefined, 2_000), await run(file, policy!, true, undefined, 2_000)];
  const interim = a.flows.filter((f) => f.includes('"final":false')).length;
  t.ok(interim > 20, `${interim} interim records`);
  t.same(b, a);
});

t.test('a small ring: both threads wrap and wait, nothing is lost or reordered', async (t) => {
  const file = join(dir, 'imix.pcap');
  generateImixPcap(file, 120_000, 7);
  const [a, b] = [await run(file, site, false), await run(file, site, true, 1)];
  t.equal((b.counters as { packets: number }).packets, 120_000);
  t.same(b, a);
});

t.test('a truncated file: every event before the cut, then the same CaptureError', async (t) => {
  const src = readFileSync(capture('decode/zeek-http-vlan-0.pcap'));
  const file = join(dir, 'cut.pcap');
  writeFileSync(file, src.subarray(0, Math.floor(src.length * 0.6)));
  const [a, b] = [await run(file, site, false), await run(file, site, true)];
  t.match(a.error, /byte \d+/);
  t.same(b, a);
  const missing = await run(join(dir, 'nope.pcap'), site, true);
  t.match(missing.error, /cannot open/);
});

t.test('a thread started early waits for run(); a cancelled one stops', async (t) => {
  const file = join(dir, 'early.pcap');
  generateImixPcap(file, 20_000, 11);
  const want = await run(file, site, false);
  const early = new FlowThread(file);
  await new Promise((r) => setTimeout(r, 200));
  const events: string[] = [];
  const pl = new Pipeline({ policy: () => site, sinks: [{ name: 'c', anomaly: (a, ev) => events.push(`${ev} ${JSON.stringify(a)}`), flush: async () => {}, close: async () => {} }] });
  await early.run((f) => pl.flowThreadEntry(f), pl.flowOptions);
  await pl.finish();
  t.same(events, want.events.filter((e) => /^(opened|updated|closed) /.test(e)));
  await early.cancel();
  const cancelled = new FlowThread(file);
  await cancelled.cancel();
  t.equal((cancelled as unknown as { exited: boolean }).exited, true, 'cancel() returns once the thread has exited');
});
