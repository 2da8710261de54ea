// policy.violation: a watched device opened a flow its profile does not allow.

import type { AnomalyInit, Subject } from './anomaly.js';
import { peerText, portText, who } from './anomaly.js';
import type { OpenedFlow } from './flow.js';

export function policyViolation(s: Subject, f: OpenedFlow, peerName: string, bytes: number, packets: number): AnomalyInit {
  const svc = portText(f.proto, f.dport);
  return {
    kind: 'policy.violation', time: f.time, subject: s,
    peer: f.dst, peerName, peerPort: f.dport, proto: f.proto, bytes, packets,
    rule: `profiles.${s.profile}`,
    message: `${who(s)} opened ${svc} to ${peerText(f.dst, peerName)}, which profile ${s.profile} does not allow: block it or add an allow rule to profile ${s.profile}`,
  };
}
