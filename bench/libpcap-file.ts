// A capture-file FrameSource backed by libpcap's offline reader (the optional `pcap` package),
// kept as a reference and benchmark peer for the TypeScript reader in
// collector/sources/pcap-file.ts (bench/readers.ts and its agreement test; not shipped).
// Limits inherited from node-pcap: timestamps in microseconds, frames cut to 65535 bytes, and a
// read error in mid-file ends the session like a clean end of file (libpcap's error is not surfaced).

import { basename } from 'node:path';
import { CaptureError, type FrameHandler, type FrameSource, type SourceStats } from '../collector/sources/source.js';
import { deliverPacket, linkTypeNumber, loadPcap, type PcapPacket, type PcapSessionLike } from '../collector/sources/libpcap.js';

export class LibpcapFileSource implements FrameSource {
  readonly name: string;
  private session: PcapSessionLike | undefined;
  private finish: (() => void) | undefined;
  private stopped = false;
  private readonly counts: SourceStats = { packets: 0, bytes: 0, drops: 0, ifDrops: 0 };

  constructor(readonly path: string) {
    this.name = `file:${basename(path)}`;
  }

  async run(onFrame: FrameHandler): Promise<void> {
    const pcap = await loadPcap();
    let session: PcapSessionLike;
    try {
      session = pcap.createOfflineSession(this.path);
    } catch (e) {
      throw new CaptureError(this.path, 0, 'open', (e as Error).message);
    }
    this.session = session;
    const linkType = linkTypeNumber(session.link_type);
    const c = this.counts;
    await new Promise<void>((resolve) => {
      this.finish = resolve;
      session.on('packet', (p: PcapPacket) => {
        if (this.stopped) return;
        deliverPacket(p, linkType, c, onFrame);
      });
      // node-pcap reads the whole file in one synchronous dispatch loop; closing the handle
      // inside it is unsafe, so stop() only mutes delivery and the handle closes here.
      session.once('complete', () => {
        this.session = undefined;
        try { session.close(); } catch { /* already closed */ }
        this.stop();
      });
    });
  }

  /** Mutes delivery and resolves run(); libpcap's read loop still runs to its end. */
  stop(): void {
    this.stopped = true;
    const f = this.finish;
    this.finish = undefined;
    f?.();
  }

  stats(): SourceStats {
    return { ...this.counts };
  }
}

export function openLibpcapFile(path: string): LibpcapFileSource {
  return new LibpcapFileSource(path);
}
