// The generic webhook body (DESIGN.md "Alert channels"): {"event", "key", "anomaly": every
// Anomaly field in DESIGN.md's order, "digest" for a digest}; the key is also the Idempotency-Key header.

import { orderedAnomaly } from '../anomaly-fields.js';
import type { Alert } from './channel.js';
import type { HttpPayload } from './http-channel.js';

export function webhookBody(alert: Alert): HttpPayload {
  const body: Record<string, unknown> = { event: alert.event, key: alert.key, anomaly: orderedAnomaly(alert.anomaly) };
  if (alert.digest) body.digest = alert.digest;
  return { body };
}
