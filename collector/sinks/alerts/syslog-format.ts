// RFC 5424 messages for SIEMs: PRI from facility and severity, MSGID the event, the anomaly's
// fields as STRUCTURED-DATA (escaped per §6.3.3) and a readable MSG; and RFC 6587/5425
// octet-counting framing for TCP and TLS. Pure: time, host and process id are passed in.

import { ANOMALY_FIELDS } from '../anomaly-fields.js';
import type { Severity } from '../../types.js';
import type { Alert } from './channel.js';
import { headline } from './text.js';

/**
 * SD-ID. 32473 is the private enterprise number IANA reserves for documentation (RFC 5612);
 * a site with its own number can change it here. The name part keeps the SD-ID ours (§6.3.2).
 */
export const SD_ID = 'segwatch@32473';

/** Anomaly severity to syslog severity (RFC 5424 table 2). */
export const SYSLOG_SEVERITY: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };

/** PARAM-VALUE escaping (§6.3.3): '"', '\' and ']' take a backslash; control characters become spaces. */
export function sdEscape(v: string): string {
  return v.replace(/[\\"\]]/g, '\\$&').replace(/[\u0000-\u001f\u007f]/g, ' ');
}

/** A header field (§6): printable US-ASCII only, at most `max`, NILVALUE "-" when empty. */
export function headerField(v: string, max: number): string {
  const s = v.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return s || '-';
}

/** SD-NAME: 1 to 32 printable US-ASCII characters except '=', SP, ']' and '"' (§6.3.3). */
export function isSdName(s: string): boolean {
  return /^[\x21-\x7e]{1,32}$/.test(s) && !/[= \]"]/.test(s);
}

export interface SyslogHeader {
  /** facility number, 0..23. */
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  /** ms since epoch: when the message is sent. */
  time: number;
}

/** One RFC 5424 message (no framing, no trailing newline). */
export function formatSyslog(alert: Alert, h: SyslogHeader): string {
  const a = alert.anomaly;
  const pri = h.facility * 8 + SYSLOG_SEVERITY[a.severity];
  const params: [string, string][] = [['key', alert.key], ['event', alert.event]];
  for (const k of ANOMALY_FIELDS) params.push([k, String(a[k])]);
  if (alert.digest) params.push(['total', String(alert.digest.total)]);
  const sd = `[${SD_ID} ${params.map(([k, v]) => `${k}="${sdEscape(v)}"`).join(' ')}]`;
  const msg = `${headline(alert)}: ${a.message}`.replace(/[\u0000-\u001f\u007f]/g, ' ');
  // MSG is sent as MSG-ANY (no BOM): a BOM in front shows up as junk in many SIEM parsers
  return `<${pri}>1 ${new Date(h.time).toISOString()} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} ${headerField(h.procId, 128)} ${headerField(alert.event, 32)} ${sd} ${msg}`;
}

/** Octet-counting frame "LEN SP MSG" (RFC 6587 §3.4.1, RFC 5425 §4.3); LEN counts bytes, not characters. */
export function octetFrame(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
