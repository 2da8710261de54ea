// tshark must read every synthetic frame without malformed-packet or error expert info,
// with good checksums, and dissect DNS, DHCP, TLS SNI, HTTP, MQTT and mDNS fields as built.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSample } from './sample.js';

const CHECKS = ['-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE'];

function tshark(args: string[]): string {
  const r = spawnSync('tshark', ['-n', ...CHECKS, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tshark exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function fields(file: string, filter: string, ...names: string[]): string[][] {
  const out = tshark(['-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|', ...names.flatMap((n) => ['-e', n])]);
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('|'));
}

const dir = mkdtempSync(join(tmpdir(), 'segwatch-synth-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

for (const vlan of [0, 50]) {
  t.test(`sample capture, vlan ${vlan}`, async (t) => {
    const file = join(dir, `sample-${vlan}.pcap`);
    const n = writeSample(file, vlan);
    t.ok(n > 80, 'wrote the sample frames');

    const count = tshark(['-r', file, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
    t.equal(count, n, 'tshark reads every frame');

    const bad = fields(file, '_ws.malformed || _ws.expert.severity >= "Error" || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"', 'frame.number', '_ws.expert.message');
    t.same(bad, [], 'no malformed frames, no error expert info, no bad checksums');

    const good = fields(file, 'tcp.checksum.status == "Good" || udp.checksum.status == "Good"', 'frame.number');
    t.ok(good.length > 60, 'checksums were actually verified');

    if (vlan) t.equal(fields(file, `vlan.id == ${vlan}`, 'frame.number').length, n, 'every frame carries the VLAN tag');
    else t.equal(fields(file, 'vlan', 'frame.number').length, 0, 'no frame is tagged');

    const dns = fields(file, 'dns.flags.response == 1 && udp.port == 53', 'dns.qry.name', 'dns.cname', 'dns.a', 'dns.aaaa', 'dns.resp.ttl');
    t.same(dns, [
      ['api.ring.com', 'api-prod.ring.com', '52.94.10.20', '', '60,300'],
      ['api.ring.com', '', '', '2600:1f18:4000::20', '300'],
    ], 'DNS answers: CNAME chain with compression, AAAA without');

    const dhcp = fields(file, 'dhcp', 'dhcp.option.dhcp', 'dhcp.option.hostname', 'dhcp.option.vendor_class_id', 'dhcp.option.requested_ip_address', 'dhcp.ip.your', 'dhcp.option.router');
    t.same(dhcp, [
      ['1', 'Doorbell-Pro', 'ring-doorbell', '192.168.50.21', '0.0.0.0', ''],
      ['5', '', '', '', '192.168.50.21', '192.168.50.1'],
    ], 'DHCP discover with hostname, vendor class, requested address; ACK with lease');

    const sni = fields(file, 'tls.handshake.type == 1', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str');
    t.same(sni, [['api.ring.com', 'h2,http/1.1'], ['fw.ring.com', '']], 'TLS ClientHello SNI over IPv4 and IPv6');
    t.equal(fields(file, 'tls.handshake.type == 2', 'tls.handshake.ciphersuite')[0]?.[0], '0x1301', 'ServerHello parses');

    const http = fields(file, 'http.request', 'http.host', 'http.request.uri', 'http.authbasic');
    t.same(http, [['192.168.50.21', '/ISAPI/System/deviceInfo', 'admin:12345']], 'HTTP Host and Basic credentials');

    const mqtt = fields(file, 'mqtt.msgtype == 1', 'mqtt.clientid', 'mqtt.username', 'mqtt.passwd');
    t.same(mqtt, [['doorbell-1', 'dev', 'secret']], 'MQTT CONNECT with credentials');

    t.equal(fields(file, 'telnet', 'frame.number').length, 8, 'telnet login segments');

    const mdns = fields(file, 'mdns', 'dns.ptr.domain_name', 'dns.srv.port', 'dns.a');
    t.same(mdns, [['Hue Bridge - 1A2B3C._hue._tcp.local', '443', '192.168.50.21']], 'mDNS announcement');

    t.equal(fields(file, 'arp.opcode == 2', 'arp.src.proto_ipv4')[0]?.[0], '192.168.50.1', 'ARP reply');
    t.equal(fields(file, 'icmp.type == 0 || icmpv6.type == 129', 'frame.number').length, 2, 'echo replies v4 and v6');
    t.equal(fields(file, 'ntp.flags.mode == 4', 'frame.number').length, 1, 'NTP server reply');

    const trunc = fields(file, 'frame.cap_len < frame.len', 'frame.cap_len', 'frame.len', 'ip.len');
    t.ok(trunc.length >= 4, 'truncated frames present');
    for (const [cap, len, ipLen] of trunc) {
      const eth = vlan ? 18 : 14;
      t.equal(Number(cap), eth + 40, 'opaque payload is not captured, headers are');
      t.equal(Number(ipLen), Number(len) - eth, 'IP length counts the bytes that were not captured');
    }
  });
}
