// The committed demo captures regenerate byte for byte, stay small, load with the policy
// loader, and contain each injected anomaly case as README.md describes it (checked with tshark).

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDemo } from '../../fixtures/demo/generate.js';
import { loadPolicyText } from '../../../collector/policy/load.js';

const demoDir = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'segwatch-demo-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function fields(file: string, filter: string, ...names: string[]): string[][] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|', ...names.flatMap((n) => ['-e', n])], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tshark: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l).map((l) => l.split('|'));
}

t.test('regenerates the committed files byte for byte', async (t) => {
  generateDemo(tmp);
  for (const f of ['demo.pcap', 'allowed.pcap', 'policy.yaml']) {
    t.ok(readFileSync(join(tmp, f)).equals(readFileSync(join(demoDir, f))), `${f} is up to date (npm run demo:generate)`);
  }
  t.ok(statSync(join(demoDir, 'demo.pcap')).size < 200_000, 'demo.pcap under 200 KB');
});

t.test('policy.yaml loads without errors', async (t) => {
  const file = join(demoDir, 'policy.yaml');
  const r = loadPolicyText(readFileSync(file, 'utf8'), file);
  t.same(r.errors, []);
});

t.test('demo.pcap holds every injected case', async (t) => {
  const demo = join(demoDir, 'demo.pcap');
  t.same(fields(demo, '_ws.malformed || _ws.expert.severity >= "Error"', 'frame.number'), [], 'nothing malformed');
  t.same(fields(demo, '!(vlan.id == 50 || vlan.id == 1)', 'frame.number'), [], 'every frame tagged: iot 50, lan 1');
  const sni = fields(demo, 'tls.handshake.type == 1', 'ip.src', 'tls.handshake.extensions_server_name').map((r) => r.join(' '));
  t.ok(sni.includes('192.168.50.21 cdn.cam-updates.net'), 'doorbell TLS to the unlisted host');
  t.ok(sni.includes('192.168.50.60 cloudflare-dns.com'), 'hub DoT');
  const crossing = fields(demo, 'ip.src == 192.168.50.42 && ip.dst == 192.168.1.10 && tcp.flags == 0x002', 'tcp.dstport');
  t.same(crossing.map((r) => r[0]), ['445', '22'], 'plug opens SMB and SSH into lan');
  const hosts = new Set(fields(demo, 'ip.src == 192.168.50.77 && tcp.flags == 0x002', 'ip.dst').map((r) => r[0]));
  t.ok(hosts.size >= 250, `Pi SYNs ${hosts.size} hosts`);
  const ports = new Set(fields(demo, 'ip.src == 192.168.50.41 && ip.dst == 192.168.50.30 && tcp.flags == 0x002', 'tcp.dstport').map((r) => r[0]));
  t.equal(ports.size, 100, 'kitchen plug SYNs 100 ports of the NVR');
  const spoof = fields(demo, 'arp.opcode == 2 && arp.src.proto_ipv4 == 192.168.50.1', 'arp.src.hw_mac');
  t.same([...new Set(spoof.map((r) => r[0]))].sort(), ['24:5a:4c:50:00:01', '28:cd:c1:07:00:77'], 'gateway IP claimed by a second MAC');
  t.equal(fields(demo, 'telnet && ip.dst == 192.168.50.41', 'frame.number').length > 0, true, 'telnet login to a plug');
  t.same(fields(demo, 'http.authbasic', 'ip.src', 'http.authbasic'), [['192.168.50.30', 'admin:Hik12345']], 'HTTP Basic auth');
  t.same(fields(demo, 'mqtt.msgtype == 1', 'ip.src', 'tcp.dstport'), [['192.168.50.60', '1883']], 'plain MQTT CONNECT');
  t.ok(fields(demo, 'ip.dst == 8.8.8.8 && udp.dstport == 53', 'frame.number').length >= 2, 'DNS to 8.8.8.8');
  const up = fields(demo, 'ip.src == 192.168.50.43 && tcp', 'ip.len').reduce((s, r) => s + Number(r[0]), 0);
  t.ok(up > 1_500_000, `garage plug sends ${up} bytes (limit 1MB/h)`);
  const hostnames = new Set(fields(demo, 'dhcp.option.hostname', 'dhcp.option.hostname').map((r) => r[0]));
  t.ok(hostnames.has('ESP_F60070') && hostnames.has('raspberrypi') && hostnames.has('LGwebOSTV'), 'DHCP hostnames');
  t.ok(fields(demo, 'ipv6 && tls.handshake.type == 1', 'frame.number').length >= 1, 'IPv6 TLS');
});

t.test('allowed.pcap has none of the injected cases', async (t) => {
  const allowed = join(demoDir, 'allowed.pcap');
  t.same(fields(allowed, 'telnet || mqtt || http.authbasic || ip.dst == 8.8.8.8 || tcp.port == 853 || ip.dst == 192.168.1.0/24 || ip.dst == 203.0.113.80', 'frame.number'), [], 'no bad traffic');
  t.same(fields(allowed, 'dhcp.option.hostname == "raspberrypi" || dhcp.option.hostname == "ESP_F60070"', 'frame.number'), [], 'no unlisted devices');
  t.same(fields(allowed, '!(vlan.id == 50)', 'frame.number'), [], 'all on VLAN 50');
});
