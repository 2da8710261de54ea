// Issue 14: `segwatch run --interface` on the host end of a veth pair whose other end is in a
// namespace this test makes (a device sending UDP; nothing answers, nothing is routed). It
// checks that the capture thread's three drop counters are in /metrics as numbers, that
// --bpf is applied (datagrams to a port the filter leaves out are never counted) and that
// --buffer-size-mb sizes the kernel's capture ring (libpcap's TPACKET_V3 ring, mapped into the
// process: its size shows in /proc/PID/maps). Not a benchmark: no timing is asserted, every wait
// is bounded; the namespace and the pair go in teardown, also when the test fails.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, skipUnless } from '../helpers/paths.js';
import { createVethLab, netnsUnavailable, type DeviceAgent, type VethLab } from '../helpers/netns.js';

const DEVICE = '192.168.50.10';
const PEER = '192.168.50.99';
const KEPT = 5555, FILTERED = 6666;
const BUFFER_MB = 6;

const POLICY = `version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
devices: []
default_profile: any
profiles:
  any:
    allow:
      - { to: "0.0.0.0/0" }
`;

const why = netnsUnavailable();
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sizes of the shared socket mappings of a process: the packet socket's ring. */
function socketMappings(pid: number): number[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => /socket:\[\d+\]/.test(l)).map((l) => {
    const [a, b] = l.split(' ')[0].split('-').map((x) => parseInt(x, 16));
    return b - a;
  });
}

t.test('run --interface: drop counters in /metrics, --bpf and --buffer-size-mb applied', { skip: skipUnless(!why, why ?? '') }, async (t) => {
  t.ok(existsSync(cliPath), 'the CLI is built (npm run build)');
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-live-capture-'));
  let lab: VethLab | null = null;
  let agent: DeviceAgent | null = null;
  let child: ReturnType<typeof spawn> | null = null;
  t.teardown(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await agent?.close().catch(() => {});
    lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  lab = createVethLab({ deviceCidr: `${DEVICE}/24`, neighbours: [{ ip: PEER, mac: '02:00:00:00:00:99' }] });
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY);
  const port = await freePort();
  const token = 'live-capture-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  child = spawn(process.execPath, [cliPath, 'run', '--policy', policy, '--interface', lab.hostIf, '--bpf', `udp port ${KEPT}`,
    '--buffer-size-mb', String(BUFFER_MB), '--state-dir', join(dir, 'state'), '--listen', `127.0.0.1:${port}`, '--log-level', 'info'],
  { env: { ...process.env, SEGWATCH_API_TOKEN: token }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const c = child;
  const metrics = async (): Promise<Record<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
    const m: Record<string, number> = {};
    for (const line of (await res.text()).split('\n')) {
      const x = /^(segwatch_\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
      if (x) m[x[1]] = Number(x[2]);
    }
    return m;
  };
  // started: the log line, then the capture thread's ring mapped (it opens the interface)
  for (const end = Date.now() + 30_000; !/collector started/.test(stderr) || socketMappings(c.pid!).length === 0; await sleep(100)) {
    if (c.exitCode !== null || Date.now() > end) throw new Error(`collector did not start: ${stderr.slice(-1500)}`);
  }
  t.match(stderr, new RegExp(`"bpf":"udp port ${KEPT}"`), 'it logs the filter it applies');

  const rings = socketMappings(c.pid!);
  t.ok(rings.some((n) => n >= BUFFER_MB << 20 && n < (BUFFER_MB + 1) << 20),
    `the kernel's capture ring is --buffer-size-mb ${BUFFER_MB} MiB (socket mappings: ${rings.join(', ')} bytes)`);

  agent = await lab.agent(120_000);
  const N = 20;
  for (let i = 0; i < N; i++) {
    await agent.udp(PEER, KEPT, Buffer.from(`kept ${i}`));
    await agent.udp(PEER, FILTERED, Buffer.from(`filtered ${i}`));
  }
  let m: Record<string, number> = {};
  for (const end = Date.now() + 30_000; Date.now() < end; await sleep(200)) {
    m = await metrics();
    if (m.segwatch_packets_total >= N) break;
  }
  await sleep(1500); // anything late from the filtered port would show by now
  m = await metrics();
  t.equal(m.segwatch_packets_total, N, `--bpf: the ${N} datagrams to port ${KEPT} counted, none of the ${N} to port ${FILTERED}`);
  for (const name of ['segwatch_capture_kernel_drops_total', 'segwatch_capture_interface_drops_total', 'segwatch_capture_ring_drops_total']) {
    t.type(m[name], 'number', `${name} is in /metrics`);
    t.ok(Number.isFinite(m[name]) && m[name] >= 0, `${name} is a count (${m[name]})`);
  }
  t.equal(m.segwatch_drops_total, m.segwatch_capture_kernel_drops_total + m.segwatch_capture_interface_drops_total + m.segwatch_capture_ring_drops_total,
    'segwatch_drops_total is their sum');

  c.kill('SIGTERM');
  const code = await Promise.race([new Promise<number | null>((r) => c.once('exit', (x) => r(x))), sleep(20_000).then(() => 'timeout' as const)]);
  t.equal(code, 0, `SIGTERM: exit 0 (${stderr.split('\n').slice(-3).join(' | ')})`);
});
