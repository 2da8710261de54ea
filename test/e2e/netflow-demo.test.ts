// Issue 12, "Must show": the demo house arriving as IPFIX from softflowd, with segwatch also
// capturing only DNS, DHCP and ARP (a BPF filter), as a router-plus-mirror setup would, raises
// the same anomalies as the capture does, except exactly these, which need payloads:
// `protocol.plaintext` for HTTP Basic auth and `credentials.default`. Without the DNS capture,
// the domain-rule verdicts say in the anomaly that no name was known.
//
// The setup, live and real on both sides: a network namespace with a veth pair
// (test/helpers/netns.ts); tcpreplay plays demo.pcap into the pair from the namespace's end, and
// `segwatch run --interface <host end> --filter '<DNS, DHCP, ARP>' --ipfix 127.0.0.1:PORT`
// captures what the filter lets through (the mirror port); then softflowd reads the same
// capture and exports it as IPFIX to that port (the router). Two things make softflowd a
// router of this house rather than of a month ago: the capture's times are moved to the moment
// the mirror replay starts (a copy in the temp dir), and softflowd's -a exports those times
// (without it, `-r` writes times computed from its own uptime, days off the capture and the
// clock). `-T ether`: the router exports MACs and VLAN ids (sourceMacAddress, vlanId), so the
// TV's IPv6 address, which no DNS, DHCP or ARP frame of the mirror names, is the TV's by MAC,
// and the VLAN 1 frames stay off the watched VLAN. Why not `segwatch replay` with a
// filtered capture and a capture of the export: replay takes one kind of input at a time, and
// only `run` has both the capture and the receiver, as a deployment would. Deterministic
// nonetheless: the mirror's frames are all in (counted through the API) before softflowd
// starts, so every DNS answer is known before the first record arrives, as it is on a real
// network where a name is resolved before its connection ends and is exported. Anomalies are
// compared by (kind, device, peer, port) with `segwatch replay demo.pcap --format jsonl`.
// The namespace and the pair are removed in teardown; nothing is sent anywhere else.

import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freeUdpPort, runSoftflowd } from '../helpers/softflowd.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, have, repoRoot, segwatch, skipUnless } from '../helpers/paths.js';
import { createVethLab, netnsUnavailable, type VethLab } from '../helpers/netns.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const MIRRORED = 'port 53 or port 67 or port 68 or arp';
/** the demo's frames are 802.1Q-tagged (VLAN 50, a few on VLAN 1): the filter takes both */
const FILTER = `(${MIRRORED}) or (vlan and (${MIRRORED}))`;
const TOKEN = 'netflow-demo-test-token';

/**
 * What only a payload shows, so flow records cannot: each with its reason. Matched by kind and
 * the capture's (device, peer, port) of the case in test/fixtures/demo/README.md.
 */
const NEED_PAYLOAD: Array<{ kind: string; device: string; peer: string; peerPort: number; reason: string }> = [
  { kind: 'protocol.plaintext', device: 'nvr', peer: '192.168.50.21', peerPort: 80,
    reason: 'HTTP Basic auth: the Authorization header is in the payload; a record shows a flow to port 80, which is plain HTTP the nvr profile allows' },
  { kind: 'credentials.default', device: 'plugs-c30041', peer: '192.168.50.70', peerPort: 23,
    reason: 'the telnet login admin/admin is in the payload; the record shows a telnet flow (itself protocol.plaintext, which is raised)' },
];

interface A { kind: string; device: string; ip: string; peer: string; peerPort: number; peerName: string; message: string; id: string; state: string }
const key = (a: { kind: string; device: string; peer: string; peerPort: number }) => `${a.kind} ${a.device} ${a.peer} ${a.peerPort}`;
const parse = (text: string): A[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as A);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idle = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

async function freeTcpPort(): Promise<number> {
  const net = await import('node:net');
  return await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Run {
  child: ChildProcess;
  out: string;
  stderr(): string;
  metric(name: string): Promise<number>;
  stats(): Promise<{ packets: number }>;
  stop(): Promise<number | null>;
}

async function startRun(t: { teardown(fn: () => void): void }, dir: string, args: string[]): Promise<Run> {
  const out = join(dir, 'anomalies.jsonl');
  const api = await freeTcpPort();
  const child = spawn(process.execPath, [cliPath, 'run', '--policy', policy, '--out', out, '--state-dir', join(dir, 'state'),
    '--listen', `127.0.0.1:${api}`, '--log-level', 'info', ...args],
  { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SEGWATCH_API_TOKEN: TOKEN } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 2e6) stderr += d.toString(); });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  for (const until = Date.now() + 30_000; !/collector started/.test(stderr);) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`segwatch run did not start: ${stderr.slice(-1500)}`);
    await sleep(50);
  }
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${api}${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5000) });
    return res.text();
  };
  return {
    child, out, stderr: () => stderr,
    async metric(name) {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(await get('/metrics'));
      return m ? Number(m[1]) : NaN;
    },
    async stats() { return JSON.parse(await get('/api/v1/stats')) as { packets: number }; },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return await Promise.race([exited, idle(30_000).then(() => null)]);
    },
  };
}

/**
 * A copy of a classic pcap (little-endian, as the demo's generator writes it) whose first packet
 * is at `firstSec` (s since epoch), every gap kept.
 */
function shiftCapture(src: string, dst: string, firstSec: number): void {
  const b = Buffer.from(readFileSync(src));
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${src}: not a little-endian microsecond pcap`);
  const delta = firstSec - b.readUInt32LE(24);
  for (let off = 24; off + 16 <= b.length; off += 16 + b.readUInt32LE(off + 8)) b.writeUInt32LE(b.readUInt32LE(off) + delta, off);
  writeFileSync(dst, b);
}

/** softflowd -r CAPTURE as IPFIX to 127.0.0.1:port, exporting MACs and VLAN ids; its own count of records sent. */
async function softflowd(capture: string, port: number, dir: string): Promise<number> {
  const ctl = join(dir, 'softflowd.ctl');
  return (await runSoftflowd(['-r', capture, '-a', '-T', 'ether', '-n', `127.0.0.1:${port}`, '-v', '10', '-d', '-c', ctl, '-p', join(dir, 'softflowd.pid')], ctl)).records;
}

/** Waits until the collector decoded every record sent, then for the join window (3 s) and a tick. */
async function allRecords(run: Run, sent: number): Promise<number> {
  let n = 0;
  for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100)) {
    n = await run.metric('segwatch_netflow_records_total');
    if (n >= sent) break;
  }
  await sleep(4500);
  return n;
}

/** Anomalies of a run's --out file, one per id, in their last state. */
function anomaliesOf(out: string): A[] {
  if (!existsSync(out)) return [];
  const byId = new Map<string, A>();
  for (const a of parse(readFileSync(out, 'utf8'))) byId.set(a.id, a);
  return [...byId.values()];
}

const why = netnsUnavailable() ?? (!have('softflowd') ? 'needs softflowd' : !have('tcpreplay') ? 'needs tcpreplay (Debian package tcpreplay)'
  : !have('tcpdump') ? 'needs tcpdump' : !have('tshark') ? 'needs tshark' : null);

t.test('the demo house as IPFIX from softflowd plus a DNS/DHCP/ARP mirror: the capture\'s anomalies but the two that need payloads', { skip: skipUnless(!why, why ?? '') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-nf-demo-'));
  let lab: VethLab | null = null;
  t.teardown(() => { lab?.destroy(); rmSync(dir, { recursive: true, force: true }); });

  const ref = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl']);
  t.equal(ref.code, 0, ref.stderr);
  const want = parse(ref.stdout);
  for (const n of NEED_PAYLOAD) t.ok(want.some((a) => key(a) === key(n)), `the capture raises ${key(n)}`);

  // what the mirror port carries: the filter applied to the capture by tcpdump
  const mirrored = spawnSync('tcpdump', ['-nn', '-r', demo, FILTER], { encoding: 'utf8', timeout: 30_000 }).stdout.split('\n').filter(Boolean).length;
  t.ok(mirrored > 100, `${mirrored} frames of DNS, DHCP and ARP in the capture`);

  lab = createVethLab({ deviceCidr: '192.168.50.250/24' });
  const port = await freeUdpPort();
  const run = await startRun(t, join(dir, 'mirror'), ['--interface', lab.hostIf, '--filter', FILTER, '--ipfix', `127.0.0.1:${port}`]);
  await sleep(500); // libpcap opens the interface after the start line
  const shifted = join(dir, 'demo-now.pcap');
  shiftCapture(demo, shifted, Math.floor(Date.now() / 1000));
  const played = lab.exec(['tcpreplay', '-i', lab.nsIf, '--pps=2000', demo], 60_000);
  t.equal(played.code, 0, `tcpreplay: ${played.err.slice(-500)}`);
  let seen = 0;
  for (const until = Date.now() + 20_000; Date.now() < until; await sleep(100)) {
    seen = (await run.stats()).packets;
    if (seen >= mirrored) break;
  }
  t.equal(seen, mirrored, 'the mirror: every DNS, DHCP and ARP frame captured, nothing else');
  const sent = await softflowd(shifted, port, dir);
  const decoded = await allRecords(run, sent);
  t.equal(decoded, sent, `the router: all ${sent} IPFIX records decoded`);
  t.equal(await run.stop(), 0, 'SIGTERM: exit 0');
  const got = anomaliesOf(run.out);

  const gotKeys = new Set(got.map(key)), wantKeys = new Set(want.map(key));
  const missing = want.filter((a) => !gotKeys.has(key(a))).map(key).sort();
  const extra = got.filter((a) => !wantKeys.has(key(a))).map(key).sort();
  for (const n of NEED_PAYLOAD) t.comment(`not from flows: ${key(n)}: ${n.reason}`);
  for (const n of NEED_PAYLOAD) t.ok(missing.includes(key(n)), `${key(n)} is not raised from flows`);
  t.same(missing.filter((m) => !NEED_PAYLOAD.some((n) => key(n) === m)), [], 'every other anomaly of the capture is raised');
  t.same(extra, [], 'and no anomaly the capture does not raise');
  // the names came from the mirrored DNS
  const cdn = got.find((a) => a.kind === 'policy.violation' && a.peer === '203.0.113.80');
  t.equal(cdn?.peerName, 'cdn.cam-updates.net', 'the camera\'s unlisted host carries the name its DNS answer gave');
  t.same(got.filter((a) => /no DNS name was known/.test(a.message)).map(key), [], 'no verdict lacked a name');
});

t.test('the same IPFIX without the mirror: domain-rule verdicts say no name was known', { skip: skipUnless(!why, why ?? '') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-nf-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ref = segwatch(['replay', demo, '--policy', policy, '--format', 'jsonl']);
  const want = parse(ref.stdout);
  const port = await freeUdpPort();
  const run = await startRun(t, dir, ['--ipfix', `127.0.0.1:${port}`]);
  const shifted = join(dir, 'demo-now.pcap');
  shiftCapture(demo, shifted, Math.floor(Date.now() / 1000));
  const sent = await softflowd(shifted, port, dir);
  t.equal(await allRecords(run, sent), sent, `all ${sent} IPFIX records decoded`);
  t.equal(await run.stop(), 0, 'SIGTERM: exit 0');
  const got = anomaliesOf(run.out);
  // without DHCP and ARP, devices go by address: compare by (kind, ip, peer, port)
  const k = (a: A) => `${a.kind} ${a.ip} ${a.peer} ${a.peerPort}`;
  const wantKeys = new Set(want.map(k));
  // the flows domain rules decide: to an address a DNS answer of the capture resolved, from a
  // device whose profile has domain rules (policy.yaml: `to: "*.example"`)
  const resolved = new Set(spawnSync('tshark', ['-n', '-r', demo, '-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.a', '-e', 'dns.aaaa'], { encoding: 'utf8', timeout: 60_000 })
    .stdout.split(/[\s,]+/).filter(Boolean));
  t.ok(resolved.size >= 8, `${resolved.size} addresses in the capture's DNS answers`);
  const domainProfiles = new Set(['camera', 'nvr', 'smart-plug', 'tv', 'hub']);
  const extra = got.filter((a) => !wantKeys.has(k(a)) && resolved.has(a.peer) && domainProfiles.has((a as A & { profile: string }).profile));
  t.ok(extra.length >= 5, `${extra.length} flows that domain rules allowed in the capture are verdicts without names: ${extra.map(k).join(', ')}`);
  t.same(extra.filter((a) => a.kind !== 'policy.violation').map(k), [], 'policy verdicts only');
  t.same(extra.filter((a) => !/no DNS name was known for/.test(a.message)).map(k), [], 'each says that no DNS name was known');
  // what else differs without the mirror, for the record: no DHCP hostname, no ARP binding
  const other = got.filter((x) => !wantKeys.has(k(x)) && !extra.includes(x)).map(k);
  t.comment(`${other.length} other differences without the mirror (no DHCP hostname, no ARP binding), e.g. ${other.slice(0, 8).join('; ')}`);
  const ring = extra.find((a) => a.peerPort === 443 && a.ip === '192.168.50.21');
  t.ok(ring, 'the doorbell\'s TLS to its allowed *.ring.com host is one of them');
  t.match(ring?.message ?? '', /capture the resolver's traffic/, 'and says how to learn the names');
  const cdn = got.find((a) => a.kind === 'policy.violation' && a.peer === '203.0.113.80');
  t.equal(cdn?.peerName, '', 'the camera\'s unlisted host: no name');
  t.match(cdn?.message ?? '', /no DNS name was known for 203\.0\.113\.80/, 'and the verdict says so');
});
