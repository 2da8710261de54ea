// Issue 13 part 3: a device judged by its MUD file. `segwatch run` (dist) with a policy under
// `mud: { auto: true, dir }` (a local folder of MUD files: nothing is fetched) reads a capture
// this test writes into a FIFO: a lamp announces its MUD URL by DHCP (option 161); once the
// collector says the file is loaded, the lamp opens a flow its MUD file allows and one it does
// not. Only the forbidden one is reported; the quarantine default profile would have reported both.

import t from 'tap';
import { spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { dhcp, DHCP } from '../fixtures/synth/dhcp.js';
import { sendTcp, sendUdp, type Host, type Wire } from '../fixtures/synth/conversation.js';
import { SYN } from '../fixtures/synth/frames.js';

const MUD_URL = 'https://lighting.example.com/.well-known/mud/lamp7';
const LAMP: Host = { mac: '02:42:ac:00:00:07', ip: '192.168.50.20' };
const GW = '24:5a:4c:50:00:01';
const SERVER: Host = { mac: GW, ip: '192.168.50.1' };
const BCAST: Host = { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255' };
const ALLOWED: Host = { mac: GW, ip: '52.1.2.3' };
const FORBIDDEN: Host = { mac: GW, ip: '52.9.9.9' };
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0) * 1000;

/** Classic pcap records (µs, little-endian) collected in memory, handed to the FIFO in pieces. */
class Records {
  parts: Buffer[] = [];
  write(tsUs: number, frame: Uint8Array): void {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(tsUs / 1e6), 0);
    h.writeUInt32LE(tsUs % 1e6, 4);
    h.writeUInt32LE(frame.length, 8);
    h.writeUInt32LE(frame.length, 12);
    this.parts.push(h, Buffer.from(frame));
  }
  take(): Buffer { const b = Buffer.concat(this.parts); this.parts = []; return b; }
}

function pcapHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(262144, 16); h.writeUInt32LE(1, 20);
  return h;
}

/** dhcp() with option 161 put before its END option. */
function withMudUrl(msg: Buffer, url: string): Buffer {
  const end = msg.lastIndexOf(255);
  return Buffer.concat([msg.subarray(0, end), Buffer.from([161, url.length]), Buffer.from(url, 'latin1'), msg.subarray(end)]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a device announcing its MUD URL is judged by its MUD file from mud.dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-profile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'mud'));
  // named by the URL's last path segment, as mud.dir wants
  copyFileSync(join(repoRoot, 'test/fixtures/mud/lamp7.json'), join(dir, 'mud', 'lamp7.json'));
  writeFileSync(join(dir, 'site.yaml'), [
    'version: 1',
    'segments:',
    '  iot: ["192.168.50.0/24"]',
    'watch: [iot]',
    'resolvers: ["192.168.50.1"]',
    'default_profile: quarantine',
    'mud: { auto: true, dir: mud }',
    'devices:',
    `  - { name: gateway, mac: "${GW}", profile: gateway }`,
    'profiles:',
    '  gateway:',
    '    allow:',
    '      - { to: "0.0.0.0/0" }',
    '  quarantine:',
    '    allow:',
    '      - { service: dhcp }',
    '      - { service: dns }',
    '',
  ].join('\n'));
  const fifo = join(dir, 'capture.pcap');
  spawnSync('mkfifo', [fifo]);
  const out = join(dir, 'anomalies.jsonl');
  const child = spawn(process.execPath, [cliPath, 'run', '--policy', join(dir, 'site.yaml'), '--capture', fifo, '--out', out,
    '--state-dir', join(dir, 'state'), '--log-level', 'info'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 500_000) stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  let writer: FileHandle | null = null;
  t.teardown(async () => { clearTimeout(killer); child.kill('SIGKILL'); await writer?.close().catch(() => undefined); });

  const rec = new Records();
  const w: Wire = { sink: rec };
  // REQUEST with the MUD URL, then the ACK that binds the lamp's address
  sendUdp(w, T0, { mac: LAMP.mac, ip: '0.0.0.0' }, BCAST, 68, 67,
    withMudUrl(dhcp({ msgType: DHCP.REQUEST, xid: 7, clientMac: LAMP.mac, requestedIp: LAMP.ip, hostname: 'lamp7' }), MUD_URL));
  sendUdp(w, T0 + 2000, SERVER, { mac: LAMP.mac, ip: LAMP.ip }, 67, 68,
    dhcp({ msgType: DHCP.ACK, xid: 7, clientMac: LAMP.mac, yiaddr: LAMP.ip, serverId: SERVER.ip, leaseSeconds: 3600 }));

  writer = await Promise.race([open(fifo, 'w'), sleep(20_000).then(() => null)]);
  if (!writer) { t.fail(`the collector did not open its capture: ${stderr.slice(-1000)}`); return; }
  await writer.write(Buffer.concat([pcapHeader(), rec.take()]));

  // loading is asynchronous: the collector says when the file judges the lamp (bounded wait)
  for (const end = Date.now() + 30_000; !/MUD file loaded/.test(stderr) && Date.now() < end;) await sleep(100);
  t.match(stderr, /MUD file loaded/, 'the MUD file was loaded from mud.dir');

  sendTcp(w, T0 + 5_000_000, LAMP, ALLOWED, { sport: 40001, dport: 443, seq: 1, flags: SYN });
  sendTcp(w, T0 + 6_000_000, LAMP, FORBIDDEN, { sport: 40002, dport: 443, seq: 1, flags: SYN });
  await writer.write(rec.take());
  await writer.close();
  writer = null;
  t.equal(await exited, 0, `run exits at the end of its capture: ${stderr.slice(-500)}`);

  const anomalies = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const flows = [...new Set(anomalies.filter((a) => a.kind === 'policy.violation').map((a) => `${a.device} ${a.peer}:${a.peerPort} ${a.profile}`))];
  t.same(flows, [`${LAMP.mac} ${FORBIDDEN.ip}:443 mud:lamp7`], 'only the flow the MUD file forbids is reported');
  t.notMatch(stderr, /MUD file not loaded/);
});
