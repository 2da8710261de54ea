// ICMPv6 neighbour discovery (RFC 4861): the target address and link-layer address options
// that bind a MAC to an IPv6 address, and what a router advertises. Fills a reused NdpInfo.

/** Reused result of decodeNdp(); offsets are absolute in the buffer passed in. */
export class NdpInfo {
  /** offset of the 16-byte target address (NS, NA, redirect), valid when hasTarget. */
  targetOff = 0;
  hasTarget = false;
  /**
   * The link-layer address option that names the sender's or target's MAC, as a 48-bit number,
   * -1 when absent: source LLA (option 1) for RS, RA and NS; target LLA (option 2) for NA and redirect.
   */
  lladdr = -1;
  /** NA flags: router, solicited, override. */
  router = false;
  solicited = false;
  override = false;
  /** RA: router lifetime in seconds (0 = not a default router). */
  routerLifetime = 0;
  /** RA: first prefix information option: offset of its 16-byte prefix and its length in bits; prefixOff -1 when none. */
  prefixOff = -1;
  prefixLength = 0;
  /** RA: MTU option value, 0 when absent. */
  mtu = 0;

  reset(): void {
    this.targetOff = 0; this.hasTarget = false; this.lladdr = -1;
    this.router = false; this.solicited = false; this.override = false;
    this.routerLifetime = 0; this.prefixOff = -1; this.prefixLength = 0; this.mtu = 0;
  }
}

export const ND_ROUTER_SOLICIT = 133;
export const ND_ROUTER_ADVERT = 134;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const ND_REDIRECT = 137;

/**
 * Neighbour discovery body at buf[off, off + len): the bytes after the 8-byte ICMPv6 header
 * (PacketInfo.payloadOffset/payloadLength). icmpType 133..137. Returns false for other types and
 * for malformed bodies (short fixed part, an option of length 0 or past the end); out is reset either way.
 * Allocates nothing.
 */
export function decodeNdp(buf: Uint8Array, off: number, len: number, icmpType: number, out: NdpInfo): boolean {
  out.reset();
  if (!(off >= 0 && len >= 0)) return false;
  let end = off + len;
  if (end > buf.length) end = buf.length;
  let opt: number;
  // The 4 bytes after type/code/checksum are inside the 8-byte header the caller skipped.
  const h = off - 4;
  switch (icmpType) {
    case ND_ROUTER_SOLICIT: opt = off; break;
    case ND_ROUTER_ADVERT:
      if (off + 8 > end || h < 0) return false;
      out.routerLifetime = (buf[h + 2] << 8) | buf[h + 3];
      opt = off + 8;
      break;
    case ND_NEIGHBOR_SOLICIT:
    case ND_NEIGHBOR_ADVERT:
      if (off + 16 > end) return false;
      out.targetOff = off; out.hasTarget = true;
      if (icmpType === ND_NEIGHBOR_ADVERT && h >= 0) {
        const f = buf[h];
        out.router = (f & 0x80) !== 0; out.solicited = (f & 0x40) !== 0; out.override = (f & 0x20) !== 0;
      }
      opt = off + 16;
      break;
    case ND_REDIRECT:
      if (off + 32 > end) return false;
      out.targetOff = off; out.hasTarget = true;
      opt = off + 32;
      break;
    default: return false;
  }
  const want = icmpType === ND_NEIGHBOR_ADVERT || icmpType === ND_REDIRECT ? 2 : 1;
  // Every option is at least 8 bytes, so this ends within len / 8 steps.
  while (opt + 2 <= end) {
    const type = buf[opt];
    const olen = buf[opt + 1] << 3;
    if (olen === 0 || opt + olen > end) return false;
    if (type === want && olen >= 8) {
      out.lladdr = ((buf[opt + 2] << 8) | buf[opt + 3]) * 4294967296
        + (((buf[opt + 4] << 24) | (buf[opt + 5] << 16) | (buf[opt + 6] << 8) | buf[opt + 7]) >>> 0);
    } else if (type === 3 && olen === 32 && out.prefixOff < 0) {
      out.prefixLength = buf[opt + 2];
      out.prefixOff = opt + 16;
    } else if (type === 5 && olen === 8) {
      out.mtu = ((buf[opt + 4] << 24) | (buf[opt + 5] << 16) | (buf[opt + 6] << 8) | buf[opt + 7]) >>> 0;
    }
    opt += olen;
  }
  return true;
}
