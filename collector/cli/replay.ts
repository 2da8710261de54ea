// `segwatch replay CAPTURE --policy FILE`: a capture through the whole pipeline; anomalies on
// stdout (table or JSON lines) or --out, optionally to InfluxDB; a summary on stderr.

import { assemble } from '../assemble.js';
import { loadPolicyFile, formatPolicyError } from '../policy/load.js';
import { defaultPolicyCacheDir } from '../policy/cache.js';
import { parseCommand, helpText, oneOf, type CommandSpec } from './args.js';
import { runCapture, runExportCaptures, exportCaptureSummary } from './capture.js';
import { availableParallelism } from 'node:os';
import { FlowThread } from '../sources/flow-thread.js';

export const replaySpec: CommandSpec = {
  name: 'replay',
  usage: 'segwatch replay CAPTURE --policy FILE [--format table|jsonl] [--out FILE] [--influx URL] [--state-dir DIR]\n       segwatch replay --netflow-capture CAPTURE... --policy FILE [...]',
  summary: 'Run a pcap or pcapng file through the whole pipeline and report the anomalies it shows.',
  flags: {
    policy: { type: 'string', arg: 'FILE', env: 'SEGWATCH_POLICY', help: 'the site policy (YAML)' },
    format: { type: 'string', arg: 'table|jsonl', default: 'table', env: 'SEGWATCH_FORMAT', help: 'anomaly output format' },
    out: { type: 'string', arg: 'FILE', env: 'SEGWATCH_OUT', help: 'append anomalies (JSON lines) to FILE instead of stdout' },
    influx: { type: 'string', arg: 'URL', env: 'SEGWATCH_INFLUX_URL', help: 'also write to InfluxDB, e.g. http://127.0.0.1:8086/segwatch' },
    'spool-dir': { type: 'string', arg: 'DIR', env: 'SEGWATCH_SPOOL_DIR', help: 'where points wait while InfluxDB is unreachable' },
    'state-dir': { type: 'string', arg: 'DIR', env: 'SEGWATCH_STATE_DIR', help: 'resume devices and open anomalies from DIR, and keep them there (default: none)' },
    quiet: { type: 'boolean', short: 'q', help: 'no summary on stderr' },
    threads: {
      type: 'string', arg: '1|2', default: availableParallelism() > 1 ? '2' : '1',
      help: '2: read, decode and count flows on a second thread while this one runs the inventory, detectors and sinks (same output); 1: one thread',
    },
    'netflow-capture': {
      type: 'boolean',
      help: 'the CAPTURE files hold NetFlow/IPFIX export datagrams, judged as if received (capture time is record arrival time); several files go through one decoder in order (a template file, then a data file); packets that are not UDP are counted and skipped',
    },
  },
};

export async function replayCommand(argv: string[]): Promise<number> {
  const a = parseCommand(replaySpec, argv);
  if (a.help) { process.stdout.write(helpText(replaySpec) + '\n'); return 0; }
  const file = a.positionals[0];
  const policyFile = a.values.policy as string | undefined;
  if (!file || !policyFile) {
    process.stderr.write(`segwatch replay: ${!file ? 'a CAPTURE file' : '--policy FILE'} is required\n\n${helpText(replaySpec)}\n`);
    return 2;
  }
  const format = oneOf(a.values.format, ['table', 'jsonl'] as const, 'format');
  const threads = oneOf(a.values.threads, ['1', '2'] as const, 'threads');
  // The flow thread starts first: its start-up overlaps loading the policy and the pipeline here.
  const flowThread = threads === '2' && !a.values['netflow-capture'] ? new FlowThread(file) : undefined;
  try {
    return await replayWith(a, file, policyFile, format, flowThread);
  } finally {
    // run() consumed it, unless the command ended before (a refused policy, no sink)
    await flowThread?.cancel();
  }
}

async function replayWith(a: ReturnType<typeof parseCommand>, file: string, policyFile: string, format: 'table' | 'jsonl', flowThread: FlowThread | undefined): Promise<number> {
  // a state directory in use keeps the policy cache too; else the user's cache directory
  const loaded = await loadPolicyFile(policyFile, { cacheDir: defaultPolicyCacheDir(process.env, a.values['state-dir'] as string | undefined) });
  if (!loaded.policy) {
    for (const e of loaded.errors) process.stderr.write(formatPolicyError(e) + '\n');
    return 2;
  }
  const policy = loaded.policy;

  const assembled = await assemble({
    mode: 'replay',
    policy: () => policy,
    out: a.values.out as string | undefined,
    format,
    influx: a.values.influx ? { url: a.values.influx as string, spoolDir: a.values['spool-dir'] as string | undefined } : undefined,
    sourceName: `file:${a.positionals.map((f) => f.split('/').pop()).join(',')}`,
    stateDir: a.values['state-dir'] as string | undefined,
  }).catch((err: Error) => ({ error: err }));
  if ('error' in assembled) { process.stderr.write(`segwatch replay: ${assembled.error.message}\n`); return 1; }
  const { pipeline } = assembled;
  const exported = a.values['netflow-capture'] ? await runExportCaptures(a.positionals, pipeline) : null;
  const run = exported ?? await runCapture(file, pipeline, { flowThread });
  await pipeline.close();
  if (exported && !a.values.quiet) process.stderr.write(`segwatch replay: ${exportCaptureSummary(exported.source)}\n`);

  if (!a.values.quiet) {
    const c = pipeline.counters;
    const kinds = Object.keys(c.anomaliesByKind).sort().map((k) => `${k}=${c.anomaliesByKind[k]}`).join(' ');
    const errs = Object.entries(pipeline.decodeErrorsByReason()).map(([k, v]) => `${k}=${v}`).join(' ');
    const pps = run.ms > 0 ? Math.round(c.packets / (run.ms / 1000)) : 0;
    process.stderr.write(
      `segwatch replay: ${c.packets} packets, ${exported ? `${c.records} flow records, ` : ''}${c.flows} flows, ${pipeline.inventory.devices().length} devices, ` +
      `${c.anomalies} anomalies${kinds ? ` (${kinds})` : ''}, ${c.decodeErrors} decode errors${errs ? ` (${errs})` : ''}, ` +
      (c.stageErrors ? `${c.stageErrors} frames skipped after internal errors, ` : '') +
      (c.timeJumps ? `${c.timeJumps} timestamps clamped, ` : '') +
      `${(run.ms / 1000).toFixed(2)} s (${pps} packets/s)\n`,
    );
  }
  if (run.error) { process.stderr.write(`segwatch replay: ${run.error.message}\n`); return 1; }
  return 0;
}
