// InfluxDB line protocol: escaping and serialising one point. Knows nothing of
// segwatch's data model (points.ts maps that) nor of HTTP (influx-sink.ts).

/** One point. Tag order does not matter (keys are sorted on output). */
export interface Point {
  measurement: string;
  /** Empty values are left out: InfluxDB refuses empty tag values. */
  tags?: Record<string, string>;
  /** Floats (numbers), strings and booleans. NaN and ±Infinity are dropped. */
  fields?: Record<string, string | number | boolean>;
  /**
   * Integer fields, written as `123i`. Kept apart from `fields` so an integral
   * float (2.0) is never written as an integer, which would be a field type
   * conflict in InfluxDB. Fractions are truncated; values outside int64 are dropped.
   */
  ints?: Record<string, number | bigint>;
  /** ms since epoch; may carry a fraction. Left out: the server's receive time. */
  time?: number;
  /** ns added to `time`, 0..999999, to tell apart points of one series in one ms. */
  timeNs?: number;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/**
 * Escape for measurement names, tag keys, tag values and field keys.
 * `,` and space (and `=` except in measurements) get a backslash. Line breaks and
 * tabs cannot appear raw (a newline ends the line), so they become the two
 * characters `\n`, `\r`, `\t`, `\f` as Telegraf writes them.
 * A backslash is doubled only where the parser would otherwise read it as an
 * escape of what follows (before `,`, space, `=`, another backslash): InfluxDB
 * 1.x keeps `\x` as two characters, so names such as `DOMAIN\host` stay exact.
 * Trailing backslashes are removed: 1.x refuses any tag value ending in one,
 * escaped or not ("invalid tag format"), and a hostile hostname must not cost
 * the whole point.
 */
function escapeKey(s: string, escapeEquals: boolean): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x5c) end--;
  if (end !== s.length) s = s.slice(0, end);
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | null = null;
    switch (c) {
      case 0x2c: rep = '\\,'; break;
      case 0x20: rep = '\\ '; break;
      case 0x3d: if (escapeEquals) rep = '\\='; break;
      case 0x0a: rep = '\\n'; break;
      case 0x0d: rep = '\\r'; break;
      case 0x09: rep = '\\t'; break;
      case 0x0c: rep = '\\f'; break;
      case 0x5c: {
        const n = s.charCodeAt(i + 1);
        if (n === 0x2c || n === 0x20 || n === 0x5c || n === 0x0a || n === 0x0d
          || n === 0x09 || n === 0x0c || (escapeEquals && n === 0x3d)) rep = '\\\\';
        break;
      }
    }
    if (rep !== null) {
      out += s.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

export function escapeMeasurement(s: string): string {
  return escapeKey(s, false);
}

export function escapeTag(s: string): string {
  return escapeKey(s, true);
}

export function escapeFieldKey(s: string): string {
  return escapeKey(s, true);
}

/**
 * A string field value with its quotes: `"` and `\` get a backslash. Line breaks
 * become the two characters `\n` / `\r`: InfluxDB 1.x accepts them raw inside
 * quotes, but then one point is no longer one line, and the spool and the
 * rejected-point report split batches on newlines.
 */
export function quoteString(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | null = null;
    if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x0a) rep = '\\n';
    else if (c === 0x0d) rep = '\\r';
    if (rep !== null) {
      out += s.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return out + s.slice(from) + '"';
}

/** Integer field text (`123i`), or null when not representable as int64. */
export function formatInt(v: number | bigint): string | null {
  if (typeof v === 'bigint') {
    return v > INT64_MAX || v < INT64_MIN ? null : v.toString() + 'i';
  }
  if (!Number.isFinite(v)) return null;
  const t = Math.trunc(v);
  if (Number.isSafeInteger(t)) return (t === 0 ? '0' : String(t)) + 'i';
  const b = BigInt(t);
  return b > INT64_MAX || b < INT64_MIN ? null : b.toString() + 'i';
}

/** Float field text, or null for NaN/±Infinity (InfluxDB cannot store them). */
export function formatFloat(v: number): string | null {
  if (!Number.isFinite(v)) return null;
  // String(-0) is "0"; exponent forms ("1e+21") are accepted by the parser.
  return String(v);
}

/**
 * ns timestamp text for `ms` (+ `extraNs`), exact: ms * 1e6 exceeds 2^53, so the
 * digits are built with BigInt instead of float multiplication.
 */
export function nsTimestamp(ms: number, extraNs = 0): string | null {
  if (!Number.isFinite(ms) || !Number.isFinite(extraNs)) return null;
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6) + Math.trunc(extraNs);
  return (BigInt(whole) * 1000000n + BigInt(frac)).toString();
}

/**
 * One line of line protocol (no trailing newline), or null when the point has
 * no measurement or no field left after dropping unrepresentable values.
 */
export function serializePoint(p: Point): string | null {
  let line = p.measurement ? escapeMeasurement(p.measurement) : '';
  if (line === '') return null;
  if (p.tags) {
    const keys = Object.keys(p.tags).sort();
    for (const k of keys) {
      const v = p.tags[k];
      if (typeof v !== 'string') continue;
      const ek = escapeTag(k);
      const ev = escapeTag(v);
      if (ek === '' || ev === '') continue;
      line += ',' + ek + '=' + ev;
    }
  }
  let fields = '';
  if (p.fields) {
    for (const k of Object.keys(p.fields)) {
      if (k === '') continue;
      const v = p.fields[k];
      let text: string | null;
      if (typeof v === 'string') text = quoteString(v);
      else if (typeof v === 'boolean') text = v ? 'true' : 'false';
      else if (typeof v === 'number') text = formatFloat(v);
      else text = null;
      const ek = escapeFieldKey(k);
      if (text === null || ek === '') continue;
      fields += (fields ? ',' : '') + ek + '=' + text;
    }
  }
  if (p.ints) {
    for (const k of Object.keys(p.ints)) {
      if (k === '') continue;
      const v = p.ints[k];
      const text = typeof v === 'number' || typeof v === 'bigint' ? formatInt(v) : null;
      const ek = escapeFieldKey(k);
      if (text === null || ek === '') continue;
      fields += (fields ? ',' : '') + ek + '=' + text;
    }
  }
  if (!fields) return null;
  line += ' ' + fields;
  if (p.time !== undefined) {
    const ts = nsTimestamp(p.time, p.timeNs ?? 0);
    if (ts !== null) line += ' ' + ts;
  }
  return line;
}
