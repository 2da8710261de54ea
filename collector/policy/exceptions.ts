// Policy exceptions (`exceptions:` in the policy, and exceptions.yaml in the state directory,
// written by an acknowledgement through the API): an accepted behaviour, with a reason and
// maybe an end date. A matching anomaly is still stored, counted and shown, marked
// `suppressed: true`; only the alert channels leave it out. Each field left out matches all.

import type { Anomaly } from '../types.js';
import { globToRegExp } from './glob.js';

export interface ExceptionDoc {
  device?: string;
  kind?: string;
  peer?: string;
  port?: number | string;
  comment: string;
  until?: string;
}

interface Compiled {
  device: RegExp | null;
  kind: RegExp | null;
  peer: RegExp | null;
  port: RegExp | null;
  /** ms since epoch; Infinity when it has no end */
  until: number;
}

/**
 * `until` as ms: a date alone means the end of that day (UTC); NaN when it is not a real
 * date (Date.parse takes 2027-02-30 for March 2nd).
 */
export function untilMs(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (!m) return NaN;
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (day.getUTCMonth() !== Number(m[2]) - 1 || day.getUTCDate() !== Number(m[3])) return NaN;
  if (s.length === 10) return Date.parse(`${s}T23:59:59.999Z`);
  return Date.parse(s);
}

export class Exceptions {
  private readonly list: Compiled[];

  constructor(docs: readonly ExceptionDoc[]) {
    const re = (g: string | undefined) => (g === undefined || g === '*' ? null : globToRegExp(g));
    this.list = docs.map((d) => ({
      device: re(d.device), kind: re(d.kind), peer: re(d.peer),
      port: d.port === undefined ? null : globToRegExp(String(d.port)),
      until: d.until === undefined ? Infinity : untilMs(d.until),
    }));
  }

  get size(): number {
    return this.list.length;
  }

  /** Does an exception in force at `now` accept this anomaly? The peer matches by address or name. */
  suppresses(a: Pick<Anomaly, 'device' | 'kind' | 'peer' | 'peerName' | 'peerPort'>, now: number): boolean {
    for (const e of this.list) {
      if (now > e.until) continue;
      if (e.device && !e.device.test(a.device)) continue;
      if (e.kind && !e.kind.test(a.kind)) continue;
      if (e.peer && !e.peer.test(a.peer) && !(a.peerName !== '' && e.peer.test(a.peerName))) continue;
      if (e.port && !e.port.test(String(a.peerPort))) continue;
      return true;
    }
    return false;
  }

  /** The first end of an exception after `now` (when what it accepted alerts again), or Infinity. */
  nextEnd(now: number): number {
    let next = Infinity;
    for (const e of this.list) if (e.until >= now && e.until < next) next = e.until;
    return next;
  }
}
