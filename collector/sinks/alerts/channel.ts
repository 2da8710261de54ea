// What an alert channel is: the event it delivers (Alert), the small interface a dispatcher
// calls (Channel), and the one error type that tells the dispatcher whether to retry.

import { hostname } from 'node:os';
import type { Anomaly, Log, Severity } from '../../types.js';
import { silentLog } from '../../types.js';
import { segwatchVersion } from './version.js';

export type AlertEvent = 'opened' | 'closed' | 'reminder' | 'test' | 'digest';

/**
 * What a 'digest' rolls up: how many alerts the rate limit held back and one line per group
 * ("40 policy.violation from plugs-a1b2c3"), already written for people.
 */
export interface Digest {
  total: number;
  lines: string[];
}

/**
 * One delivery. `anomaly` is always a complete Anomaly so every channel formats one shape:
 * for a 'digest' it is the summary record digestAnomaly() builds (kind `digest`, the highest
 * severity rolled up, the count and a message "and 57 more: ..."), and `digest` carries the
 * lines for channels that list them.
 */
export interface Alert {
  /** idempotency key: `<id>:<event>`, reminders `<id>:reminder:<n>`; receivers drop repeats by it. */
  key: string;
  event: AlertEvent;
  anomaly: Anomaly;
  digest?: Digest;
}

/**
 * An alert channel. send() resolves only once the receiver acknowledged the alert (HTTP 2xx,
 * syslog bytes written to the socket, SMTP 250 after DATA, MQTT PUBACK) and rejects with a
 * DeliveryError otherwise; it never retries by itself: the outbox decides.
 */
export interface Channel {
  readonly name: string;
  readonly type: string;
  send(alert: Alert): Promise<void>;
  /** releases connections; a send after close() fails (not retryable). */
  close(): Promise<void>;
  /** "type name -> scheme://host:port", never a path, query or credential. */
  toString(): string;
}

/**
 * Why a send failed. `retryable`: the same alert may succeed later (connection refused, timeout,
 * HTTP 5xx or 429, SMTP 4xx); false when resending cannot help (HTTP 4xx, SMTP 5xx, bad
 * credentials). `retryAfterMs`: the receiver's own wish (Retry-After), to be honoured.
 * Messages never carry a secret: URLs in them are redacted.
 */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  /** a short stable code: 'http_503', 'timeout', 'connect', 'smtp_550', 'auth', 'closed', ... */
  readonly code: string;

  constructor(message: string, opts: { retryable: boolean; code: string; retryAfterMs?: number }) {
    super(message);
    this.name = 'DeliveryError';
    this.retryable = opts.retryable;
    this.code = opts.code;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** What a channel may use besides its config: no pipeline, no outbox. */
export interface ChannelContext {
  log: Log;
  /** segwatch's version, for User-Agent and MQTT discovery's origin. */
  version: string;
  /** this host's name, for syslog's HOSTNAME and mail's Message-ID host part. */
  hostname: string;
  /** ms since epoch; syslog's TIMESTAMP reads it. */
  clock: () => number;
}

export function defaultContext(over: Partial<ChannelContext> = {}): ChannelContext {
  return { log: silentLog, version: segwatchVersion(), hostname: hostname(), clock: Date.now, ...over };
}

const RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** -1, 0 or 1 as severity a is below, equal to or above b. */
export function compareSeverity(a: Severity, b: Severity): number {
  return Math.sign(RANK[a] - RANK[b]);
}

/**
 * The summary record a digest alert carries: kind `digest`, the highest severity rolled up,
 * `count` the number of alerts it stands for. `id` names the digest (the dispatcher's choice,
 * e.g. `digest-<channel>-<n>`), `time` is when it was made (ms since epoch).
 */
export function digestAlert(id: string, digest: Digest, severity: Severity, time: number): Alert {
  const iso = new Date(time).toISOString();
  const anomaly: Anomaly = {
    id, time: iso, kind: 'digest', severity, device: '', mac: '', ip: '', segment: '', profile: '',
    peer: '', peerName: '', peerPort: 0, proto: '', bytes: 0, packets: 0, count: digest.total,
    firstSeen: iso, lastSeen: iso, rule: 'rate limit',
    message: `and ${digest.total} more: ${digest.lines.join(', ')}`,
    state: 'open', closeReason: '', suppressed: false,
  };
  return { key: `${id}:digest`, event: 'digest', anomaly, digest };
}

/** The anomaly `segwatch alerts test` sends: clearly a test, severity info, device segwatch-test. */
export function testAlert(time: number): Alert {
  const iso = new Date(time).toISOString();
  const id = `test-${time}`;
  return {
    key: `${id}:test`,
    event: 'test',
    anomaly: {
      id, time: iso, kind: 'test', severity: 'info', device: 'segwatch-test', mac: '', ip: '',
      segment: '', profile: '', peer: '', peerName: '', peerPort: 0, proto: '', bytes: 0, packets: 0,
      count: 1, firstSeen: iso, lastSeen: iso, rule: '',
      message: 'A test alert from segwatch: this channel works.',
      state: 'open', closeReason: '', suppressed: false,
    },
  };
}
