// A NetFlow v5 export datagram builder for tests (the format is fixed: a 24-byte header and
// 48-byte records), so receivers can be tested with real datagrams on loopback.

export interface V5Flow {
  src: string; dst: string; sport: number; dport: number; proto: number;
  packets: number; bytes: number;
  /** ms since epoch */
  start: number; end: number;
  tcpFlags?: number; inIf?: number; outIf?: number;
}

function ip4(s: string): number {
  return s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

/** One v5 datagram; `now` is the export time (ms), sysUptime is taken as 1 h. */
export function v5Datagram(flows: readonly V5Flow[], opts: { now?: number; sequence?: number; sampling?: number } = {}): Buffer {
  const now = opts.now ?? Date.now();
  const uptime = 3_600_000, boot = now - uptime;
  const b = Buffer.alloc(24 + 48 * flows.length);
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(flows.length, 2);
  b.writeUInt32BE(uptime, 4);
  b.writeUInt32BE(Math.floor(now / 1000), 8);
  b.writeUInt32BE((now % 1000) * 1e6, 12);
  b.writeUInt32BE(opts.sequence ?? 0, 16);
  b.writeUInt16BE(opts.sampling ?? 0, 22);
  flows.forEach((f, i) => {
    const o = 24 + 48 * i;
    b.writeUInt32BE(ip4(f.src), o);
    b.writeUInt32BE(ip4(f.dst), o + 4);
    b.writeUInt16BE(f.inIf ?? 0, o + 12);
    b.writeUInt16BE(f.outIf ?? 0, o + 14);
    b.writeUInt32BE(f.packets, o + 16);
    b.writeUInt32BE(f.bytes, o + 20);
    b.writeUInt32BE(Math.max(0, f.start - boot), o + 24);
    b.writeUInt32BE(Math.max(0, f.end - boot), o + 28);
    b.writeUInt16BE(f.sport, o + 32);
    b.writeUInt16BE(f.dport, o + 34);
    b.writeUInt8(f.tcpFlags ?? 0, o + 37);
    b.writeUInt8(f.proto, o + 38);
  });
  return b;
}
