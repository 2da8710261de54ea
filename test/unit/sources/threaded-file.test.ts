// Reading and decoding on a worker thread gives the pipeline exactly what one thread gives:
// the same flow records in the same order, the same counters, the same end on a damaged file.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { DecodeThread, runThreadedCapture } from '../../../collector/sources/threaded-file.js';
import { MIN_RING_BYTES } from '../../../collector/sources/packet-ring.js';
import { Pipeline } from '../../../collector/pipeline.js';
import type { FlowRecord } from '../../../collector/types.js';
import { generateImixPcap } from '../../../bench/readers.js';
import { manifest, capture } from '../../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'segwatch-threaded-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome { flows: FlowRecord[]; counters: unknown; errors: unknown; error?: string }

async function oneThread(file: string): Promise<Outcome> {
  const flows: FlowRecord[] = [];
  const pl = new Pipeline({ inventory: false, onFlow: (r) => flows.push(r) });
  let error: string | undefined;
  try { await openCapture(file).run(pl.handleFrame); } catch (e) { error = (e as Error).message; }
  await pl.finish();
  return { flows, counters: { ...pl.counters, decodeErrorsByReason: undefined }, errors: pl.decodeErrorsByReason(), error };
}

async function twoThreads(file: string, ringBytes?: number): Promise<Outcome> {
  const flows: FlowRecord[] = [];
  const pl = new Pipeline({ inventory: false, onFlow: (r) => flows.push(r) });
  let error: string | undefined;
  try { await runThreadedCapture(file, pl.handlePacket, { ringBytes }); } catch (e) { error = (e as Error).message; }
  await pl.finish();
  return { flows, counters: { ...pl.counters, decodeErrorsByReason: undefined }, errors: pl.decodeErrorsByReason(), error };
}

t.test('the shared captures: same flows, names, counters and errors', async (t) => {
  // every link type, tag stack, fragment and broken-header case (decode/), the protocols and
  // the IoT devices with TLS and HTTP names; the IoT Sentinel set adds nothing new here
  const rows = manifest().filter((r) => /^(decode|proto|iot\/ndpi-|mud\/tcpdump)/.test(r.file));
  let named = 0;
  for (const r of rows) {
    const file = capture(r.file);
    const [a, b] = [await oneThread(file), await twoThreads(file)];
    t.same(b, a, r.file);
    named += a.flows.filter((f) => f.serverName !== undefined).length;
  }
  t.ok(rows.length >= 80, `${rows.length} captures`);
  t.ok(named > 10, `${named} flows carry a TLS or HTTP name through the ring`);
});

t.test('a small ring: both threads wrap and wait, nothing is lost or reordered', async (t) => {
  const file = join(dir, 'imix.pcap');
  generateImixPcap(file, 120_000, 7);
  const [a, b] = [await oneThread(file), await twoThreads(file, MIN_RING_BYTES)];
  t.equal((b.counters as { packets: number }).packets, 120_000);
  t.same(b, a);
});

t.test('a truncated file: every packet before the cut, then the same CaptureError', async (t) => {
  const src = readFileSync(capture('decode/zeek-http-vlan-0.pcap'));
  const file = join(dir, 'cut.pcap');
  writeFileSync(file, src.subarray(0, Math.floor(src.length * 0.6)));
  const [a, b] = [await oneThread(file), await twoThreads(file)];
  t.match(a.error, /byte \d+/);
  t.same(b, a);
  const missing = await twoThreads(join(dir, 'nope.pcap'));
  t.match(missing.error, /cannot open/);
});

t.test('a thread started early: packets waited in the ring; a cancelled one stops', async (t) => {
  const file = join(dir, 'early.pcap');
  generateImixPcap(file, 60_000, 11);
  const want = await oneThread(file);
  const early = new DecodeThread(file, MIN_RING_BYTES);
  // the thread fills the small ring and waits for a reader
  await new Promise((r) => setTimeout(r, 300));
  const flows: FlowRecord[] = [];
  const pl = new Pipeline({ inventory: false, onFlow: (r) => flows.push(r) });
  await early.run(pl.handlePacket);
  await pl.finish();
  t.same({ flows, counters: { ...pl.counters, decodeErrorsByReason: undefined }, errors: pl.decodeErrorsByReason(), error: undefined }, want);
  const unwanted = new DecodeThread(file, MIN_RING_BYTES);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  await unwanted.cancel();
  t.ok(Date.now() - t0 < 10_000, 'cancel() ends a thread blocked on a full ring');
});
