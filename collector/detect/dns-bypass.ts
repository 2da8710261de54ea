// dns.bypass: DNS (53) or DNS-over-TLS (853) from a watched device to a resolver the
// policy does not approve. Judged only for flows the profile does not allow (an explicit
// allow rule for that resolver is the admin's approval). mDNS (5353) is not DNS here.

import type { Proto } from '../types.js';
import type { AnomalyInit, Subject } from './anomaly.js';
import { peerText, portText, who } from './anomaly.js';
import type { OpenedFlow } from './flow.js';
import type { PlaintextPort } from './settings.js';

/** The DNS service a flow's server port and protocol name, or undefined. */
export function dnsPort(ports: readonly PlaintextPort[], proto: Proto, port: number): PlaintextPort | undefined {
  for (const p of ports) if (p.port === port && p.proto === proto) return p;
  return undefined;
}

export function dnsBypass(s: Subject, f: OpenedFlow, svc: PlaintextPort, peerName: string, bytes: number, packets: number): AnomalyInit {
  return {
    kind: 'dns.bypass', time: f.time, subject: s,
    peer: f.dst, peerName, peerPort: f.dport, proto: f.proto, bytes, packets,
    rule: 'resolvers',
    message: `${who(s)} sent ${svc.name} (${portText(f.proto, f.dport)}) to ${peerText(f.dst, peerName)}, which is not an approved resolver: block it or add it to resolvers`,
  };
}
