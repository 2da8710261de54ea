// Writes one of every synthetic frame kind into a pcap, for the tshark-based tests.

import { PcapWriter } from '../../fixtures/synth/pcap-writer.js';
import { Prng } from '../../fixtures/synth/prng.js';
import { sendArp, ping, tcpConversation, udpExchange, sendUdp } from '../../fixtures/synth/conversation.js';
import type { Host, Wire } from '../../fixtures/synth/conversation.js';
import { BROADCAST_MAC, ipv4MulticastMac } from '../../fixtures/synth/frames.js';
import { dnsQuery, dnsResponse, mdnsAnnouncement } from '../../fixtures/synth/dns.js';
import { DHCP, dhcp } from '../../fixtures/synth/dhcp.js';
import { clientHello, serverHello, applicationData } from '../../fixtures/synth/tls.js';
import { httpGet, httpResponse, mqttConnect, mqttConnack, telnetLogin, ntpRequest, ntpResponse } from '../../fixtures/synth/app.js';

export const T0 = Date.UTC(2026, 10, 1, 10, 0, 0) * 1000;

export const GW: Host = { mac: '24:5a:4c:00:00:01', ip: '192.168.50.1' };
export const CAM: Host = { mac: '00:b4:63:12:34:01', ip: '192.168.50.21' };
export const CAM6: Host = { mac: CAM.mac, ip: 'fd00:50::21' };
export const CLOUD: Host = { mac: GW.mac, ip: '52.94.10.20' };
export const CLOUD6: Host = { mac: GW.mac, ip: '2600:1f18:4000::20' };

export function writeSample(path: string, vlan: number): number {
  const pw = new PcapWriter(path);
  const w: Wire = { sink: pw, vlan };
  const rnd = new Prng(7);
  let t = T0;
  sendArp(w, t, CAM.mac, BROADCAST_MAC, { op: 1, senderMac: CAM.mac, senderIp: CAM.ip, targetMac: '00:00:00:00:00:00', targetIp: GW.ip });
  sendArp(w, t + 300, GW.mac, CAM.mac, { op: 2, senderMac: GW.mac, senderIp: GW.ip, targetMac: CAM.mac, targetIp: CAM.ip });
  t += 1e6;
  const any: Host = { mac: CAM.mac, ip: '0.0.0.0' };
  const bcast: Host = { mac: BROADCAST_MAC, ip: '255.255.255.255' };
  sendUdp(w, t, any, bcast, 68, 67, dhcp({ msgType: DHCP.DISCOVER, xid: 0x1234, clientMac: CAM.mac, hostname: 'Doorbell-Pro', vendorClass: 'ring-doorbell', requestedIp: CAM.ip }));
  sendUdp(w, t + 2000, GW, { mac: BROADCAST_MAC, ip: '255.255.255.255' }, 67, 68, dhcp({ msgType: DHCP.ACK, xid: 0x1234, clientMac: CAM.mac, yiaddr: CAM.ip, serverId: GW.ip, leaseSeconds: 86400, subnetMask: '255.255.255.0', router: GW.ip, dnsServers: [GW.ip] }));
  t += 1e6;
  udpExchange(w, t, CAM, GW, 40001, 53, dnsQuery(0x1111, 'api.ring.com', 'A'),
    dnsResponse(0x1111, 'api.ring.com', 'A', [
      { name: 'api.ring.com', type: 'CNAME', data: 'api-prod.ring.com', ttl: 60 },
      { name: 'api-prod.ring.com', type: 'A', data: CLOUD.ip, ttl: 300 },
    ]));
  udpExchange(w, t + 5000, CAM, GW, 40002, 53, dnsQuery(0x2222, 'api.ring.com', 'AAAA'),
    dnsResponse(0x2222, 'api.ring.com', 'AAAA', [{ name: 'api.ring.com', type: 'AAAA', data: CLOUD6.ip, ttl: 300 }], false));
  t += 1e6;
  const r = rnd.bytes(32), sid = rnd.bytes(32), ks = rnd.bytes(32);
  tcpConversation(w, { client: CAM, server: CLOUD, sport: 50000, dport: 443, t0Us: t, exchanges: [
    { from: 'c', data: clientHello({ sni: 'api.ring.com', random: r, sessionId: sid, keyShare: ks, alpn: ['h2', 'http/1.1'] }) },
    { from: 's', data: Buffer.concat([serverHello(rnd.bytes(32), sid, rnd.bytes(32)), applicationData(rnd.bytes(3000))]) },
    { from: 'c', data: applicationData(rnd.bytes(400)) },
  ] });
  t += 1e6;
  tcpConversation(w, { client: CAM6, server: CLOUD6, sport: 50001, dport: 443, t0Us: t, exchanges: [
    { from: 'c', data: clientHello({ sni: 'fw.ring.com', random: rnd.bytes(32) }) },
  ], close: 'rst' });
  t += 1e6;
  const nvr: Host = { mac: '18:80:25:00:00:30', ip: '192.168.50.30' };
  tcpConversation(w, { client: nvr, server: CAM, sport: 50002, dport: 80, t0Us: t, exchanges: [
    { from: 'c', data: httpGet({ host: '192.168.50.21', path: '/ISAPI/System/deviceInfo', basicAuth: 'admin:12345' }) },
    { from: 's', data: httpResponse(200, 'OK', '<DeviceInfo/>', 'application/xml') },
  ] });
  t += 1e6;
  tcpConversation(w, { client: nvr, server: CAM, sport: 50003, dport: 23, t0Us: t, exchanges: telnetLogin('root', 'xc3511').map(([from, data]) => ({ from, data })) });
  t += 1e6;
  tcpConversation(w, { client: CAM, server: CLOUD, sport: 50004, dport: 1883, t0Us: t, exchanges: [
    { from: 'c', data: mqttConnect({ clientId: 'doorbell-1', username: 'dev', password: 'secret' }) },
    { from: 's', data: mqttConnack() },
  ] });
  t += 1e6;
  tcpConversation(w, { client: CAM, server: nvr, sport: 50005, dport: 445, t0Us: t, close: 'refused' });
  t += 1e6;
  sendUdp(w, t, CAM, { mac: ipv4MulticastMac('224.0.0.251'), ip: '224.0.0.251' }, 5353, 5353, mdnsAnnouncement({
    service: '_hue._tcp.local', instance: 'Hue Bridge - 1A2B3C', host: 'ecb5fa1a2b3c.local', port: 443, ipv4: CAM.ip, ipv6: CAM6.ip, txt: ['bridgeid=ecb5fafffe1a2b3c', 'modelid=BSB002'],
  }));
  t += 1e6;
  udpExchange(w, t, CAM, CLOUD, 123, 123, ntpRequest(t), ntpResponse(t, t + 1500));
  t += 1e6;
  ping(w, t, CAM, GW, 7, 1);
  ping(w, t + 2000, CAM6, { mac: GW.mac, ip: 'fd00:50::1' }, 7, 2);
  // A 1500-byte packet captured truncated to 96 bytes, as the demo's volume frames are.
  tcpConversation({ ...w, snap: 96 }, { client: CAM, server: CLOUD, sport: 50006, dport: 443, t0Us: t + 1e6, exchanges: [{ from: 'c', opaque: 5000 }], ackEvery: 4 });
  pw.close();
  return pw.packets;
}
