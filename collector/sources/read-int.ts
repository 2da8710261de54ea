// In-place unsigned integer reads for the capture parsers' hot loops: plain byte arithmetic,
// no bounds checks (callers have checked the record is in the chunk), no allocation.

export function u32(b: Buffer, p: number, le: boolean): number {
  return le
    ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000
    : ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) + b[p] * 0x1000000;
}

export function u16(b: Buffer, p: number, le: boolean): number {
  return le ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1];
}
