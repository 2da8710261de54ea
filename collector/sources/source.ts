// What every packet source offers the pipeline: frames pushed to a callback, in order,
// with no per-frame allocation (the buffer is the source's own chunk, reused).

/**
 * Called once per frame. The frame is buf[offset, offset + caplen); buf is reused after the
 * call returns, so a consumer that keeps bytes must copy them.
 * @param ts ms since epoch (fractional)
 * @param wirelen bytes on the wire (>= caplen)
 * @param linkType LINKTYPE_* of the frame's interface
 */
export type FrameHandler = (buf: Buffer, offset: number, caplen: number, wirelen: number, ts: number, linkType: number) => void;

/**
 * Where a capture-file reader can put each frame's timestamp instead of passing it (ts is then
 * 0). A fractional number passed to a call that is not inlined is boxed, one heap number per
 * frame; stored in an object's number field it is written in place. The decoder's PacketInfo
 * is one: the reader stamps it, the handler decodes into it.
 */
export interface FrameStamp {
  ts: number;
}

export interface SourceStats {
  /** frames delivered */
  packets: number;
  /** bytes captured */
  bytes: number;
  /** frames lost: kernel drops (ps_drop) for live capture, 0 for files */
  drops: number;
  /** interface drops (ps_ifdrop), live capture only */
  ifDrops: number;
}

export interface FrameSource {
  /** "file:NAME", "live:eth0", ... for the collector measurement's source tag. */
  readonly name: string;
  /**
   * Deliver frames until the end of the input (a file) or stop() (live). Resolves when done.
   * A corrupt or truncated file rejects with a CaptureError after every frame before the
   * fault has been delivered.
   */
  run(onFrame: FrameHandler): Promise<void>;
  stop(): void;
  stats(): SourceStats;
}

/** A capture file that cannot be read on: names the byte offset of the fault. */
export class CaptureError extends Error {
  readonly code: string;
  readonly offset: number;
  readonly file: string;
  constructor(file: string, offset: number, code: string, message: string) {
    super(`${file}: byte ${offset}: ${message}`);
    this.name = 'CaptureError';
    this.code = code;
    this.offset = offset;
    this.file = file;
  }
}

/** What a NetFlow/IPFIX source (or any source of finished flows) reports. */
export interface RecordSourceStats {
  /** export datagrams received or read. */
  datagrams: number;
  /** export records decoded. */
  records: number;
  /** datagrams lost on the way in: the receive queue was full. */
  drops: number;
  /** datagrams from exporters outside the allowlist. */
  refused: number;
  /** records dropped by the ifIndex list. */
  filtered: number;
  /** malformed datagrams. */
  malformed: number;
  /** records missing by the exporters' sequence numbers. */
  lost: number;
  /** datagrams waiting between the socket and the decoder. */
  queue: number;
}

/**
 * A source of flow records (NetFlow/IPFIX receivers, captures of export datagrams), beside
 * the frame sources: it hands finished FlowRecords to the pipeline's record entry.
 */
export interface RecordSource {
  /** "netflow:127.0.0.1:2055", "file:NAME", ... for the collector measurement's source tag. */
  readonly name: string;
  /** Deliver records until the end of the input or stop(); resolves when done (held records flushed). */
  run(onRecord: (r: import('../types.js').FlowRecord) => void): Promise<void>;
  stop(): void;
  stats(): RecordSourceStats;
}
