// A DataView over the frame buffer being decoded, made once per buffer (the capture readers
// reuse their chunk buffers): a 16- or 32-bit header field is then one bounds-checked load
// instead of two or four byte loads and shifts, which on the hot path is most of the work.
// A read past the buffer throws, so every caller checks its bounds first (the fuzz test holds
// them to it).

let lastBuf: Uint8Array | null = null;
let lastView: DataView = new DataView(new ArrayBuffer(0));

export function viewOf(buf: Uint8Array): DataView {
  if (buf !== lastBuf) {
    lastBuf = buf;
    lastView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return lastView;
}
