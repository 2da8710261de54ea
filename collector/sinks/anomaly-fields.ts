// The Anomaly fields in DESIGN.md's order (id first, the lifecycle's fields last): JSON lines and the console table print them so,
// whatever order a detector built the object in.

import type { Anomaly } from '../types.js';

export const ANOMALY_FIELDS = [
  'id', 'time', 'kind', 'severity', 'device', 'mac', 'ip', 'segment', 'profile', 'peer', 'peerName',
  'peerPort', 'proto', 'bytes', 'packets', 'count', 'firstSeen', 'lastSeen', 'rule', 'message',
  'state', 'closeReason', 'suppressed',
] as const satisfies readonly (keyof Anomaly)[];

/** A copy with exactly DESIGN.md's fields, in its order. */
export function orderedAnomaly(a: Anomaly): Anomaly {
  const o: Record<string, unknown> = {};
  for (const k of ANOMALY_FIELDS) o[k] = a[k];
  return o as unknown as Anomaly;
}
