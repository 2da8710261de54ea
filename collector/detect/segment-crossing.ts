// segment.crossing: a watched device opened a flow into a protected segment that its
// profile does not allow. A flow an allow rule permits (e.g. device:nvr in lan) is the
// admin's decision and does not alarm; a denied one is reported as this kind instead of
// policy.violation (one cause, one anomaly).

import type { AnomalyInit, Subject } from './anomaly.js';
import { peerText, portText, who } from './anomaly.js';
import type { OpenedFlow } from './flow.js';

export function segmentCrossing(s: Subject, f: OpenedFlow, segment: string, peerName: string, service: string,
  bytes: number, packets: number): AnomalyInit {
  const svc = portText(f.proto, f.dport) + (service ? ` (${service})` : '');
  return {
    kind: 'segment.crossing', time: f.time, subject: s,
    peer: f.dst, peerName, peerPort: f.dport, proto: f.proto, bytes, packets,
    rule: `protected.${segment}`,
    message: `${who(s)} opened ${svc} to ${peerText(f.dst, peerName)} in protected segment ${segment}: block it or allow it in profile ${s.profile}`,
  };
}
