// Issue 13 part 3, "Must show": the MUD URL in tcpdump-dhcp-mud.pcap (DHCPv4 option 161),
// tcpdump-dhcpv6-mud.pcap (DHCPv6 option 112 inside a relay-forward) and tcpdump-lldp_mudurl.pcap
// (LLDP MUD TLV) is read and shown by `segwatch devices` (dist), table and JSON lines, on the
// device that announced it. Then `segwatch run` keeps it in the state database: a second run on
// the same state directory serves it from the API before any packet.

import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, cliPath, repoRoot } from '../helpers/paths.js';

const CASES = [
  { file: 'mud/tcpdump-dhcp-mud.pcap', mac: 'b8:27:eb:b8:53:c8', url: 'https://mudctl.example.com/.well-known/mud/v1/rasbp101' },
  { file: 'mud/tcpdump-dhcpv6-mud.pcap', mac: 'b8:27:eb:b8:53:c8', url: 'https://mudctl.example.com/.well-known/mud/v1/rasbp101' },
  { file: 'mud/tcpdump-lldp_mudurl.pcap', mac: '00:23:54:c2:57:02', url: 'https://imright.mud.example.com/.well-known/mud/v1/vomitv2.0' },
] as const;

function devices(file: string, format: string): string {
  const r = spawnSync(process.execPath, [cliPath, 'devices', capture(file), '--format', format], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`segwatch devices ${file}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

for (const c of CASES) {
  t.test(`segwatch devices ${c.file}`, async (tt) => {
    const rows = devices(c.file, 'jsonl').trim().split('\n').map((l) => JSON.parse(l) as { mac: string; mudUrl?: string });
    tt.same(rows.filter((d) => d.mudUrl !== undefined).map((d) => [d.mac, d.mudUrl]), [[c.mac, c.url]],
      'one device carries the MUD URL: the one that announced it (not the relay, not the server)');
    const table = devices(c.file, 'table').split('\n');
    tt.match(table[0], /MUD URL/);
    const line = table.find((l) => l.startsWith(c.mac));
    tt.ok(line?.trimEnd().endsWith(c.url), `table row of ${c.mac} ends with the URL`);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the state database keeps the MUD URL across a restart; the API shows it', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-devices-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const policy = join(dir, 'site.yaml');
  writeFileSync(policy, [
    'version: 1',
    'segments:',
    '  iot: ["62.12.173.0/24", "2001:8a8:1006::/48"]',
    'watch: [iot]',
    'default_profile: quarantine',
    'profiles:',
    '  quarantine:',
    '    allow:',
    '      - { service: dhcp }',
    '',
  ].join('\n'));
  const state = join(dir, 'state');
  const token = 'mud-e2e-token-' + Math.random().toString(36).slice(2) + 'abcdef';
  writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
  const env = { ...process.env, SEGWATCH_API_TOKEN: '', SEGWATCH_API_TOKEN_FILE: join(dir, 'token') };

  for (const c of CASES) {
    const r = spawnSync(process.execPath, [cliPath, 'run', '--policy', policy, '--capture', capture(c.file), '--state-dir', state, '--log-level', 'warn'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env });
    tt.equal(r.status, 0, `run on ${c.file}: ${r.stderr.slice(-500)}`);
  }

  // the second run reads a FIFO nobody writes to: every device it serves comes from the database
  const fifo = join(dir, 'idle.pcap');
  spawnSync('mkfifo', [fifo]);
  const child: ChildProcess = spawn(process.execPath, [cliPath, 'run', '--policy', policy, '--capture', fifo, '--state-dir', state, '--listen', '127.0.0.1:0', '--log-level', 'info'],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 200_000) stderr += d.toString(); });
  tt.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const listening = /"address":"(127\.0\.0\.1:\d+)"[^\n]*API listening/;
  for (const end = Date.now() + 30_000; !listening.test(stderr) && Date.now() < end;) await sleep(100);
  const address = listening.exec(stderr)?.[1];
  if (!address) { tt.fail(`no API address: ${stderr.slice(-1000)}`); return; }
  const res = await fetch(`http://${address}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  tt.equal(res.status, 200);
  const body = await res.json() as { devices: { mac: string; mudUrl?: string }[] };
  const byMac = new Map(body.devices.map((d) => [d.mac, d.mudUrl]));
  tt.equal(byMac.get('b8:27:eb:b8:53:c8'), CASES[0].url, 'DHCP device, from the database');
  tt.equal(byMac.get('00:23:54:c2:57:02'), CASES[2].url, 'LLDP device, from the database');
  tt.equal(byMac.get('00:23:eb:10:2c:29'), undefined, 'the relay announced none');
  child.kill('SIGTERM');
  await new Promise((r) => { const k = setTimeout(() => { child.kill('SIGKILL'); r(null); }, 10_000); child.once('exit', () => { clearTimeout(k); r(null); }); });
});
