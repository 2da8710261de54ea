// "What to do" for each anomaly kind, in a sentence or two a network admin can act on; mail,
// chat cards and syslog's readable part quote it. A port can say more than the kind.

import type { Anomaly } from '../../types.js';

const BY_PORT: Readonly<Record<number, string>> = {
  21: 'FTP sends passwords in clear text: disable the FTP server on the device and change its password.',
  23: 'Telnet sends passwords in clear text: disable telnet on the device and change its factory password.',
  80: 'HTTP is unencrypted: switch the device to HTTPS if it can, and change any password it sent.',
  1883: 'Plain MQTT is unencrypted: move the device to MQTT over TLS (8883) with its own credentials.',
  2323: 'Telnet on 2323 is what IoT botnets use: disable it on the device and change its factory password.',
};

const BY_KIND: Readonly<Record<string, string>> = {
  'policy.violation': 'Check whether the device should reach this peer: if yes, add an allow rule to its profile (or an exception with a comment); if not, block it at the firewall and look at the device\'s firmware.',
  'segment.crossing': 'A device in the IoT segment reached a protected network: block the path at the firewall now, then find out why the device tried.',
  'device.new': 'Identify the device (vendor, hostname, switch port) and add it to the policy with a profile, or remove it from the network.',
  'device.spoof': 'Two MACs claim one IP address: find the second MAC\'s switch port; if it is not a known failover, disconnect it (possible ARP spoofing).',
  'scan.hosts': 'The device is scanning the network: isolate it and check it for malware (a botnet infection looks like this).',
  'scan.ports': 'The device is probing another host\'s ports: isolate it and check it for malware.',
  'protocol.plaintext': 'A clear-text protocol is in use: disable it on the device or switch it to its encrypted variant, and change any password it sent.',
  'dns.bypass': 'The device uses its own DNS resolver: block DNS and DNS-over-TLS to other resolvers at the firewall, or approve this resolver in the policy.',
  'volume.limit': 'The device sends more than its profile allows: check what it uploads (a camera streaming out, a backup) and raise the limit or block it.',
  'device.exposed': 'The device is reachable from the Internet: remove the port forward or UPnP mapping on the router and disable UPnP.',
  'collector.degraded': 'segwatch cannot see or report everything: check the capture interface, the router\'s exporter, InfluxDB and the alert channels.',
  'credentials.default': 'A factory password was used: change it on the device now and disable the service if it is not needed.',
  digest: 'Many alerts at once: open the dashboard or the API for each one.',
  test: 'Nothing: this channel works.',
};

/** One or two sentences on what to do about the anomaly. */
export function adviceFor(a: Pick<Anomaly, 'kind' | 'peerPort'>): string {
  const port = (a.kind === 'protocol.plaintext' || a.kind === 'credentials.default' || a.kind === 'policy.violation') ? BY_PORT[a.peerPort] : undefined;
  return port ?? BY_KIND[a.kind] ?? 'Look at the anomaly in the dashboard and decide whether the policy should allow it.';
}
