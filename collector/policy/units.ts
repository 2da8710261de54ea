// Strict parsers for the policy's small value languages: sizes ("500MB") and ports
// ("443/tcp", "3478-3479/udp", "icmp"). They return an error text instead of throwing.

const SIZE_UNITS: Record<string, number> = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
  KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4,
};

const SIZE_EXPECTED = 'expected a size like "500MB", "1GB", "10KiB" or a number of bytes (units B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary)';

/** Bytes of a size: a non-negative integer, or "N[.F][ ]UNIT". Fractions must come to whole bytes. */
export function parseSize(v: unknown): { bytes: number } | { error: string } {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return { bytes: v };
    return { error: `${SIZE_EXPECTED}, got ${v}` };
  }
  if (typeof v !== 'string') return { error: `${SIZE_EXPECTED}, got ${show(v)}` };
  const m = /^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]+)?$/.exec(v);
  if (!m) return { error: `${SIZE_EXPECTED}, got ${show(v)}` };
  const unit = m[2] ?? 'B';
  const mult = SIZE_UNITS[unit];
  if (mult === undefined) {
    const near = Object.keys(SIZE_UNITS).find((u) => u.toLowerCase() === unit.toLowerCase());
    const hint = near ? ` (did you mean "${m[1]}${near}"?)` : '';
    return { error: `${SIZE_EXPECTED}, got unknown unit "${unit}"${hint}` };
  }
  const bytes = Number(m[1]) * mult;
  if (!Number.isSafeInteger(Math.round(bytes)) || Math.abs(bytes - Math.round(bytes)) > 1e-6) {
    return { error: `${SIZE_EXPECTED}, got ${show(v)}, which is not a whole number of bytes` };
  }
  return { bytes: Math.round(bytes) };
}

export type PortProto = 'tcp' | 'udp' | 'sctp' | 'icmp';
export interface PortSpec { proto: PortProto; lo: number; hi: number }

/** IANA protocol numbers of the port protocols. */
export const PROTO_NUM: Record<Exclude<PortProto, 'icmp'>, number> = { tcp: 6, udp: 17, sctp: 132 };

const PORT_EXPECTED = 'expected a port like "443/tcp", a range like "3478-3479/udp" (1-65535, proto tcp, udp or sctp) or "icmp"';

/** A port spec; icmp matches ICMP and ICMPv6 of any type (lo = 0, hi = 65535). */
export function parsePort(v: unknown): PortSpec | { error: string } {
  if (typeof v === 'number') return { error: `${PORT_EXPECTED}, got ${v} (add the protocol, e.g. "${v}/tcp")` };
  if (typeof v !== 'string') return { error: `${PORT_EXPECTED}, got ${show(v)}` };
  if (v === 'icmp' || v === 'icmpv6') return { proto: 'icmp', lo: 0, hi: 65535 };
  const quick = quickPort(v);
  if (quick !== null) return quick;
  const m = /^([0-9]+)(?:-([0-9]+))?\/([a-z]+)$/.exec(v);
  if (!m) {
    const hint = /^[0-9]+(-[0-9]+)?$/.test(v) ? ` (add the protocol, e.g. "${v}/tcp")` : '';
    return { error: `${PORT_EXPECTED}, got ${show(v)}${hint}` };
  }
  const proto = m[3];
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') {
    return { error: `${PORT_EXPECTED}, got protocol "${proto}" in ${show(v)}` };
  }
  if ((m[1].length > 1 && m[1][0] === '0') || (m[2] !== undefined && m[2].length > 1 && m[2][0] === '0')) {
    return { error: `${PORT_EXPECTED}, got a leading zero in ${show(v)}` };
  }
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535) {
    return { error: `${PORT_EXPECTED}, got ${show(v)}: ports run from 1 to 65535` };
  }
  if (lo > hi) return { error: `${PORT_EXPECTED}, got ${show(v)}: the range runs backwards (${lo} > ${hi})` };
  return { proto, lo, hi };
}

/**
 * The common well-formed port ("443/tcp", "3478-3479/udp") without the regular
 * expression (a policy has thousands); null for anything else, which parsePort then reads
 * (and words the error of) the long way.
 */
function quickPort(v: string): PortSpec | null {
  const n = v.length;
  let i = 0;
  let lo = 0;
  for (; i < n; i++) { const c = v.charCodeAt(i); if (c < 48 || c > 57) break; lo = lo * 10 + c - 48; if (lo > 65535) return null; }
  if (i === 0 || (i > 1 && v.charCodeAt(0) === 48) || lo < 1) return null;
  let hi = lo;
  if (v.charCodeAt(i) === 45) {
    const s2 = ++i;
    hi = 0;
    for (; i < n; i++) { const c = v.charCodeAt(i); if (c < 48 || c > 57) break; hi = hi * 10 + c - 48; if (hi > 65535) return null; }
    if (i === s2 || (i - s2 > 1 && v.charCodeAt(s2) === 48) || hi < 1 || lo > hi) return null;
  }
  if (v.charCodeAt(i) !== 47) return null;
  const rest = n - i - 1;
  if (rest === 3 && v.endsWith('tcp')) return { proto: 'tcp', lo, hi };
  if (rest === 3 && v.endsWith('udp')) return { proto: 'udp', lo, hi };
  if (rest === 4 && v.endsWith('sctp')) return { proto: 'sctp', lo, hi };
  return null;
}

/** Short printable form of a value for messages. */
export function show(v: unknown): string {
  let s: string;
  try { s = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
