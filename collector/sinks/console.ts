// Console sink: a readable table of anomalies for a person at a terminal, one row per
// anomaly in its final state (its closing), sorted by first packet. Rows are kept until
// close() so the columns can be sized to their contents; every Anomaly field is shown
// (the wide ones on a second, indented line) so nothing the JSON carries is hidden.

import type { Writable } from 'node:stream';
import type { Anomaly, AnomalyEvent, Sink } from '../types.js';

const COLUMNS: { title: string; get: (a: Anomaly) => string }[] = [
  { title: 'TIME', get: (a) => a.time },
  { title: 'SEVERITY', get: (a) => a.severity },
  { title: 'KIND', get: (a) => a.kind },
  { title: 'DEVICE', get: (a) => a.device },
  { title: 'MAC', get: (a) => a.mac },
  { title: 'IP', get: (a) => a.ip },
  { title: 'SEGMENT', get: (a) => a.segment },
  { title: 'PROFILE', get: (a) => a.profile },
  { title: 'PEER', get: (a) => (a.peerName ? `${a.peer} (${a.peerName})` : a.peer) },
  { title: 'PORT', get: (a) => (a.peerPort ? `${a.peerPort}/${a.proto}` : a.proto) },
  { title: 'COUNT', get: (a) => String(a.count) },
  { title: 'BYTES', get: (a) => String(a.bytes) },
  { title: 'PKTS', get: (a) => String(a.packets) },
];

export class ConsoleSink implements Sink {
  readonly name = 'console';
  private rows: Anomaly[] = [];
  /** a table of final states */
  readonly anomalyEvents: readonly AnomalyEvent[] = ['closed'];
  constructor(private readonly out: Writable = process.stdout) {}

  anomaly(a: Anomaly, event: AnomalyEvent): void {
    if (event === 'closed') this.rows.push(a);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.rows.length === 0) return;
    this.rows = this.rows.map((a, i) => ({ a, i, t: Date.parse(a.firstSeen) })).sort((x, y) => x.t - y.t || x.i - y.i).map((x) => x.a);
    const cells = this.rows.map((a) => COLUMNS.map((c) => c.get(a)));
    const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
    const out: string[] = [line(COLUMNS.map((c) => c.title))];
    this.rows.forEach((a, i) => {
      out.push(line(cells[i]));
      out.push(`    ${a.message}  [rule: ${a.rule || '-'}; first ${a.firstSeen}, last ${a.lastSeen}; id ${a.id}, ${a.state}${a.closeReason ? ` (${a.closeReason})` : ''}${a.suppressed ? ', suppressed' : ''}]`);
    });
    this.out.write(out.join('\n') + '\n');
    this.rows = [];
  }
}
