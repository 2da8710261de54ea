// Slack incoming webhooks: `text` (the notification and fallback) plus Block Kit blocks
// (header, the message, fields, what to do, the key). Limits from Slack's Block Kit reference:
// header plain_text at most 150 characters, a section's text 3000, at most 10 fields of 2000.

import { adviceFor } from './advice.js';
import type { Alert } from './channel.js';
import type { HttpPayload } from './http-channel.js';
import { fieldList, headline } from './text.js';

/** Slack's mrkdwn needs only &, < and > escaped (its "Escaping text" rule). */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

const SHOWN = ['severity', 'device', 'peer', 'peerName', 'peerPort', 'proto', 'count', 'segment', 'profile', 'time'];

export function slackBody(alert: Alert): HttpPayload {
  const a = alert.anomaly;
  const title = headline(alert);
  const fields = fieldList(a).filter(([k]) => SHOWN.includes(k)).slice(0, 10)
    .map(([k, v]) => ({ type: 'mrkdwn', text: cut(`*${k}*\n${slackEscape(v)}`, 2000) }));
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(title, 150), emoji: false } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(slackEscape(a.message), 3000) } },
  ];
  if (fields.length) blocks.push({ type: 'section', fields });
  if (alert.digest) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(alert.digest.lines.map((l) => `• ${slackEscape(l)}`).join('\n'), 3000) } });
  blocks.push(
    { type: 'section', text: { type: 'mrkdwn', text: cut(`*What to do:* ${slackEscape(adviceFor(a))}`, 3000) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(`${alert.event} · ${a.kind} · key ${alert.key}`) }] },
  );
  // `text` is what notifications and clients without blocks show
  return { body: { text: slackEscape(`${title}: ${a.message}`), blocks } };
}
