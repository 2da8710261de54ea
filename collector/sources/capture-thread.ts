// Worker-thread entry of the threaded live capture: libpcap (node-pcap's native binding, loaded
// in this thread only) reads the interface, and every frame is copied as captured into the
// shared packet ring (its raw-frame form), published once per libpcap dispatch (a batch), never
// per packet. The binding's once-per-packet call into JavaScript and the kernel's side stay off
// the thread that decodes and runs flows, policy and the sinks (bench/live-callback.ts has the
// figures). Frames cross whole, not decoded: `run` reads ARP, DNS, mDNS, DHCP, ND and TCP
// payloads that the decoded record (made for `flows`) does not carry. A full
// ring is never waited for: the kernel's buffer would fill meanwhile and drop blindly, so the
// packet is dropped here and counted (ring drops), apart from the kernel's own.
//
// The binding is driven directly, not through node-pcap's wrapper: the wrapper's libuv poll is
// never closed and a worker ending with it aborts the process (see loadPcapBinding). The handle
// is non-blocking; when a dispatch finds nothing the thread sleeps a few ms (Atomics.wait), and
// the kernel (TPACKET_V3) hands packets over in blocks retired at the read timeout anyway.

import { parentPort, workerData } from 'node:worker_threads';
import { RingWriter } from './packet-ring.js';
import { linkTypeNumber, loadPcapBinding, type PcapBindingSession } from './libpcap.js';
import {
  classifyOpenError, LiveCaptureError, sessionOptions, S_BYTES, S_IFACE, S_KERNEL, S_PACKETS, S_RECV, S_RING, S_STOP,
  type CaptureThreadData, type CaptureThreadMessage, type LiveOptions,
} from './pcap-live.js';

/**
 * Sleep when a dispatch found nothing, ms: from 1, doubling while nothing comes, up to 16 (well
 * under the 100 ms read timeout, after which the kernel hands over a part-filled block anyway),
 * so a quiet link costs about 60 wake-ups a second and a busy one never sleeps.
 */
const IDLE_MIN_MS = 1, IDLE_MAX_MS = 16;

function main(): void {
  const { opts, mem, stats, control } = workerData as CaptureThreadData;
  const port = parentPort!;
  const st = new Float64Array(stats);
  const ctl = new Int32Array(control);
  const ring = new RingWriter(mem);
  let packets = 0, bytes = 0, ringDrops = 0;
  let buf!: Buffer;
  const header = Buffer.alloc(16);
  let linkType = -1;
  const onPacket = () => {
    const h = header;
    // struct pcap_pkthdr in host byte order (node-pcap builds for little-endian hosts)
    const sec = h.readUInt32LE(0), usec = h.readUInt32LE(4), wirelen = h.readUInt32LE(12);
    let caplen = h.readUInt32LE(8);
    if (caplen > buf.length) caplen = buf.length;
    packets++;
    bytes += caplen;
    if (!ring.tryWriteFrame(buf, caplen, wirelen, sec * 1000 + usec / 1000, linkType)) ringDrops++;
  };

  let session: PcapBindingSession;
  try {
    const so = sessionOptions(opts);
    buf = Buffer.alloc(so.snap_length);
    ({ session, linkType } = openSession(opts, onPacket));
  } catch (e) {
    const err = e as LiveCaptureError;
    port.postMessage({ type: 'error', code: err.code ?? 'open', message: err.message } satisfies CaptureThreadMessage);
    ring.end();
    return;
  }
  const pollStats = () => {
    try {
      const s = session.stats();
      st[S_KERNEL] = s.ps_drop; st[S_IFACE] = s.ps_ifdrop; st[S_RECV] = s.ps_recv;
    } catch { /* a closed handle: the last values stay */ }
  };
  port.postMessage({ type: 'started', linkType } satisfies CaptureThreadMessage);

  const statsEvery = Math.max(50, opts.statsIntervalMs ?? 1000);
  let nextStats = Date.now() + statsEvery;
  // Bounded by the stop flag the main thread sets (stop()), checked after every dispatch.
  let n = 0, idle = IDLE_MIN_MS;
  while (Atomics.load(ctl, S_STOP) === 0) {
    n = session.dispatch(buf, header);
    ring.publish();
    st[S_PACKETS] = packets; st[S_BYTES] = bytes; st[S_RING] = ringDrops;
    if (n < 0) break; // libpcap failed (the interface went away): nothing more will come
    const now = Date.now();
    if (now >= nextStats) { pollStats(); nextStats = now + statsEvery; }
    if (n > 0) { idle = IDLE_MIN_MS; continue; }
    Atomics.wait(ctl, S_STOP, 0, idle);
    if (idle < IDLE_MAX_MS) idle *= 2;
  }
  pollStats();
  if (n === -1) {
    port.postMessage({ type: 'error', code: 'read', message: `live capture on ${opts.iface}: libpcap stopped reading (the interface went down or away?)` } satisfies CaptureThreadMessage);
  }
  // -2: libpcap closed the handle itself (FinalizeClose); a dispatch on it now would crash
  if (n !== -2) {
    try {
      // close() breaks libpcap's loop; the next dispatch sees that and closes the handle
      session.close();
      session.dispatch(buf, header);
    } catch { /* already closed */ }
  }
  ring.end();
  port.postMessage({ type: 'ended' } satisfies CaptureThreadMessage);
}

function openSession(opts: LiveOptions, onPacket: () => void): { session: PcapBindingSession; linkType: number } {
  const { iface } = opts;
  let binding;
  try {
    binding = loadPcapBinding();
  } catch (e) {
    throw new LiveCaptureError('no_pcap', `live capture on ${iface}: ${(e as Error).message}`);
  }
  let devs: string[] = [];
  try { devs = binding.findalldevs().map((d) => d.name); } catch { /* none visible: said below */ }
  if (!devs.includes(iface)) {
    throw new LiveCaptureError('no_interface',
      `live capture: interface "${iface}" does not exist (available: ${devs.join(', ') || 'none visible'})`);
  }
  const so = sessionOptions(opts);
  const session = new binding.PcapSession();
  try {
    // libpcap's warnings (no IPv4 address on the interface) are not errors for us
    const name = session.open_live(iface, so.filter, so.buffer_size, so.snap_length, '', onPacket, false, so.buffer_timeout, () => {}, so.promiscuous);
    return { session, linkType: linkTypeNumber(name) };
  } catch (e) {
    throw classifyOpenError(iface, so.filter, (e as Error).message);
  }
}

main();
