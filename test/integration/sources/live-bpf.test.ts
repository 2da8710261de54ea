// `--bpf auto` (issue 14): the filter the policy implies compiles with libpcap, and what it
// drops is what the pipeline ignores. The demo capture (VLAN 50, one flow between two hosts of
// the protected lan segment besides the watched iot traffic) is cut with the filter by libpcap's
// own offline reader, and `segwatch replay` of the cut file reports the same anomalies and the
// same devices as of the whole file.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autoBpf } from '../../../collector/sources/bpf-auto.js';
import { loadPcap, type PcapPacket } from '../../../collector/sources/libpcap.js';
import { loadPolicyFile } from '../../../collector/policy/load.js';
import { PcapWriter } from '../../fixtures/synth/pcap-writer.js';
import { cliPath, repoRoot, skipUnless } from '../../helpers/paths.js';

const DEMO = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const POLICY = join(repoRoot, 'test/fixtures/demo/policy.yaml');

const pcapMissing = await loadPcap().then(() => null, (e: Error) => e.message);

/** Frames of `file` that pass `filter`, by libpcap; written to `out` when given. */
async function filtered(file: string, filter: string, out?: string): Promise<number> {
  const pcap = await loadPcap();
  const s = pcap.createOfflineSession(file, { filter });
  const w = out ? new PcapWriter(out, { snaplen: 65535 }) : null;
  let n = 0;
  await new Promise<void>((resolve) => {
    s.on('packet', (p: PcapPacket) => {
      const h = p.header;
      const caplen = Math.min(h.readUInt32LE(8), p.buf.length);
      w?.write(h.readUInt32LE(0) * 1e6 + h.readUInt32LE(4), p.buf.subarray(0, caplen), h.readUInt32LE(12));
      n++;
    });
    s.once('complete', () => resolve());
  });
  w?.close();
  return n;
}

function replay(file: string): { anomalies: string[]; summary: string } {
  const r = spawnSync(process.execPath, [cliPath, 'replay', file, '--policy', POLICY, '--format', 'jsonl'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`replay ${file}: exit ${r.status}: ${r.stderr}`);
  const anomalies = r.stdout.trim().split('\n').filter(Boolean).map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    return JSON.stringify({ ...o, id: undefined });
  }).sort();
  return { anomalies, summary: r.stderr };
}

t.test('the auto filter compiles with libpcap, with and without a VLAN', { skip: skipUnless(pcapMissing === null, `the pcap addon does not load: ${pcapMissing}`) }, async (t) => {
  const policy = (await loadPolicyFile(POLICY)).policy!;
  const expr = autoBpf(policy);
  t.match(expr, /^vlan 50 and \(/, 'the policy\'s VLAN first (it moves the offsets of the rest)');
  t.match(expr, /net 192\.168\.50\.0\/24/, 'the watched IPv4 segment');
  t.match(expr, /net fd00:50::\/64/, 'the watched IPv6 segment');
  t.notMatch(expr, /192\.168\.1\.0/, 'not the protected segments');
  for (const e of [expr, autoBpf({ watchedCidrs: ['10.0.0.0/8', '192.168.7.9', 'fd00::/8'] })]) {
    t.ok(await filtered(DEMO, e) >= 0, `libpcap compiles: ${e}`);
  }
  await t.rejects(filtered(DEMO, 'vlan 50 and and net'), 'a broken one does not (the check above is a real one)');
});

t.test('what the auto filter drops, the pipeline ignores: same anomalies and devices', { skip: skipUnless(pcapMissing === null, `the pcap addon does not load: ${pcapMissing}`) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-bpf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const policy = (await loadPolicyFile(POLICY)).policy!;
  const cut = join(dir, 'cut.pcap');
  const kept = await filtered(DEMO, autoBpf(policy), cut);
  const all = await filtered(DEMO, '');
  t.ok(kept < all, `the filter drops something (${all - kept} of ${all} frames), so the comparison means something`);
  const whole = replay(DEMO), part = replay(cut);
  t.same(part.anomalies, whole.anomalies, `the same ${whole.anomalies.length} anomalies`);
  const devices = (s: string) => /(\d+) devices/.exec(s)?.[1];
  t.equal(devices(part.summary), devices(whole.summary), 'the same number of devices');
  t.ok(devices(whole.summary), 'the summary names a device count');
});
