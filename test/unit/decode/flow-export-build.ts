// Test-only builders of NetFlow v5/v9 and IPFIX datagrams, byte by byte as the RFCs draw them.

export type FieldSpec = [ie: number, len: number, pen?: number];

function u16(n: number): number[] { return [(n >>> 8) & 255, n & 255]; }
function u32(n: number): number[] { return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]; }
export function uintBytes(n: number, len: number): number[] {
  const out: number[] = [];
  for (let i = len - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) % 256);
  return out;
}
export function ip4(s: string): number[] { return s.split('.').map(Number); }

export function set(id: number, body: number[], pad = 0): number[] {
  return [...u16(id), ...u16(4 + body.length + pad), ...body, ...new Array(pad).fill(0)];
}

/** One template record (v9 or IPFIX; a pen sets the enterprise bit). */
export function template(id: number, fields: FieldSpec[]): number[] {
  const out = [...u16(id), ...u16(fields.length)];
  for (const [ie, len, pen] of fields) {
    out.push(...u16(pen !== undefined ? ie | 0x8000 : ie), ...u16(len));
    if (pen !== undefined) out.push(...u32(pen));
  }
  return out;
}

/** One IPFIX options template record. */
export function ipfixOptionsTemplate(id: number, scopeCount: number, fields: FieldSpec[]): number[] {
  const t = template(id, fields);
  return [...t.slice(0, 4), ...u16(scopeCount), ...t.slice(4)];
}

/** One v9 options template record: scope fields (type 1 System, 2 Interface, ...) then options. */
export function v9OptionsTemplate(id: number, scope: FieldSpec[], fields: FieldSpec[]): number[] {
  const enc = (fs: FieldSpec[]) => fs.flatMap(([ie, len]) => [...u16(ie), ...u16(len)]);
  return [...u16(id), ...u16(scope.length * 4), ...u16(fields.length * 4), ...enc(scope), ...enc(fields)];
}

export function ipfix(domain: number, seq: number, exportSec: number, sets: number[][]): Buffer {
  const body = sets.flat();
  return Buffer.from([...u16(10), ...u16(16 + body.length), ...u32(exportSec), ...u32(seq), ...u32(domain), ...body]);
}

export function v9(sourceId: number, seq: number, uptime: number, unixSecs: number, sets: number[][]): Buffer {
  return Buffer.from([...u16(9), ...u16(sets.length), ...u32(uptime), ...u32(unixSecs), ...u32(seq), ...u32(sourceId), ...sets.flat()]);
}

export interface V5Rec { src: string; dst: string; sport: number; dport: number; proto: number; packets: number; bytes: number; first: number; last: number; flags?: number; inIf?: number; outIf?: number }

export function v5(h: { count?: number; uptime: number; secs: number; nsecs: number; seq: number; engineType: number; engineId: number; sampling: number }, recs: V5Rec[]): Buffer {
  const out = [...u16(5), ...u16(h.count ?? recs.length), ...u32(h.uptime), ...u32(h.secs), ...u32(h.nsecs), ...u32(h.seq), h.engineType, h.engineId, ...u16(h.sampling)];
  for (const r of recs) {
    out.push(...ip4(r.src), ...ip4(r.dst), 0, 0, 0, 0, ...u16(r.inIf ?? 0), ...u16(r.outIf ?? 0), ...u32(r.packets), ...u32(r.bytes),
      ...u32(r.first), ...u32(r.last), ...u16(r.sport), ...u16(r.dport), 0, r.flags ?? 0, r.proto, 0, 0, 0, 0, 0, 24, 24, 0, 0);
  }
  return Buffer.from(out);
}

export { u16, u32 };
