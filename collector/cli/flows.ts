// `segwatch flows CAPTURE`: the flow records of a capture, as a table or JSON lines.

import { availableParallelism } from 'node:os';
import type { FlowRecord } from '../types.js';
import { parseCommand, helpText, oneOf, type CommandSpec } from './args.js';
import { runCapture, runExportCaptures, exportCaptureSummary } from './capture.js';
import { DecodeThread } from '../sources/threaded-file.js';
import { tableLines } from './table.js';
import { writeLines } from './output.js';
import { FlowJsonLines } from './flow-json.js';

export const flowsSpec: CommandSpec = {
  name: 'flows',
  usage: 'segwatch flows CAPTURE [--format table|jsonl] [--out FILE] [--threads 1|2]\n       segwatch flows --netflow-capture CAPTURE... [--format table|jsonl] [--out FILE]',
  summary: 'Print the bidirectional flow records of a pcap or pcapng file (src = initiator; bytes are IP lengths).',
  flags: {
    format: { type: 'string', arg: 'table|jsonl', default: 'table', env: 'SEGWATCH_FORMAT', help: 'output format' },
    out: { type: 'string', arg: 'FILE', env: 'SEGWATCH_OUT', help: 'write to FILE instead of stdout' },
    'active-timeout': { type: 'string', arg: 'SECONDS', default: '1800', help: 'emit an interim record for flows open longer than this' },
    'netflow-capture': {
      type: 'boolean',
      help: 'the CAPTURE files hold NetFlow/IPFIX export datagrams: each UDP datagram is decoded as if received (from its source address, at its capture time); several files go through one decoder in the order given (a template file, then a data file); packets that are not UDP are counted and skipped',
    },
    threads: {
      type: 'string', arg: '1|2', default: availableParallelism() > 1 ? '2' : '1',
      help: '2: read and decode on a second thread while this one counts flows (same output); 1: one thread',
    },
  },
};

export async function flowsCommand(argv: string[]): Promise<number> {
  const a = parseCommand(flowsSpec, argv);
  if (a.help) { process.stdout.write(helpText(flowsSpec) + '\n'); return 0; }
  const format = oneOf(a.values.format, ['table', 'jsonl'] as const, 'format');
  const file = a.positionals[0];
  if (!file) { process.stderr.write(helpText(flowsSpec) + '\n'); return 2; }
  if (a.values['netflow-capture']) return exportFlows(a.positionals, format, a.values.out as string | undefined);
  const activeTimeoutMs = Number(a.values['active-timeout']) * 1000;
  const threads = oneOf(a.values.threads, ['1', '2'] as const, 'threads');
  const out = writeLines(a.values.out as string | undefined);
  const table: FlowRecord[] = [];
  const json = new FlowJsonLines((b) => out.chunk(b));

  // The decode thread starts first: its start-up overlaps loading the pipeline's modules here.
  const decodeThread = threads === '2' ? new DecodeThread(file) : undefined;
  let pipeline: import('../pipeline.js').Pipeline;
  try {
    const { Pipeline } = await import('../pipeline.js');
    pipeline = new Pipeline({
      inventory: false,
      flows: Number.isFinite(activeTimeoutMs) && activeTimeoutMs > 0 ? { activeTimeoutMs } : {},
      onFlow: format === 'jsonl' ? (r) => json.write(r) : (r) => table.push(r),
    });
  } catch (err) {
    await decodeThread?.cancel();
    throw err;
  }
  const run = await runCapture(file, pipeline, { decodeThread });
  if (format === 'table') printTable(out, table);
  json.end();
  await out.close();
  if (run.error) { process.stderr.write(`segwatch flows: ${run.error.message}\n`); return 1; }
  return 0;
}

/** `--netflow-capture`: the flows the export datagrams of the files describe. */
async function exportFlows(files: string[], format: 'table' | 'jsonl', outFile: string | undefined): Promise<number> {
  const out = writeLines(outFile);
  const table: FlowRecord[] = [];
  const json = new FlowJsonLines((b) => out.chunk(b));
  const { Pipeline } = await import('../pipeline.js');
  const pipeline = new Pipeline({ inventory: false, onFlow: format === 'jsonl' ? (r) => json.write(r) : (r) => table.push(r) });
  const run = await runExportCaptures(files, pipeline);
  if (format === 'table') printTable(out, table);
  json.end();
  await out.close();
  process.stderr.write(`segwatch flows: ${exportCaptureSummary(run.source)}\n`);
  if (run.error) { process.stderr.write(`segwatch flows: ${run.error.message}\n`); return 1; }
  return 0;
}

function printTable(out: ReturnType<typeof writeLines>, table: FlowRecord[]): void {
  table.sort((x, y) => x.start - y.start || x.id - y.id);
  tableLines(
    ['START', 'PROTO', 'SOURCE', 'DESTINATION', 'PKTS', 'BYTES', 'PKTS<-', 'BYTES<-', 'VLAN', 'NAME'],
    table,
    (r) => [new Date(r.start).toISOString(), String(r.proto), endpoint(r.src, r.sport), endpoint(r.dst, r.dport),
      String(r.packets), String(r.bytes), String(r.packetsRev), String(r.bytesRev), r.vlan ? String(r.vlan) : '', r.serverName ?? ''],
    (s) => out.line(s),
  );
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
