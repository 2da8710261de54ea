// Captures of NetFlow/IPFIX export datagrams (`--netflow-capture`): every UDP datagram of the
// files is read as an export datagram from its IP source address, at its capture time, as if
// received. Several files go through one decoder in the order given, so a file of data records
// can follow the file that holds their templates. Packets that are not UDP are counted and
// skipped; UDP datagrams that are not export datagrams are the decoder's malformed ones.

import { basename } from 'node:path';
import { openCapture } from './pcap-file.js';
import { decodeFrame } from '../decode/frame.js';
import { PacketInfo, L3 } from '../decode/packet.js';
import { ip4String, ip6String } from '../decode/addr.js';
import type { FlowRecord } from '../types.js';
import type { RecordSource, RecordSourceStats } from './source.js';
import { FlowExportIngest, type FlowExportIngestOptions, type FlowExportStats } from './flow-export-ingest.js';

export class FlowExportCaptureSource implements RecordSource {
  readonly name: string;
  private ingest: FlowExportIngest | null = null;
  private stopped = false;
  private current: ReturnType<typeof openCapture> | null = null;
  /** frames that were not UDP (or later fragments of one): skipped. */
  skipped = 0;

  constructor(readonly paths: readonly string[], private readonly opts: FlowExportIngestOptions = {}) {
    this.name = `file:${paths.map((p) => basename(p)).join(',')}`;
  }

  /** Rejects with the capture's error (after every datagram before it) like a frame source. */
  async run(onRecord: (r: FlowRecord) => void): Promise<void> {
    const ingest = this.ingest = new FlowExportIngest(onRecord, this.opts);
    const p = new PacketInfo();
    let nextTick = 0;
    try {
      for (const path of this.paths) {
        if (this.stopped) break;
        const src = this.current = openCapture(path);
        await src.run((buf, off, caplen, wirelen, ts, linkType) => {
          decodeFrame(buf, off, caplen, wirelen, ts, linkType, p);
          if ((p.l3 !== L3.IPv4 && p.l3 !== L3.IPv6) || p.proto !== 17 || !p.hasL4 || p.fragOffset !== 0 || p.payloadLength <= 0) {
            this.skipped++;
            return;
          }
          const from = p.l3 === L3.IPv4 ? ip4String(p.src4) : ip6String(p.buf, p.srcOff);
          ingest.datagram(p.buf, p.payloadOffset, p.payloadLength, from, ts);
          if (ts >= nextTick) { ingest.tick(ts); nextTick = ts + 1000; }
        });
      }
    } finally {
      ingest.flush();
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.stop();
  }

  stats(): RecordSourceStats {
    const s = this.ingest?.stats();
    return {
      datagrams: s?.datagrams ?? 0, records: s?.records ?? 0, drops: 0, refused: s?.refused ?? 0,
      filtered: s?.filtered ?? 0, malformed: s?.malformed ?? 0, lost: s?.lost ?? 0, queue: 0,
    };
  }

  detail(): FlowExportStats | null {
    return this.ingest?.stats() ?? null;
  }
}
