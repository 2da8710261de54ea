// Learn on the first half of each IoT Sentinel capture, replay the second half with the
// learned policy, and print the anomalies per device and kind (issue 13's table). Not a
// test: what a setup capture's second half does that its first did not is a finding to read,
// not a number to assert. Run after a build: node dist/bench/learn-iotsentinel.js

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'collector', 'cli', 'main.js');
const dir = resolve(root, '..', 'shared', 'captures', 'iot', 'iotsentinel');
const macs = new Map(readFileSync(join(dir, 'device-macs.txt'), 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/) as [string, string]));
const tmp = mkdtempSync(join(tmpdir(), 'segwatch-learn-bench-'));

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Row { device: string; packets: number; rules: number; kinds: Record<string, number>; others: Record<string, number> }
const rows: Row[] = [];
try {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort()) {
    const device = file.replace(/-Setup.*$/, '');
    const mac = macs.get(device) ?? '';
    const path = join(dir, file);
    const packets = Number(/Number of packets:\s+(\d+)/.exec(run('capinfos', ['-c', path]))?.[1] ?? 0);
    const half = Math.floor(packets / 2);
    const first = join(tmp, `${device}-1.pcap`), second = join(tmp, `${device}-2.pcap`), learned = join(tmp, `${device}.yaml`);
    run('editcap', ['-r', path, first, `1-${half}`]);
    run('editcap', ['-r', path, second, `${half + 1}-${packets}`]);
    run(process.execPath, [cli, 'learn', first, '--out', learned, '-q']);
    const policy = readFileSync(learned, 'utf8');
    const rules = (policy.match(/comment: "learned: /g) ?? []).length;
    const out = run(process.execPath, [cli, 'replay', second, '--policy', learned, '--format', 'jsonl', '-q']);
    const kinds: Record<string, number> = {}, others: Record<string, number> = {};
    for (const line of out.split('\n').filter(Boolean)) {
      const a = JSON.parse(line) as { kind: string; mac: string; peer: string; peerPort: number; peerName: string; device: string };
      const into = a.mac === mac ? kinds : others;
      into[a.kind] = (into[a.kind] ?? 0) + 1;
      if (process.env.VERBOSE) process.stderr.write(`${device}\t${a.device}\t${a.kind}\t${a.peer}:${a.peerPort}\t${a.peerName}\n`);
    }
    rows.push({ device, packets, rules, kinds, others });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const fmt = (k: Record<string, number>) => Object.entries(k).sort().map(([kind, n]) => `${kind}=${n}`).join(' ') || '-';
console.log('| device | packets | rules learned | anomalies of the device (2nd half) | anomalies of other devices |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.device} | ${r.packets} | ${r.rules} | ${fmt(r.kinds)} | ${fmt(r.others)} |`);
