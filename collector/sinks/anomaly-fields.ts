// The Anomaly fields in DESIGN.md's order (id first, the lifecycle's fields last): JSON lines and the console table print them so,
// whatever order a detector built the object in.

import type { Anomaly } from '../types.js';

export const ANOMALY_FIELDS = [
  'id', 'time', 'kind', 'severity', 'device', 'mac', 'ip', 'segment', 'profile', 'peer', 'peerName',
  'peerPort', 'proto', 'bytes', 'packets', 'count', 'firstSeen', 'lastSeen', 'rule', 'message',
  'state', 'closeReason', 'suppressed',
] as const satisfies readonly (keyof Anomaly)[];

/**
 * A copy with exactly DESIGN.md's fields, in its order (a test holds it to ANOMALY_FIELDS).
 * One literal, not a loop over the names: every copy then has the same shape, which
 * JSON.stringify writes about twice as fast as an object grown key by key.
 */
export function orderedAnomaly(a: Anomaly): Anomaly {
  return {
    id: a.id, time: a.time, kind: a.kind, severity: a.severity, device: a.device, mac: a.mac, ip: a.ip,
    segment: a.segment, profile: a.profile, peer: a.peer, peerName: a.peerName, peerPort: a.peerPort,
    proto: a.proto, bytes: a.bytes, packets: a.packets, count: a.count, firstSeen: a.firstSeen,
    lastSeen: a.lastSeen, rule: a.rule, message: a.message, state: a.state, closeReason: a.closeReason,
    suppressed: a.suppressed,
  };
}
