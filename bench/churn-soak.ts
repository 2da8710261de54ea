// The soak: a long synthetic capture (default six hours of packet time) written into a FIFO
// that `segwatch run --capture FIFO` reads, so idle closes, expiries and the caps work many
// times over; the collector's RSS (VmRSS and its high-water VmHWM, /proc) is read at each hour
// of packet time. Realistic churn: devices come and go (new MACs and addresses all along),
// resolve names before they connect, open short TCP sessions, leave some idle (they expire),
// send NTP and, now and then, sweep a few hosts.
//
//   npm run build && node dist/bench/churn-soak.js [hours=6] [devicesAtOnce=200] [sessionsPerSecond=50]
//
// Prints one line per hour and writes the figures to bench/results.json under `churnSoak`
// (the other keys are kept). Generated into a temp dir, deleted afterwards.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PcapWriter } from '../test/fixtures/synth/pcap-writer.js';
import { Prng } from '../test/fixtures/synth/prng.js';
import { sendTcp, sendUdp } from '../test/fixtures/synth/conversation.js';
import type { Host, Wire } from '../test/fixtures/synth/conversation.js';
import { ACK, FIN, PSH, SYN } from '../test/fixtures/synth/frames.js';
import { dnsQuery, dnsResponse } from '../test/fixtures/synth/dns.js';
import { ntpRequest, ntpResponse } from '../test/fixtures/synth/app.js';
import { churnPolicyYaml } from './churn.js';

const HOUR_US = 3600e6;
const GW: Host = { mac: '24:5a:4c:50:00:01', ip: '10.50.0.1' };
const DOMAINS = ['api.ring.com', 'n-devs-wap.tplinkcloud.com', 'ws.meethue.com', 'eu.lgtvsdp.com', 'a2.tuyaeu.com'];

interface Dev { host: Host; leaves: number }

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

function procStatus(pid: number): { rssMB: number; hwmMB: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const hours = Number(process.argv[2] ?? 6), atOnce = Number(process.argv[3] ?? 200), sps = Number(process.argv[4] ?? 50);
  const root = repoRoot();
  const tmp = mkdtempSync(join(tmpdir(), 'segwatch-soak-'));
  const fifo = join(tmp, 'capture.fifo');
  try {
    if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo failed');
    const policy = join(tmp, 'policy.yaml');
    writeFileSync(policy, churnPolicyYaml(root));
    // SOAK_NODE_ARGS: extra node flags for the collector (e.g. "--trace-gc"), to see where memory goes
    const nodeArgs = (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, join(root, 'dist/collector/cli/main.js'), 'run', '--capture', fifo, '--policy', policy, '--out', join(tmp, 'anomalies.jsonl'), '--log-level', 'warn',
      // its own state: a run keeps devices and open anomalies across restarts, and the soak starts clean
      '--state-dir', join(tmp, 'state')],
      { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    // opens when the collector opens its end; 256 KiB chunks keep the reader close behind
    const pw = new PcapWriter(fifo, { snaplen: 65535, chunkBytes: 256 << 10 });
    const w: Wire = { sink: pw };
    const rnd = new Prng(7);
    const t0 = Date.UTC(2026, 10, 1, 0, 0, 0) * 1000;
    let nextDev = 0;
    const newDev = (t: number): Dev => {
      const i = nextDev++;
      // addresses are reused as devices come and go (a DHCP pool of 4,000), MACs never are
      return { host: { mac: `02:50:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: `10.50.${10 + ((i % 4000) >> 8)}.${(i % 4000) & 255}` }, leaves: t + rnd.int(10, 240) * 60e6 };
    };
    const devs: Dev[] = [];
    for (let i = 0; i < atOnce; i++) devs.push(newDev(t0));
    const hourly: Array<{ hour: number; packets: number; devicesSeen: number; rssMB: number | null; hwmMB: number | null }> = [];
    // a session is 2 to 8 packets: 50 a second is about 250 packets/s, 5 million in six hours
    const stepUs = 1e6 / sps;
    // SOAK_SAMPLE_MIN: minutes of packet time between RSS readings (default 60: each hour)
    const sampleUs = Number(process.env.SOAK_SAMPLE_MIN ?? 60) * 60e6;
    let port = 20000;
    for (let t = t0, hour = 1; t < t0 + hours * HOUR_US;) {
      const d = devs[rnd.int(0, devs.length - 1)];
      if (t > d.leaves) devs[devs.indexOf(d)] = newDev(t);
      const kind = rnd.float();
      port = port >= 60000 ? 20000 : port + 1;
      const server: Host = { mac: GW.mac, ip: `${[3, 13, 52, 54][port % 4]}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}` };
      if (kind < 0.6) {
        // resolve, then a short HTTPS session; one in four is left open to go idle
        const name = rnd.pick(DOMAINS), id = rnd.int(1, 65535);
        sendUdp(w, t, d.host, GW, port, 53, dnsQuery(id, name));
        sendUdp(w, t + 800, GW, d.host, 53, port, dnsResponse(id, name, 'A', [{ name, type: 'A', data: server.ip, ttl: 300 }]));
        const c = { sport: port, dport: 443 }, s = { sport: 443, dport: port };
        sendTcp(w, t + 2000, d.host, server, { ...c, seq: 1, flags: SYN });
        sendTcp(w, t + 22000, server, d.host, { ...s, seq: 1, ack: 2, flags: SYN | ACK });
        sendTcp(w, t + 23000, d.host, server, { ...c, seq: 2, ack: 2, flags: ACK | PSH }, Buffer.alloc(rnd.int(50, 900)));
        if (rnd.float() < 0.75) sendTcp(w, t + 60000, d.host, server, { ...c, seq: 900, ack: 2, flags: FIN | ACK });
      } else if (kind < 0.9) {
        sendUdp(w, t, d.host, server, 123, 123, ntpRequest(t));
        sendUdp(w, t + 15000, server, d.host, 123, 123, ntpResponse(t - 5000, t));
      } else {
        // a short sweep of the device's neighbours
        for (let k = 0; k < 8; k++) sendTcp(w, t + k * 1000, d.host, { mac: GW.mac, ip: `10.50.${rnd.int(10, 25)}.${rnd.int(1, 254)}` }, { sport: port, dport: 23, seq: 1, flags: SYN });
      }
      t += stepUs * (0.5 + rnd.float());
      if (t >= t0 + hour * sampleUs) {
        // the collector is at most a chunk and a pipe buffer behind
        const st = procStatus(child.pid!);
        hourly.push({ hour, packets: pw.packets, devicesSeen: nextDev, rssMB: st?.rssMB ?? null, hwmMB: st?.hwmMB ?? null });
        console.log(`${((hour * sampleUs) / HOUR_US).toFixed(2)} h: ${pw.packets.toLocaleString('en-US')} packets, ${nextDev} devices so far, RSS ${st ? st.rssMB.toFixed(0) : '-'} MB (high-water ${st ? st.hwmMB.toFixed(0) : '-'} MB)`);
        hour++;
      }
    }
    pw.close();
    const code = await exited;
    const out = { date: new Date().toISOString(), hours, devicesAtOnce: atOnce, sessionsPerSecond: sps, exitCode: code, hourly };
    const results = join(root, 'bench/results.json');
    const merged = existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) as Record<string, unknown> : {};
    merged.churnSoak = out;
    writeFileSync(results, `${JSON.stringify(merged, null, 2)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
