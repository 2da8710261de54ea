// The readable parts every channel shares: the one-line headline ("HIGH policy.violation:
// plugs-a1b2c3 -> 203.0.113.5:23"), the labelled fields, and the plain-text body.

import type { Anomaly } from '../../types.js';
import { ANOMALY_FIELDS } from '../anomaly-fields.js';
import { adviceFor } from './advice.js';
import type { Alert } from './channel.js';

/** "203.0.113.5:23", "cam.example (203.0.113.5):443", "" when there is no peer. */
export function peerText(a: Anomaly): string {
  if (!a.peer && !a.peerName) return '';
  const host = a.peerName && a.peer ? `${a.peerName} (${a.peer})` : a.peerName || a.peer;
  const v6 = !a.peerName && a.peer.includes(':');
  const port = a.peerPort ? `:${a.peerPort}` : '';
  return v6 && port ? `[${host}]${port}` : host + port;
}

const EVENT_PREFIX: Record<Alert['event'], string> = {
  opened: '', closed: 'closed: ', reminder: 'still open: ', test: 'TEST ', digest: '',
};

/** One line, no newline: the mail subject, the chat title, the ntfy title. */
export function headline(alert: Alert): string {
  const a = alert.anomaly;
  if (alert.event === 'digest') return `${a.severity.toUpperCase()} ${a.count} more alerts (rate limit)`;
  if (alert.event === 'test') return 'TEST segwatch alert channel';
  const peer = peerText(a);
  return `${EVENT_PREFIX[alert.event]}${a.severity.toUpperCase()} ${a.kind}: ${a.device}${peer ? ' -> ' + peer : ''}`;
}

/** Every Anomaly field as [label, value] in DESIGN.md's order, empty ones left out. */
export function fieldList(a: Anomaly): [string, string][] {
  const out: [string, string][] = [];
  for (const k of ANOMALY_FIELDS) {
    const v = a[k];
    if (v === '' || v === undefined) continue;
    out.push([k, String(v)]);
  }
  return out;
}

/** The plain-text body of a mail: message, what to do, every field, the key. */
export function plainBody(alert: Alert): string {
  const a = alert.anomaly;
  const lines = [a.message, ''];
  if (alert.digest) lines.push(...alert.digest.lines.map((l) => `  - ${l}`), '');
  lines.push('What to do:', `  ${adviceFor(a)}`, '');
  const fields = fieldList(a);
  const w = Math.max(...fields.map(([k]) => k.length));
  lines.push('Details:');
  for (const [k, v] of fields) lines.push(`  ${k.padEnd(w)}  ${v}`);
  lines.push('', `event: ${alert.event}`, `idempotency key: ${alert.key}`);
  return lines.join('\n') + '\n';
}
