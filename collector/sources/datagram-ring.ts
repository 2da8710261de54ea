// A single-producer single-consumer ring of UDP datagrams in shared memory: the receiving
// thread copies each datagram in with its sender's address, the main thread decodes them in
// place. The ring is the receiver's bounded queue: a datagram that does not fit is dropped and
// counted, never waited for (a socket not drained loses datagrams in the kernel instead, where
// nobody counts them). Positions wrap at the ring's end (a -1 length marks the jump).

/**
 * Ring bytes by default: a router flushing its flow cache sends a burst far faster than flows
 * can be judged (about 250k records/s here), and the burst must wait here. 64 MiB holds half a
 * second of 2M records/s: 1M IPFIX records (46 MB with the datagrams' headers); 32 MiB lost a
 * sixth of that burst in the bench. Pages are only resident once a burst has used them.
 */
export const DATAGRAM_RING_BYTES = 64 << 20;

const C_WRITE = 0;
const C_READ = 1;
const C_CONSUMER_WAITING = 2;
/** datagrams the producer took from the socket (in the ring or dropped). */
const C_RECEIVED = 3;
/** datagrams dropped because the ring was full. */
const C_DROPPED = 4;
const CTRL_WORDS = 8;

// record: int32 record bytes (multiple of 8; -1 = wrap), uint16 datagram bytes, uint8 address
// bytes (latin1 text), uint8 unused, then the address, then the datagram
const HEADER = 8;
/** the largest UDP payload */
const MAX_DATAGRAM = 65535;
const MAX_ADDR = 64;

export interface DatagramRingMemory {
  data: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
}

export function datagramRingMemory(bytes = DATAGRAM_RING_BYTES): DatagramRingMemory {
  // room for at least two of the largest records, so a wrap can always succeed once drained
  const size = (Math.max(2 * (HEADER + MAX_ADDR + MAX_DATAGRAM + 8), bytes) + 7) & ~7;
  return { data: new SharedArrayBuffer(size), ctrl: new SharedArrayBuffer(CTRL_WORDS * 4) };
}

interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: unknown };
}

abstract class End {
  protected readonly i32: Int32Array;
  protected readonly bytes: Buffer;
  protected readonly ctrl: Int32Array;
  protected readonly size: number;
  constructor(mem: DatagramRingMemory) {
    this.i32 = new Int32Array(mem.data);
    this.bytes = Buffer.from(mem.data);
    this.ctrl = new Int32Array(mem.ctrl);
    this.size = mem.data.byteLength;
  }
  /** datagrams taken from the socket so far. */
  get received(): number { return Atomics.load(this.ctrl, C_RECEIVED); }
  /** datagrams dropped because the ring was full. */
  get dropped(): number { return Atomics.load(this.ctrl, C_DROPPED); }
  /** bytes waiting in the ring. */
  queued(): number {
    const w = Atomics.load(this.ctrl, C_WRITE), r = Atomics.load(this.ctrl, C_READ);
    return w >= r ? w - r : this.size - r + w;
  }
}

export class DatagramRingWriter extends End {
  private w = 0;
  private r = 0;
  private recv = 0;
  private drop = 0;
  // one exporter sends most datagrams: its address bytes are made once, not encoded per datagram
  private lastAddr = '';
  private lastAddrBytes: Uint8Array = new Uint8Array(0);

  /** Copy one datagram in; false (and counted) when the ring is full. Never waits. */
  write(msg: Uint8Array, address: string): boolean {
    Atomics.store(this.ctrl, C_RECEIVED, ++this.recv);
    if (address !== this.lastAddr) {
      this.lastAddr = address;
      this.lastAddrBytes = Buffer.from(address.length <= MAX_ADDR ? address : address.slice(0, MAX_ADDR), 'latin1');
    }
    const alen = this.lastAddrBytes.length;
    const dlen = msg.length < MAX_DATAGRAM ? msg.length : MAX_DATAGRAM;
    const len = (HEADER + alen + dlen + 7) & ~7;
    if (!this.reserve(len)) {
      Atomics.store(this.ctrl, C_DROPPED, ++this.drop);
      return false;
    }
    const w = this.w, i = w >> 2;
    this.i32[i] = len;
    this.i32[i + 1] = dlen | (alen << 16);
    this.bytes.set(this.lastAddrBytes, w + HEADER);
    this.bytes.set(dlen === msg.length ? msg : msg.subarray(0, dlen), w + HEADER + alen);
    this.w = w + len;
    Atomics.store(this.ctrl, C_WRITE, this.w);
    // one wake-up per wait: the flag is taken back here, so the datagrams that follow before the
    // reader runs do not each pay for a notify (it posts a task to the reader's thread)
    if (Atomics.load(this.ctrl, C_CONSUMER_WAITING) !== 0 && Atomics.compareExchange(this.ctrl, C_CONSUMER_WAITING, 1, 0) === 1) {
      Atomics.notify(this.ctrl, C_WRITE);
    }
    return true;
  }

  private reserve(len: number): boolean {
    if (this.w + len + 8 > this.size) {
      // never straddle the end: jump to the start once the reader has left it (and is not at
      // 0 itself, which would read as empty)
      this.r = Atomics.load(this.ctrl, C_READ);
      if (!(this.r <= this.w && this.r > len)) return false;
      this.i32[this.w >> 2] = -1;
      this.w = 0;
      Atomics.store(this.ctrl, C_WRITE, 0);
    }
    // the writer must not catch up with the reader from behind (w === r means empty); a stale
    // reader position shows less room than there is, never more: reloaded only then
    if (this.r <= this.w || this.w + len < this.r) return true;
    this.r = Atomics.load(this.ctrl, C_READ);
    return this.r <= this.w || this.w + len < this.r;
  }
}

/** Called per datagram: buf[off, off + len) is only valid during the call. */
export type DatagramHandler = (buf: Buffer, off: number, len: number, address: string) => void;

export class DatagramRingReader extends End {
  private r = 0;
  private lastAddr = '';
  private lastAddrBytes = Buffer.alloc(MAX_ADDR);
  private lastAddrLen = -1;

  /** Hand at most `max` waiting datagrams to fn; returns how many. */
  drain(fn: DatagramHandler, max = 1 << 30): number {
    const w = Atomics.load(this.ctrl, C_WRITE);
    let r = this.r, n = 0;
    const i32 = this.i32, b = this.bytes;
    while (r !== w && n < max) {
      const len = i32[r >> 2];
      if (len === -1) { r = 0; continue; }
      const lens = i32[(r >> 2) + 1];
      const dlen = lens & 0xffff, alen = lens >>> 16;
      const ao = r + HEADER;
      // one exporter sends most datagrams: its address text is made once, not per datagram
      if (alen !== this.lastAddrLen || b.compare(this.lastAddrBytes, 0, alen, ao, ao + alen) !== 0) {
        this.lastAddr = b.toString('latin1', ao, ao + alen);
        b.copy(this.lastAddrBytes, 0, ao, ao + alen);
        this.lastAddrLen = alen;
      }
      fn(b, ao + alen, dlen, this.lastAddr);
      r += len;
      n++;
      if ((n & 63) === 0) this.release(r);
    }
    this.release(r);
    return n;
  }

  /** Resolves when datagrams may be waiting, or after timeoutMs. */
  async waitForData(timeoutMs: number): Promise<void> {
    Atomics.store(this.ctrl, C_CONSUMER_WAITING, 1);
    if (Atomics.load(this.ctrl, C_WRITE) === this.r) {
      const res = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.ctrl, C_WRITE, this.r, timeoutMs);
      if (res.async) await res.value;
    }
    Atomics.store(this.ctrl, C_CONSUMER_WAITING, 0);
  }

  private release(r: number): void {
    this.r = r;
    Atomics.store(this.ctrl, C_READ, r);
  }
}
