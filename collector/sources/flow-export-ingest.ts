// What every NetFlow/IPFIX source does with an export datagram, received or read from a
// capture: refuse it when its exporter is not allowed, decode it (one decoder, so templates
// carry over between datagrams and files), drop records of interfaces nobody asked for, and
// join the rest into bidirectional FlowRecords. Counters for the collector's health figures.

import { FlowExportDecoder } from '../decode/flow-export.js';
import type { ExportRecord } from '../decode/flow-export-record.js';
import { RecordJoin, type RecordJoinOptions, type RecordJoinStats } from '../flows/record-join.js';
import type { FlowRecord } from '../types.js';

export interface FlowExportIngestOptions {
  /** exporter addresses allowed to send; absent or empty: any. */
  exporters?: readonly string[];
  /**
   * Per exporter address, the SNMP ifIndexes whose records are kept: a record whose input and
   * output interfaces are both outside the list is dropped (the WAN side, post-NAT repeats).
   * An exporter not listed keeps every record.
   */
  interfaces?: Readonly<Record<string, readonly number[]>>;
  join?: RecordJoinOptions;
  decoder?: ConstructorParameters<typeof FlowExportDecoder>[0];
}

/** The figures a NetFlow/IPFIX source reports; plain numbers. */
export interface FlowExportStats {
  /** export datagrams taken (received, or read from a capture). */
  datagrams: number;
  /** records the decoder delivered. */
  records: number;
  /** datagrams from exporters outside the allowlist: dropped unread. */
  refused: number;
  /** records dropped by the ifIndex list. */
  filtered: number;
  /** datagrams the decoder found malformed. */
  malformed: number;
  /** data records that arrived before their template. */
  noTemplate: number;
  /** records missing by the exporters' sequence numbers. */
  lost: number;
  /** FlowRecords handed on. */
  flows: number;
  join: RecordJoinStats;
}

/** "::ffff:192.0.2.1" (an IPv4 sender on a dual-stack socket) to "192.0.2.1". */
export function exporterAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export class FlowExportIngest {
  private readonly decoder: FlowExportDecoder;
  private readonly join: RecordJoin;
  private readonly allowed: Set<string> | null;
  private readonly keep: Map<string, Set<number>>;
  private refused = 0;
  private filtered = 0;
  private datagrams = 0;
  private flows = 0;
  private now = 0;
  private readonly onExport: (r: ExportRecord) => void;

  constructor(onRecord: (r: FlowRecord) => void, opts: FlowExportIngestOptions = {}) {
    this.decoder = new FlowExportDecoder(opts.decoder);
    this.join = new RecordJoin((r) => { this.flows++; onRecord(r); }, opts.join);
    this.allowed = opts.exporters && opts.exporters.length ? new Set(opts.exporters.map(exporterAddress)) : null;
    this.keep = new Map(Object.entries(opts.interfaces ?? {}).map(([k, v]) => [exporterAddress(k), new Set(v)]));
    const keep = this.keep, join = this.join;
    this.onExport = (r) => {
      if (keep.size) {
        const ifs = keep.get(r.exporter);
        if (ifs && !ifs.has(r.inIf) && !ifs.has(r.outIf)) { this.filtered++; return; }
      }
      join.add(r, this.now);
    };
  }

  /** One export datagram from `exporter` at `now` (ms since epoch: arrival, or capture time). */
  datagram(buf: Uint8Array, off: number, len: number, exporter: string, now: number): void {
    this.datagrams++;
    const from = exporterAddress(exporter);
    if (this.allowed && !this.allowed.has(from)) { this.refused++; return; }
    this.now = now;
    this.decoder.decode(buf, off, len, from, now, this.onExport);
  }

  /** Time moved on: held records whose reverse did not come go out. */
  tick(now: number): void {
    this.join.tick(now);
  }

  /** End of input or shutdown: every held record goes out. */
  flush(): void {
    this.join.flush();
  }

  stats(): FlowExportStats {
    const d = this.decoder.stats();
    return {
      datagrams: this.datagrams, records: d.records, refused: this.refused, filtered: this.filtered,
      malformed: d.malformed, noTemplate: d.noTemplate, lost: d.lostRecords, flows: this.flows, join: this.join.stats(),
    };
  }
}
