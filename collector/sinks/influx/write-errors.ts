// Sorts a failed /write into "retry later" (spool it) or "rejected" (log it and
// move on), and finds the offending lines of a rejected batch.

import { RequestError, ServiceNotAvailableError } from 'influx/lib/src/pool.js';

export type WriteOutcome =
  | { ok: true }
  | { ok: false; retry: true; status: number; reason: string; databaseMissing: boolean }
  | { ok: false; retry: false; status: number; reason: string; dropped: number | null };

/** The `error` text of an InfluxDB JSON error body, else the body itself. */
function errorText(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof j.error === 'string') return j.error;
    if (typeof j.message === 'string') return j.message;
  } catch { /* not JSON */ }
  return body;
}

/**
 * Network errors, timeouts, 5xx, 429 and 408 are retryable. So are 401/403
 * (credentials being fixed must not cost data), 404 "database not found"
 * (created, then retried) and 3xx. Any other 4xx rejects the batch: resending
 * the same bytes would fail the same way and block everything behind it.
 */
export function classifyWriteError(err: unknown): WriteOutcome {
  if (err instanceof RequestError) {
    const status = err.res?.statusCode ?? 0;
    const m = /error occurred: ([\s\S]*)$/.exec(err.message);
    const reason = errorText(m ? m[1] : err.message);
    if (status < 400 || status === 401 || status === 403 || status === 408 || status === 429) {
      return { ok: false, retry: true, status, reason, databaseMissing: false };
    }
    if (status === 404 && /database not found/i.test(reason)) {
      return { ok: false, retry: true, status, reason, databaseMissing: true };
    }
    const d = /dropped=(\d+)/.exec(reason);
    return { ok: false, retry: false, status, reason, dropped: d ? Number(d[1]) : null };
  }
  if (err instanceof ServiceNotAvailableError) {
    return { ok: false, retry: true, status: 503, reason: err.message || 'service unavailable', databaseMissing: false };
  }
  const e = err as { code?: string; message?: string };
  return { ok: false, retry: true, status: 0, reason: e?.code ?? e?.message ?? String(err), databaseMissing: false };
}

/**
 * Lines of `lines` the error names. InfluxDB 1.x says "unable to parse '<line>':"
 * for each unparsable line and "field type conflict: input field \"f\" on
 * measurement \"m\"" for a type clash; 3.x names lines the same way.
 */
export function offendingLines(lines: readonly string[], reason: string): string[] {
  const out: string[] = [];
  if (reason.includes('unable to parse')) {
    for (const l of lines) if (reason.includes(`'${l}'`)) out.push(l);
  }
  const tc = /input field "([^"]+)" on measurement "([^"]+)"/.exec(reason);
  if (tc) {
    const [, field, meas] = tc;
    for (const l of lines) {
      if ((l.startsWith(meas + ',') || l.startsWith(meas + ' '))
        && (l.includes(' ' + field + '=') || l.includes(',' + field + '='))) out.push(l);
    }
  }
  return out;
}
