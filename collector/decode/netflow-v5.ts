// NetFlow v5: a 24-byte header and fixed 48-byte records (Cisco's format, no templates).

import { viewOf } from './view.js';
import { ip4String } from './addr.js';
import type { ExportRecord } from './flow-export-record.js';

export const V5_HEADER = 24;
export const V5_RECORD = 48;

/** What one v5 datagram says about its sender, for the caller's sequence tracking. */
export interface V5Header { count: number; seq: number; domain: number }

/**
 * Delivers the records of a v5 datagram buf[off, off+len). Returns the number delivered, or -1
 * when the header is short. h.count is the header's count; fewer records than that fit when
 * the datagram was cut (the caller counts that as malformed).
 */
export function decodeV5(buf: Uint8Array, off: number, len: number, exporter: string, r: ExportRecord, h: V5Header, onRecord: (r: ExportRecord) => void): number {
  if (len < V5_HEADER) return -1;
  const v = viewOf(buf);
  const count = v.getUint16(off + 2);
  const uptime = v.getUint32(off + 4);
  const exportMs = v.getUint32(off + 8) * 1000 + Math.floor(v.getUint32(off + 12) / 1e6);
  h.count = count;
  h.seq = v.getUint32(off + 16);
  h.domain = (buf[off + 20] << 8) | buf[off + 21];
  const sampling = v.getUint16(off + 22) & 0x3fff;
  const n = Math.min(count, Math.floor((len - V5_HEADER) / V5_RECORD));
  let p = off + V5_HEADER;
  for (let i = 0; i < n; i++, p += V5_RECORD) {
    r.version = 5; r.exporter = exporter; r.domain = h.domain; r.ipVersion = 4;
    r.src = ip4String(v.getUint32(p)); r.dst = ip4String(v.getUint32(p + 4));
    r.inIf = v.getUint16(p + 12); r.outIf = v.getUint16(p + 14);
    r.packets = v.getUint32(p + 16); r.bytes = v.getUint32(p + 20);
    // first/last are sysUptime ms; the signed difference survives the 32-bit uptime wrap.
    r.start = exportMs - ((uptime - v.getUint32(p + 24)) | 0);
    r.end = exportMs - ((uptime - v.getUint32(p + 28)) | 0);
    r.sport = v.getUint16(p + 32); r.dport = v.getUint16(p + 34);
    r.tcpFlags = buf[p + 37]; r.proto = buf[p + 38];
    r.packetsRev = 0; r.bytesRev = 0; r.biflow = false; r.tcpFlagsRev = 0;
    r.samplingInterval = sampling > 1 ? sampling : 1;
    r.srcMac = ''; r.dstMac = ''; r.vlan = 0; r.direction = -1;
    if (r.proto === 1) { r.icmpType = r.dport >>> 8; r.icmpCode = r.dport & 255; }
    else { r.icmpType = -1; r.icmpCode = -1; }
    onRecord(r);
  }
  return n;
}
