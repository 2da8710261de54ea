// What a mail says: a subject that reads in an inbox list, a plain-text body with every field
// and what to do, and a Message-ID built from the idempotency key so a repeat can be dropped.

import type { Alert } from './channel.js';
import { headline, plainBody } from './text.js';

/** "[segwatch] HIGH policy.violation: plugs-a1b2c3 -> 203.0.113.5:23", on one line. */
export function mailSubject(alert: Alert): string {
  return `[segwatch] ${headline(alert)}`.replace(/[\r\n\t]+/g, ' ').slice(0, 200);
}

/**
 * "<a1b2.opened@segwatch>": the key with every run of characters an RFC 5322 dot-atom cannot
 * hold (":" among them) as one ".", so the same alert always has the same Message-ID.
 */
export function messageId(key: string): string {
  const local = key.replace(/[^A-Za-z0-9_-]+/g, '.').replace(/^\.+|\.+$/g, '') || 'alert';
  return `<${local}@segwatch>`;
}

export function mailText(alert: Alert): string {
  return plainBody(alert);
}
