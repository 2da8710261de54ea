// `segwatch run --netflow`: real export datagrams on loopback (a node socket sending NetFlow v5,
// and softflowd exporting the demo capture as IPFIX) judged like packets and written as
// anomalies; `segwatch flows --netflow-capture` on the shared akvorado captures.

import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, cliPath, have, repoRoot, segwatch, skipUnless } from '../helpers/paths.js';
import { v5Datagram } from '../helpers/netflow-v5.js';

const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-nf-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `segwatch run` with these arguments; resolves once it listens. */
async function startRun(t: { teardown(fn: () => void): void }, args: string[]) {
  const child = spawn(process.execPath, [cliPath, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const deadline = Date.now() + 20_000;
  while (!/collector started/.test(stderr) && child.exitCode === null && Date.now() < deadline) await sleep(50);
  return { child, exited, stderr: () => stderr };
}

function lines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

t.test('NetFlow v5 from a node socket: judged, written at once, SIGTERM exits 0', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'anomalies.jsonl');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const run = await startRun(t, ['--netflow', `127.0.0.1:${port}`, '--policy', policy, '--out', out, '--state-dir', join(dir, 'state'), '--log-level', 'info']);
  t.match(run.stderr(), /collector started/, run.stderr());
  t.match(run.stderr(), /NetFlow\/IPFIX (receiver listening|receive buffer capped)/, 'the effective receive buffer is logged');
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const now = Date.now();
  // the hub (192.168.50.60, listed by address) opens 443/tcp to an address its profile does not allow, and a
  // host of the watched segment telnets into the protected LAN
  // a one-sided record waits for its reverse for the join window (3 s) before it is judged
  const dgram = v5Datagram([
    { src: '192.168.50.60', dst: '198.51.100.99', sport: 50000, dport: 443, proto: 6, packets: 10, bytes: 1200, start: now - 3000, end: now - 1000, tcpFlags: 0x1b },
    { src: '198.51.100.99', dst: '192.168.50.60', sport: 443, dport: 50000, proto: 6, packets: 9, bytes: 8000, start: now - 2990, end: now - 1000, tcpFlags: 0x1b },
    { src: '192.168.50.42', dst: '192.168.1.10', sport: 50001, dport: 23, proto: 6, packets: 5, bytes: 300, start: now - 2000, end: now - 500, tcpFlags: 0x02 },
  ], { now });
  const deadline = Date.now() + 15_000;
  const both = () => { const l = lines(out); return l.some((a) => a.kind === 'policy.violation') && l.some((a) => a.kind === 'segment.crossing'); };
  while (Date.now() < deadline && !both()) {
    await new Promise<void>((r) => sock.send(dgram, port, '127.0.0.1', () => r()));
    await sleep(500);
  }
  const got = lines(out);
  const pv = got.find((a) => a.kind === 'policy.violation' && a.peer === '198.51.100.99');
  t.ok(pv, 'policy.violation written while running');
  t.match(pv, { device: 'hub', ip: '192.168.50.60', peerPort: 443, proto: 'tcp', state: 'open', peerName: '' });
  // the hub's profile allows *.meethue.com: without a DNS answer the verdict says no name was known
  t.match(pv?.message, /no DNS name was known for 198\.51\.100\.99.*capture the resolver's traffic with --interface/);
  t.ok(got.find((a) => a.kind === 'segment.crossing' && a.peer === '192.168.1.10' && a.peerPort === 23), 'segment.crossing');
  // the conversation's two records are one flow: the server's side opened nothing
  t.notOk(got.find((a) => a.ip === '198.51.100.99'), 'the reply is not judged as a flow of its own');
  run.child.kill('SIGTERM');
  t.equal(await run.exited, 0, 'SIGTERM: flushed and exit 0');
  t.match(run.stderr(), /collector stopped/);
});

const canCapture = existsSync('/sys/class/net/lo') && spawnSync('sh', ['-c', 'test "$(id -u)" = 0']).status === 0;

t.test('--netflow beside --interface: both sources run, one pipeline, SIGTERM stops both', { skip: skipUnless(canCapture, 'needs root or CAP_NET_RAW on lo') }, async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'anomalies.jsonl');
  const nf = 20000 + Math.floor(Math.random() * 20000), pk = nf + 1;
  const run = await startRun(t, ['--netflow', `127.0.0.1:${nf}`, '--interface', 'lo', '--filter', `udp port ${pk}`, '--policy', policy, '--out', out,
    '--state-dir', join(dir, 'state'), '--log-level', 'info']);
  t.match(run.stderr(), /"source":"live:lo,netflow:127\.0\.0\.1:\d+"/, 'both sources named');
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const now = Date.now();
  const dgram = v5Datagram([{ src: '192.168.50.42', dst: '192.168.1.10', sport: 50001, dport: 23, proto: 6, packets: 5, bytes: 300, start: now - 2000, end: now - 500, tcpFlags: 0x02 }], { now });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !lines(out).some((a) => a.kind === 'segment.crossing')) {
    await new Promise<void>((r) => sock.send(dgram, nf, '127.0.0.1', () => r()));
    await new Promise<void>((r) => sock.send(Buffer.alloc(64), pk, '127.0.0.1', () => r()));
    await sleep(500);
  }
  t.ok(lines(out).some((a) => a.kind === 'segment.crossing' && a.peerPort === 23), 'the record judged while the capture runs');
  run.child.kill('SIGTERM');
  t.equal(await run.exited, 0);
  const stopped = /"packets":(\d+),"flows":\d+,"anomalies":\d+.*collector stopped/.exec(run.stderr());
  t.ok(stopped && Number(stopped[1]) > 0, 'packets were captured on lo too');
});

t.test('softflowd exports the demo capture as IPFIX: the anomalies a router would show', { skip: skipUnless(have('softflowd'), 'needs softflowd') }, async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'anomalies.jsonl');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const run = await startRun(t, ['--ipfix', `127.0.0.1:${port}`, '--policy', policy, '--out', out, '--state-dir', join(dir, 'state'), '--log-level', 'warn']);
  const sf = spawnSync('softflowd', ['-r', demo, '-n', `127.0.0.1:${port}`, '-v', '10', '-d'], { timeout: 30_000, encoding: 'utf8' });
  t.equal(sf.status, 0, sf.stderr);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !lines(out).some((a) => a.kind === 'segment.crossing')) await sleep(200);
  await sleep(4000); // the join window: records still waiting for a reverse go out
  run.child.kill('SIGTERM');
  t.equal(await run.exited, 0);
  const got = lines(out);
  const kinds = new Set(got.map((a) => a.kind));
  for (const k of ['device.new', 'policy.violation', 'segment.crossing', 'dns.bypass']) t.ok(kinds.has(k), `${k} raised from flow records`);
  t.ok(got.some((a) => a.kind === 'segment.crossing' && a.peer === '192.168.1.10' && a.peerPort === 22), 'the SSH into the LAN');
  t.ok(got.some((a) => a.kind === 'dns.bypass' && a.peer === '8.8.8.8'), 'DNS to 8.8.8.8');
});

t.test('flows --netflow-capture: a template file, then its data file, through one decoder', async (t) => {
  const tpl = capture('netflow/akvorado-template.pcap'), data = capture('netflow/akvorado-data.pcap');
  const r = segwatch(['flows', '--netflow-capture', tpl, data, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  const flows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(flows.length, 4, '4 records, 4 flows (no conversation has both sides here)');
  t.ok(flows.every((f) => f.origin === 'netflow' && f.exporter === '192.0.2.100'), 'origin and exporter');
  // tshark -d udp.port==2055,cflow: 198.38.121.178:443 -> 91.170.143.87:19624, 1 packet of 1500 bytes, TCP
  const f = flows.find((x) => x.src === '91.170.143.87');
  t.match(f, { proto: 'tcp', sport: 19624, dst: '198.38.121.178', dport: 443, packets: 0, packetsRev: 1, bytesRev: 1500 }, 'a reply from port 443 is oriented to its client');
  t.match(r.stderr, /2 export datagrams, 4 records/, 'a summary on stderr');
  // ICMP echo and reply are keyed without type and code, as packets are: one flow each
  const icmp = segwatch(['flows', '--netflow-capture', capture('netflow/akvorado-icmp-template.pcap'), capture('netflow/akvorado-icmp-data.pcap'), '--format', 'jsonl']);
  const iflows = icmp.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(iflows.length, 2, 'ICMP and ICMPv6 echo with their replies: two flows');
  t.ok(iflows.every((x) => x.sport === 0 && x.packets === 1 && x.packetsRev === 1), 'each joined with its reply');
  // the opener's type and code in dport, as NetFlow carries them: echo-request 8 << 8 and ICMPv6 128 << 8
  t.same(iflows.map((x) => `${x.proto} ${x.dport}`).sort(), ['icmp 2048', 'icmpv6 32768']);
  t.match(icmp.stderr, /4 records, 2 flows \(2 joined pairs\)/);
  // data before its template: nothing decodes, and that is said
  const wrong = segwatch(['flows', '--netflow-capture', data, tpl, '--format', 'jsonl']);
  t.equal(wrong.code, 0);
  t.equal(wrong.stdout.trim(), '');
  t.match(wrong.stderr, /0 records.*[1-9]\d* without template/);
  // a capture of packets, not export datagrams: counted and skipped, never a crash
  const pk = segwatch(['flows', '--netflow-capture', demo, '--format', 'jsonl']);
  t.equal(pk.code, 0, pk.stderr);
  t.match(pk.stderr, /packets not UDP/);
});

t.test('settings: a bad listener and a capture beside --netflow are refused before anything starts', async (t) => {
  const r = segwatch(['run', '--policy', policy, '--netflow', 'localhost:2055', '--capture', demo]);
  t.equal(r.code, 2);
  t.match(r.stderr, /--netflow: netflow: expected an IPv4 or \[IPv6\] address/);
  const r2 = segwatch(['run', '--policy', policy, '--netflow', '2055', '--capture', demo]);
  t.match(r2.stderr, /a capture file runs alone/);
  t.match(segwatch(['run', '--help']).stdout, /--netflow \[ADDR:\]PORT.*SEGWATCH_NETFLOW/);
});

t.test('replay --netflow-capture: export datagrams through the whole pipeline', async (t) => {
  const r = segwatch(['replay', '--netflow-capture', capture('netflow/akvorado-template.pcap'), capture('netflow/akvorado-data.pcap'), '--policy', policy, '--format', 'jsonl']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /2 export datagrams, 4 records, 4 flows/);
  t.match(r.stderr, /0 packets, 4 flow records/);
  // none of these addresses is in the demo site's segments: nothing to report
  t.equal(r.stdout.trim(), '');
});

/** nice of each thread of a process (Linux keeps one per thread): the main thread's first. */
function threadNices(pid: number): { main: number; others: number[] } {
  const nice = (tid: string) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[16]);
  const others = readdirSync(`/proc/${pid}/task`).filter((tid) => tid !== String(pid)).map(nice);
  return { main: nice(String(pid)), others };
}

t.test('the judging thread yields to the receiver thread (judge_nice), and not when told 0', { skip: process.platform !== 'linux' && 'Linux keeps a nice value per thread' }, async (t) => {
  const base = getPriority();
  for (const [args, want] of [[[], Math.min(19, base + 10)], [['--judge-nice', '0'], base]] as const) {
    const dir = tmp(t);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const run = await startRun(t, ['--netflow', `127.0.0.1:${port}`, '--policy', policy, '--state-dir', join(dir, 'state'), '--log-level', 'info', ...args]);
    t.match(run.stderr(), /collector started/, run.stderr());
    const n = threadNices(run.child.pid!);
    t.equal(n.main, want, `main thread nice ${want} (${args.join(' ') || 'default'})`);
    // the receiver (a worker started before the change) and V8's helpers keep the nice they began with
    t.ok(n.others.length >= 2 && n.others.every((x) => x === base), `the other ${n.others.length} threads at ${base}: ${n.others.join(',')}`);
    if (args.length === 0) t.match(run.stderr(), /judging thread yields/);
    run.child.kill('SIGTERM');
    t.equal(await run.exited, 0);
  }
});
