// Live capture from a network interface through libpcap (the optional `pcap` package):
// BPF filter, snaplen, kernel buffer, promiscuous mode; kernel/interface drops polled into stats().

import type { FrameHandler, FrameSource, SourceStats } from './source.js';
import { deliverPacket, linkTypeNumber, loadPcap, type PcapPacket, type PcapSessionLike } from './libpcap.js';

export interface LiveOptions {
  /** interface name, e.g. "eth0" ("any" for all, on Linux) */
  iface: string;
  /** BPF filter expression, "" for everything */
  filter?: string;
  /** bytes kept per frame (default 65535, at most 262144) */
  snaplen?: number;
  /** kernel capture buffer, bytes (default 16 MiB) */
  bufferBytes?: number;
  /** promiscuous mode (default true: a mirror port carries other hosts' frames) */
  promiscuous?: boolean;
  /** how long libpcap may hold packets to batch them, ms (default 100; 0 = immediate mode) */
  bufferTimeoutMs?: number;
  /** drop-counter polling period, ms (default 5000) */
  statsIntervalMs?: number;
}

export const CAP_NET_RAW_HELP =
  'capturing needs CAP_NET_RAW: run `sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))` ' +
  'or run segwatch under its systemd unit (AmbientCapabilities=CAP_NET_RAW)';

/** Why a live capture could not start: code is "no_pcap", "no_interface", "permission", "filter" or "open". */
export class LiveCaptureError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'LiveCaptureError';
  }
}

export class PcapLiveSource implements FrameSource {
  readonly name: string;
  private session: PcapSessionLike | undefined;
  private timer: NodeJS.Timeout | undefined;
  private finish: (() => void) | undefined;
  private stopped = false;
  private readonly counts: SourceStats = { packets: 0, bytes: 0, drops: 0, ifDrops: 0 };
  private readonly startedP: Promise<void>;
  private startedResolve!: () => void;
  private startedReject!: (e: Error) => void;

  constructor(private readonly opts: LiveOptions) {
    this.name = `live:${opts.iface}`;
    this.startedP = new Promise<void>((res, rej) => { this.startedResolve = res; this.startedReject = rej; });
    this.startedP.catch(() => {}); // run() reports the same error.
  }

  /** Resolves once the capture is active (packets sent after this are seen); rejects as run() does. */
  started(): Promise<void> {
    return this.startedP;
  }

  async run(onFrame: FrameHandler): Promise<void> {
    try {
      await this.open(onFrame);
    } catch (e) {
      this.startedReject(e as Error);
      throw e;
    }
    this.startedResolve();
    if (this.stopped) { this.close(); return; }
    await new Promise<void>((resolve) => { this.finish = resolve; });
  }

  private async open(onFrame: FrameHandler): Promise<void> {
    const { iface } = this.opts;
    let pcap;
    try {
      pcap = await loadPcap();
    } catch (e) {
      throw new LiveCaptureError('no_pcap', `live capture on ${iface}: ${(e as Error).message}`);
    }
    const devs = pcap.findalldevs().map((d) => d.name);
    if (!devs.includes(iface)) {
      throw new LiveCaptureError('no_interface',
        `live capture: interface "${iface}" does not exist (available: ${devs.join(', ') || 'none visible'})`);
    }
    const snaplen = Math.min(Math.max(this.opts.snaplen ?? 65535, 64), 262144);
    let session: PcapSessionLike;
    try {
      session = pcap.createSession(iface, {
        filter: this.opts.filter ?? '',
        snap_length: snaplen,
        buffer_size: this.opts.bufferBytes ?? 16 << 20,
        promiscuous: this.opts.promiscuous ?? true,
        buffer_timeout: this.opts.bufferTimeoutMs ?? 100,
      });
    } catch (e) {
      throw classifyOpenError(iface, this.opts.filter ?? '', (e as Error).message);
    }
    this.session = session;
    const linkType = linkTypeNumber(session.link_type);
    const c = this.counts;
    session.on('packet', (p: PcapPacket) => {
      deliverPacket(p, linkType, c, onFrame);
    });
    this.timer = setInterval(() => this.pollStats(), this.opts.statsIntervalMs ?? 5000);
    this.timer.unref();
  }

  private pollStats(): void {
    const s = this.session;
    if (!s) return;
    try {
      const st = s.stats();
      this.counts.drops = st.ps_drop;
      this.counts.ifDrops = st.ps_ifdrop;
    } catch {
      // stats() fails only on a closed handle; the counters keep their last values.
    }
  }

  /** Ends the capture; run() resolves. Final drop counters are read first. */
  stop(): void {
    this.stopped = true;
    this.close();
  }

  private close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.session) {
      this.pollStats();
      const s = this.session;
      this.session = undefined;
      try {
        s.close();
        // node-pcap's close() only calls pcap_breakloop(); the handle and its libuv poll (which
        // keeps the process alive) are released by the next dispatch, which would otherwise wait
        // for another packet on the interface. Dispatch once now so the session ends here.
        const inner = (s as unknown as { session?: { dispatch?(b: Buffer, h: Buffer): number }; buf?: Buffer; header?: Buffer });
        if (inner.session?.dispatch && inner.buf && inner.header) inner.session.dispatch(inner.buf, inner.header);
      } catch { /* already closed */ }
    }
    const f = this.finish;
    this.finish = undefined;
    f?.();
  }

  stats(): SourceStats {
    return { ...this.counts };
  }
}

function classifyOpenError(iface: string, filter: string, msg: string): LiveCaptureError {
  if (/permission|not permitted|EPERM/i.test(msg)) {
    return new LiveCaptureError('permission', `live capture on ${iface}: ${msg}; ${CAP_NET_RAW_HELP}`);
  }
  if (/no such device|doesn't exist|does not exist/i.test(msg)) {
    return new LiveCaptureError('no_interface', `live capture: interface "${iface}" does not exist (${msg})`);
  }
  if (filter && /syntax|filter|expression|parse/i.test(msg)) {
    return new LiveCaptureError('filter', `live capture on ${iface}: bad BPF filter "${filter}": ${msg}`);
  }
  return new LiveCaptureError('open', `live capture on ${iface}: ${msg}`);
}

/** A live-capture FrameSource; nothing is opened until run(). */
export function openLive(opts: LiveOptions): PcapLiveSource {
  return new PcapLiveSource(opts);
}
