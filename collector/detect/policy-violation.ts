// policy.violation: a watched device opened a flow its profile does not allow.

import type { AnomalyInit, Subject } from './anomaly.js';
import { peerText, portText, who } from './anomaly.js';
import type { OpenedFlow } from './flow.js';

/**
 * @param unnamed a domain rule of the profile could have allowed the flow, but no name of the
 *   peer was known (no DNS answer, SNI or Host seen): the message says so, and how to fix it.
 */
export function policyViolation(s: Subject, f: OpenedFlow, peerName: string, bytes: number, packets: number, unnamed = false): AnomalyInit {
  const svc = portText(f.proto, f.dport);
  const why = unnamed
    ? ` (no DNS name was known for ${f.dst}, so its domain rules could not match; NetFlow/IPFIX records carry no names: capture the resolver's traffic with --interface to learn them)`
    : '';
  return {
    kind: 'policy.violation', time: f.time, subject: s,
    peer: f.dst, peerName, peerPort: f.dport, proto: f.proto, bytes, packets,
    rule: `profiles.${s.profile}`,
    message: `${who(s)} opened ${svc} to ${peerText(f.dst, peerName)}, which profile ${s.profile} does not allow${why}: block it or add an allow rule to profile ${s.profile}`,
  };
}
