// `segwatch replay` end to end on the bundled demo: every anomaly kind from the capture with
// injected cases, nothing from the same house's allowed-only capture, DESIGN.md's fields on
// every line, and a corrupt capture ending with a clear error after what came before it.

import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, segwatch } from '../helpers/paths.js';
import { ANOMALY_KINDS } from '../../collector/types.js';
import { ANOMALY_FIELDS } from '../../collector/sinks/anomaly-fields.js';

// collector.degraded is about segwatch itself (a silent source, a growing spool): a replay's
// clock is its packets, so a capture never raises it. The demo has no port forward planted:
// device.exposed has its own capture (test/e2e/device-exposed.test.ts).
const TRAFFIC_KINDS = ANOMALY_KINDS.filter((k) => k !== 'collector.degraded' && k !== 'device.exposed');
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
  for (const k of TRAFFIC_KINDS) t.ok(kinds.has(k), `reports ${k}`);
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
  // the port scan (ports 1-100 at 100 a second) is recognised at its 10th port: its FTP and telnet probes fold into it
  t.same(find('protocol.plaintext', (a) => !String(a.device).startsWith('plugs-')).map((a) => a.peerPort).sort(), [1883, 23, 80].sort(), 'telnet, HTTP Basic auth and MQTT');
  t.same(find('protocol.plaintext', (a) => String(a.device).startsWith('plugs-')).map((a) => a.peerPort).sort(), [], 'the port scan\'s probes are the scan');
  t.same(find('credentials.default', () => true).map((a) => [a.device, a.ip, a.peer, a.peerPort, a.severity]),
    [['plugs-c30041', '192.168.50.41', '192.168.50.70', 23, 'critical']], 'the admin/admin telnet login on the kitchen plug (its server)');
  t.notMatch(JSON.stringify(find('credentials.default', () => true)), /admin/, 'admin/admin: the user equal to the password is masked too');
  t.same(find('dns.bypass', () => true).map((a) => `${a.peer}:${a.peerPort}`).sort(), ['1.1.1.1:853', '8.8.8.8:53'], 'plain DNS and DoT to unapproved resolvers');
  t.equal(find('volume.limit', (a) => a.ip === '192.168.50.43').length, 1, 'the garage plug over its hourly limit');
  t.equal(as.filter((a) => String(a.ip).startsWith('192.168.1.')).length, 0, 'frames of VLAN 1 are not watched');

  // One device, one name: `plugs` (vendor: "TP-LINK*") names each plug <entry>-<MAC tail>, the
  // unlisted ESP32 and Pi go by their MAC, not the hostname they announced in DHCP.
  const byMac = new Map<string, Set<string>>(), byName = new Map<string, Set<string>>();
  for (const a of as) {
    if (a.mac === '') continue;
    byMac.set(String(a.mac), (byMac.get(String(a.mac)) ?? new Set()).add(String(a.device)));
    byName.set(String(a.device), (byName.get(String(a.device)) ?? new Set()).add(String(a.mac)));
  }
  t.same([...byMac].filter(([, s]) => s.size > 1).map(([m, s]) => `${m}: ${[...s]}`), [], 'one name per MAC');
  t.same([...byName].filter(([, s]) => s.size > 1).map(([n, s]) => `${n}: ${[...s]}`), [], 'one MAC per name');
  t.same([...byMac.get('14:75:90:c3:00:42') ?? []], ['plugs-c30042'], 'the living-room plug');
  t.same([...byMac.get('14:75:90:c3:00:43') ?? []], ['plugs-c30043'], 'the garage plug');
  t.same([...byMac.get('14:08:08:f6:00:70') ?? []], ['14:08:08:f6:00:70'], 'the unlisted ESP32 by its MAC, not ESP_F60070');
  t.same([...byMac.get('28:cd:c1:07:00:77') ?? []], ['28:cd:c1:07:00:77'], 'the unlisted Pi by its MAC, not raspberrypi');
  t.equal(as.filter((a) => a.device === 'plugs' || a.device === 'ESP_F60070' || a.device === 'raspberrypi').length, 0, 'no shared or hostname names');
});

t.test('the policy cache: the state directory when given, else the user\'s cache; a hit reports the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-replay-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const xdg = join(dir, 'xdg'), state = join(dir, 'state');
  const env = { XDG_CACHE_HOME: xdg, SEGWATCH_POLICY_CACHE: '' };
  const entries = (d: string) => { try { return readdirSync(d).filter((n) => n.endsWith('.json')); } catch { return []; } };
  const first = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl'], { env });
  t.equal(first.code, 0, first.stderr);
  t.equal(entries(join(xdg, 'segwatch')).length, 1, 'no state directory: $XDG_CACHE_HOME/segwatch');
  const hit = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl'], { env });
  t.equal(hit.stdout, first.stdout, 'a hit reports what the parse did');
  const withState = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl', '--state-dir', state], { env });
  t.equal(withState.code, 0, withState.stderr);
  t.equal(entries(join(state, 'cache')).length, 1, '--state-dir: <state dir>/cache');
  t.equal(entries(join(xdg, 'segwatch')).length, 1, 'and not the user\'s cache again');
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
  for (const k of TRAFFIC_KINDS) t.match(r.stdout, k, `table shows ${k}`);
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
