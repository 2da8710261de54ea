// Microsoft Teams through a Workflows ("When a Teams webhook request is received") webhook:
// a message whose one attachment is an Adaptive Card 1.4 (title, message, a FactSet with every
// field, what to do). The Workflows trigger answers 202 Accepted once it took the request.

import { adviceFor } from './advice.js';
import type { Alert } from './channel.js';
import type { HttpPayload } from './http-channel.js';
import { fieldList, headline } from './text.js';

export function teamsBody(alert: Alert): HttpPayload {
  const a = alert.anomaly;
  const urgent = a.severity === 'critical' || a.severity === 'high';
  const body: unknown[] = [
    { type: 'TextBlock', text: headline(alert), weight: 'Bolder', size: 'Medium', wrap: true, color: urgent ? 'Attention' : 'Warning' },
    { type: 'TextBlock', text: a.message, wrap: true },
    { type: 'FactSet', facts: fieldList(a).filter(([k]) => k !== 'message').map(([title, value]) => ({ title, value })) },
  ];
  if (alert.digest) body.push({ type: 'TextBlock', text: alert.digest.lines.map((l) => `- ${l}`).join('\n'), wrap: true });
  body.push(
    { type: 'TextBlock', text: `What to do: ${adviceFor(a)}`, wrap: true },
    { type: 'TextBlock', text: `${alert.event} · key ${alert.key}`, isSubtle: true, size: 'Small', wrap: true },
  );
  return {
    body: {
      type: 'message',
      attachments: [{
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body },
      }],
    },
  };
}
