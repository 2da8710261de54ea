// `segwatch devices` on the IoT Sentinel captures: each capture's device (by the MAC that
// device-macs.txt gives) with its OUI vendor, the DHCP hostname it sent, and its addresses,
// checked against what tshark reads from the same file.

import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { capture, segwatch } from '../helpers/paths.js';

const dir = capture('iot/iotsentinel');
const macs = new Map(readFileSync(join(dir, 'device-macs.txt'), 'utf8').trim().split('\n').map((l) => {
  const [name, mac] = l.trim().split(/\s+/);
  return [name, mac.toLowerCase()] as [string, string];
}));

function tsharkFacts(file: string, mac: string): { hostnames: Set<string>; addrs: Set<string> } {
  const r = spawnSync('tshark', ['-r', file, '-n', '-Y', `eth.src == ${mac}`, '-T', 'fields', '-E', 'separator=\t',
    '-e', 'dhcp.option.hostname', '-e', 'ip.src', '-e', 'dhcp.ip.your', '-e', 'arp.src.proto_ipv4'], { encoding: 'utf8', timeout: 60_000 });
  const hostnames = new Set<string>(), addrs = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const [h, ip, , arp] = line.split('\t');
    if (h) hostnames.add(h);
    for (const a of [ip, arp]) if (a && /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a)) addrs.add(a);
  }
  return { hostnames, addrs };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort();

t.test(`segwatch devices on ${files.length} IoT Sentinel captures`, async (t) => {
  t.ok(files.length >= 25, 'the captures are there');
  for (const f of files) {
    const name = f.replace(/-Setup-.*$/, '');
    const mac = macs.get(name);
    if (!mac) { t.fail(`${f}: no MAC in device-macs.txt for ${name}`); continue; }
    const r = segwatch(['devices', join(dir, f), '--format', 'jsonl']);
    t.equal(r.code, 0, `${f}: exit 0 ${r.stderr}`);
    const devs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const d = devs.find((x) => x.mac === mac);
    if (!d) { t.fail(`${f}: device ${mac} listed`); continue; }
    const want = tsharkFacts(join(dir, f), mac);
    t.not(d.vendor, '', `${f}: ${mac} has a vendor (${d.vendor})`);
    if (want.hostnames.size) t.ok(want.hostnames.has(d.hostname), `${f}: hostname ${d.hostname} is one the device sent by DHCP (${[...want.hostnames].join(', ')})`);
    const v4 = (d.ips as string[]).filter((ip) => !ip.includes(':'));
    if (want.addrs.size) {
      t.ok(v4.length > 0, `${f}: IPv4 address listed`);
      for (const ip of v4) t.ok(want.addrs.has(ip), `${f}: ${ip} was really used by ${mac}`);
    }
  }
});
