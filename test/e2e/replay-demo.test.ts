// `segwatch replay` end to end on the bundled demo: every anomaly kind from the capture with
// injected cases, nothing from the same house's allowed-only capture, DESIGN.md's fields on
// every line, and a corrupt capture ending with a clear error after what came before it.

import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, segwatch } from '../helpers/paths.js';
import { ANOMALY_KINDS } from '../../collector/types.js';
import { ANOMALY_FIELDS } from '../../collector/sinks/anomaly-fields.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const allowed = join(repoRoot, 'test/fixtures/demo/allowed.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');

interface A { [k: string]: string | number }
const parse = (out: string): A[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));

t.test('demo capture: every anomaly kind, each with every field', async (t) => {
  const r = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const as = parse(r.stdout);
  const kinds = new Set(as.map((a) => a.kind));
  for (const k of ANOMALY_KINDS) t.ok(kinds.has(k), `reports ${k}`);
  for (const a of as) t.same(Object.keys(a), [...ANOMALY_FIELDS], `${a.kind} has DESIGN.md's fields in order`);
  t.match(r.stderr, /segwatch replay: 2272 packets, \d+ flows, \d+ devices, \d+ anomalies/, 'summary on stderr');

  const find = (kind: string, pred: (a: A) => boolean) => as.filter((a) => a.kind === kind && pred(a));
  // The injected cases of test/fixtures/demo/README.md, by device, peer and port.
  t.equal(find('policy.violation', (a) => a.ip === '192.168.50.21' && a.peer === '203.0.113.80' && a.peerPort === 443).length, 1, 'camera to an unlisted host');
  t.equal(find('policy.violation', (a) => a.ip === '192.168.50.21' && a.peerName !== '' && a.peerName !== 'cdn.cam-updates.net').length, 0, 'allowed cloud names stay quiet');
  t.equal(find('segment.crossing', (a) => a.ip === '192.168.50.42' && a.peer === '192.168.1.10' && a.severity === 'critical').length, 2, 'plug into lan on 445 and 22');
  t.equal(find('device.new', (a) => a.mac === '14:08:08:f6:00:70' || a.mac === '28:cd:c1:07:00:77').length, 2, 'two unlisted devices');
  t.equal(find('device.new', () => true).length, 2, 'listed devices are not new');
  t.equal(find('device.spoof', (a) => a.mac === '28:cd:c1:07:00:77' && a.peer === '192.168.50.1').length, 1, 'the gateway address claimed by the Pi');
  t.equal(find('device.spoof', (a) => a.mac === '24:5a:4c:50:00:01').length, 0, 'the gateway reclaiming its address is no spoof');
  const scan = find('scan.hosts', (a) => a.mac === '28:cd:c1:07:00:77');
  t.equal(scan.length, 1, 'one scan.hosts for the sweep');
  t.ok(Number(scan[0]?.count) >= 100, `scan.hosts counts the hosts (${scan[0]?.count})`);
  const ports = find('scan.ports', (a) => a.peer === '192.168.50.30');
  t.equal(ports.length, 1, 'one scan.ports');
  t.ok(Number(ports[0]?.count) >= 50, `scan.ports counts the ports (${ports[0]?.count})`);
  t.same(find('protocol.plaintext', (a) => a.device !== 'plugs').map((a) => a.peerPort).sort(), [1883, 23, 80].sort(), 'telnet, HTTP Basic auth and MQTT');
  // the port scan (ports 1-100 at 100 a second) is recognised at its 10th port: its FTP and telnet probes fold into it
  t.same(find('protocol.plaintext', (a) => a.device === 'plugs').map((a) => a.peerPort).sort(), []);
  t.same(find('dns.bypass', () => true).map((a) => `${a.peer}:${a.peerPort}`).sort(), ['1.1.1.1:853', '8.8.8.8:53'], 'plain DNS and DoT to unapproved resolvers');
  t.equal(find('volume.limit', (a) => a.ip === '192.168.50.43').length, 1, 'the garage plug over its hourly limit');
  t.equal(as.filter((a) => String(a.ip).startsWith('192.168.1.')).length, 0, 'frames of VLAN 1 are not watched');
});

t.test('allowed-only capture of the same house: no anomaly', async (t) => {
  const r = segwatch(['replay', allowed, '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '', 'nothing on stdout');
  t.match(r.stderr, / 0 anomalies/);
  const table = segwatch(['replay', allowed, '--policy', policy]);
  t.equal(table.stdout, '', 'the table format prints nothing either');
});

t.test('table format carries the same anomalies', async (t) => {
  const r = segwatch(['replay', demo, '--policy', policy]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^TIME\s+SEVERITY\s+KIND\s+DEVICE/);
  for (const k of ANOMALY_KINDS) t.match(r.stdout, k, `table shows ${k}`);
});

t.test('--out appends JSON lines to a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'anomalies.jsonl');
  const r = segwatch(['replay', demo, '--policy', policy, '--out', out]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '');
  const lines = parse(readFileSync(out, 'utf8'));
  t.ok(lines.length >= ANOMALY_KINDS.length, `${lines.length} anomalies in the file`);
});

t.test('a truncated capture: anomalies before the fault, then a clear error naming the offset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cut = join(dir, 'cut.pcap');
  const bytes = readFileSync(demo);
  // Cut inside a record about two thirds in: the device.new cases (70 s, 100 s) come before it.
  const at = Math.floor(statSync(demo).size * 0.66);
  writeFileSync(cut, bytes.subarray(0, at));
  const r = segwatch(['replay', cut, '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 1, 'exit status 1');
  t.match(r.stderr, /cut\.pcap: byte \d+: /, 'the error names the byte offset');
  const kinds = new Set(parse(r.stdout).map((a) => a.kind));
  t.ok(kinds.has('device.new'), 'what came before the fault was judged and reported');
});

t.test('bad invocations', async (t) => {
  t.equal(segwatch(['replay', demo]).code, 2, 'no --policy: usage error');
  t.equal(segwatch(['replay', join(repoRoot, 'no-such.pcap'), '--policy', policy]).code, 1, 'missing file: error');
  const help = segwatch(['replay', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /usage: segwatch replay CAPTURE --policy FILE/);
});
