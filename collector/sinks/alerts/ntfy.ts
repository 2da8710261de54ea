// ntfy: its JSON publishing format (POST to the server's root with the topic in the body), so
// titles and messages keep any character (headers would need ASCII). The configured URL is the
// topic URL, https://ntfy.sh/<topic> or https://ntfy.lan/<topic>: the last path segment is the topic.

import type { Severity } from '../../types.js';
import { adviceFor } from './advice.js';
import type { Alert } from './channel.js';
import type { HttpPayload } from './http-channel.js';
import { headline } from './text.js';

/** ntfy priorities: 5 max (long vibration, bypasses Do Not Disturb on Android) ... 1 min. */
export const NTFY_PRIORITY: Record<Severity, number> = { critical: 5, high: 4, medium: 3, low: 2, info: 1 };
const EMOJI: Record<Severity, string> = { critical: 'rotating_light', high: 'warning', medium: 'warning', low: 'information_source', info: 'information_source' };

/** The topic URL split into ntfy's publish endpoint (the root) and the topic. */
export function ntfyTarget(url: URL): { root: string; topic: string } {
  const parts = url.pathname.split('/').filter(Boolean);
  const topic = parts.pop() ?? '';
  const root = new URL(url);
  root.pathname = parts.length ? '/' + parts.join('/') + '/' : '/';
  root.search = '';
  return { root: root.toString(), topic };
}

export function ntfyBody(alert: Alert, url: URL): HttpPayload {
  const a = alert.anomaly;
  const { root, topic } = ntfyTarget(url);
  let message = a.message;
  if (alert.digest) message += '\n' + alert.digest.lines.map((l) => `- ${l}`).join('\n');
  message += `\n\nWhat to do: ${adviceFor(a)}`;
  return {
    url: root,
    body: {
      topic,
      title: headline(alert),
      message,
      priority: NTFY_PRIORITY[a.severity],
      tags: [EMOJI[a.severity], a.kind, alert.event],
    },
  };
}
