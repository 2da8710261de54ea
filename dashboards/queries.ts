// Every query the dashboards send (panel targets and variable queries), and their expansion the way
// Grafana's InfluxDB datasource does it, so tests can run them against a real influxd.

import { buildDashboards } from './build.js';

export interface DashboardQuery {
  /** Dashboard uid, e.g. segwatch-overview. */
  dashboard: string;
  /** Panel title, or `$name` for a template variable's own query. */
  panel: string;
  panelId: number | null;
  refId: string;
  /** Raw InfluxQL with $variables and Grafana macros left in. */
  query: string;
  kind: 'panel' | 'variable';
  resultFormat: 'time_series' | 'table';
  /** The panel's minimum interval (e.g. '1m'), which floors $__interval. */
  minInterval?: string;
}

type Json = Record<string, unknown>;

function panelsOf(panels: unknown): Json[] {
  const out: Json[] = [];
  for (const p of (Array.isArray(panels) ? panels : []) as Json[]) {
    out.push(p);
    // Collapsed rows keep their panels inside the row.
    if (Array.isArray(p.panels)) out.push(...panelsOf(p.panels));
  }
  return out;
}

export function listQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { json } of buildDashboards()) {
    const uid = String(json.uid);
    const variables = ((json.templating as Json | undefined)?.list ?? []) as Json[];
    for (const v of variables) {
      if (v.type !== 'query' || typeof v.query !== 'string') continue;
      out.push({
        dashboard: uid, panel: `$${String(v.name)}`, panelId: null, refId: 'variable',
        query: v.query, kind: 'variable', resultFormat: 'table',
      });
    }
    for (const p of panelsOf(json.panels)) {
      for (const t of (Array.isArray(p.targets) ? p.targets : []) as Json[]) {
        const q: DashboardQuery = {
          dashboard: uid,
          panel: String(p.title),
          panelId: typeof p.id === 'number' ? p.id : null,
          refId: String(t.refId),
          query: String(t.query),
          kind: 'panel',
          resultFormat: t.resultFormat === 'table' ? 'table' : 'time_series',
        };
        if (typeof p.interval === 'string') q.minInterval = p.interval;
        out.push(q);
      }
    }
  }
  return out;
}

/** @grafana/data escapeRegex: what the datasource applies to a value used inside /.../. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** Grafana's rangeutil.secondsToHms: the largest whole unit, truncated (90 s -> "1m"). */
export function secondsToHms(seconds: number): string {
  const units: [number, string][] = [[31536000, 'y'], [86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  let rest = seconds;
  for (const [size, unit] of units) {
    const n = Math.floor(rest / size);
    if (n) return `${n}${unit}`;
    rest %= size;
  }
  const ms = Math.floor(seconds * 1000);
  return ms ? `${ms}ms` : 'less than a millisecond';
}

/** Grafana's rangeutil.roundInterval: a raw bucket width in ms snapped to a readable one. */
export function roundInterval(ms: number): number {
  const steps: [number, number][] = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
    [7500, 5000], [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000],
    [210000, 120000], [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000],
    [2700000, 1800000], [5400000, 3600000], [9000000, 7200000], [16200000, 10800000],
    [32400000, 21600000], [86400000, 43200000], [604800000, 86400000], [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, value] of steps) if (ms < below) return value;
  return 31536000000;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000, y: 31536000000 };

/** '10s' -> 10000; undefined for anything else. */
export function intervalToMs(interval: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(interval.trim().replace(/^>/, ''));
  return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

/**
 * The $__interval Grafana picks (ms): range / maxDataPoints rounded, floored by the panel's min
 * interval. maxDataPoints defaults to about a panel's width in pixels.
 */
export function grafanaInterval(range: { fromMs: number; toMs: number }, minInterval?: string, maxDataPoints = 1000): number {
  const raw = roundInterval((range.toMs - range.fromMs) / maxDataPoints);
  const floor = minInterval === undefined ? undefined : intervalToMs(minInterval);
  return floor !== undefined && floor > raw ? floor : raw;
}

/** Does some /.../ regex literal in the query mention $name? Then the value is regex-escaped. */
function usedInRegex(query: string, name: string): boolean {
  const literalRe = /(?:=~|!~)\s*\/((?:\\.|[^/\\])*)\//g;
  for (let m = literalRe.exec(query); m !== null; m = literalRe.exec(query)) {
    if (new RegExp(`\\$(?:\\{${name}\\}|${name}\\b)|\\[\\[${name}\\]\\]`).test(m[1])) return true;
  }
  return false;
}

/**
 * Expands a raw InfluxQL query as Grafana's InfluxDB datasource would before sending it:
 * $timeFilter -> `time >= FROMms and time <= TOms`; $__interval (e.g. 1m), $__interval_ms,
 * $__range, $__range_s, $__range_ms, $__from, $__to; template variables in $name, ${name} and
 * [[name]] forms. A variable used inside a /regex/ is regex-escaped; a multi-value one becomes
 * (a|b). Unknown variables are left as written, as Grafana does.
 * Grafana 10+ skips escaping values that parse as a number (so an IP like 192.168.50.3 stays
 * unescaped); escaping it matches the same single value, so this always escapes.
 */
export function expandQuery(
  q: string,
  vars: Record<string, string | string[]>,
  range: { fromMs: number; toMs: number },
  intervalMs: number,
): string {
  const rangeMs = range.toMs - range.fromMs;
  const builtins: Record<string, string> = {
    timeFilter: `time >= ${range.fromMs}ms and time <= ${range.toMs}ms`,
    __interval: secondsToHms(intervalMs / 1000),
    __interval_ms: String(intervalMs),
    __range: secondsToHms(rangeMs / 1000),
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
    __from: String(range.fromMs),
    __to: String(range.toMs),
  };
  const formatted = (name: string): string | undefined => {
    if (name in builtins) return builtins[name];
    if (!(name in vars)) return undefined;
    const value = vars[name];
    const regex = usedInRegex(q, name);
    if (Array.isArray(value)) {
      const parts = regex ? value.map(escapeRegex) : value;
      return parts.length === 1 ? parts[0] : `(${parts.join('|')})`;
    }
    return regex ? escapeRegex(value) : value;
  };
  // Grafana's variable syntax: $name, [[name]] and ${name}; \w+ is greedy so $__interval_ms wins.
  return q.replace(/\$(\w+)|\[\[(\w+?)\]\]|\$\{(\w+)\}/g, (whole, a?: string, b?: string, c?: string) => {
    const v = formatted((a ?? b ?? c) as string);
    return v === undefined ? whole : v;
  });
}
