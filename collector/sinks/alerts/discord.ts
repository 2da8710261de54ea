// Discord webhooks: one embed coloured by severity, with fields and the key in the footer.
// `?wait=true` makes Discord answer 200 once the message is stored (its acknowledgement), and
// allowed_mentions parse [] keeps an "@everyone" in a hostname from pinging anyone.
// Limits (Discord's "Embed Limits"): title 256, description 4096, 25 fields, name 256, value 1024.

import { adviceFor } from './advice.js';
import type { Alert } from './channel.js';
import type { HttpPayload } from './http-channel.js';
import { fieldList, headline } from './text.js';
import type { Severity } from '../../types.js';

/** Embed colours (0xRRGGBB as a number, as Discord takes them). */
export const SEVERITY_COLOUR: Record<Severity, number> = {
  critical: 0x8b0000, high: 0xe74c3c, medium: 0xe67e22, low: 0xf1c40f, info: 0x3498db,
};

function cut(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

export function discordBody(alert: Alert, url: URL): HttpPayload {
  const a = alert.anomaly;
  const fields = fieldList(a).filter(([k]) => k !== 'message').slice(0, 24)
    .map(([name, value]) => ({ name, value: cut(value, 1024), inline: value.length < 40 }));
  let description = a.message;
  if (alert.digest) description += '\n' + alert.digest.lines.map((l) => `• ${l}`).join('\n');
  description += `\n\n**What to do:** ${adviceFor(a)}`;
  const wait = new URL(url);
  wait.searchParams.set('wait', 'true');
  return {
    url: wait.toString(),
    body: {
      content: cut(headline(alert), 2000),
      allowed_mentions: { parse: [] },
      embeds: [{
        title: cut(headline(alert), 256),
        description: cut(description, 4096),
        color: SEVERITY_COLOUR[a.severity],
        fields,
        timestamp: a.time,
        footer: { text: cut(`segwatch · ${alert.event} · ${alert.key}`, 2048) },
      }],
    },
  };
}
