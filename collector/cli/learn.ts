// `segwatch learn CAPTURE... | --interface IF --for DURATION [--policy FILE] [--out FILE]`:
// the captures (or a live interface for a while) through the pipeline `replay` and `run`
// use, with a learner after the detectors; then a draft policy for a person to review.
// The draft is checked with the policy loader before it is written: a draft that would not
// load is an error here, not a surprise at the next `run`.

import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { assemble } from '../assemble.js';
import { loadPolicyText, formatPolicyError } from '../policy/load.js';
import { parseDuration } from '../policy/validate.js';
import { openCapture } from '../sources/pcap-file.js';
import { Learner } from '../learn/observer.js';
import { draftPolicy, inferSkeleton, LEARN_ALL_POLICY } from '../learn/draft.js';
import type { CompiledPolicy } from '../policy/types.js';
import { parseCommand, helpText, UsageError, type CommandSpec } from './args.js';

export const learnSpec: CommandSpec = {
  name: 'learn',
  usage: 'segwatch learn CAPTURE... [--policy FILE] [--out FILE]\n       segwatch learn --interface IF --for DURATION [--policy FILE] [--out FILE]',
  summary: 'Watch what each device does and write a draft policy (a profile per device, its peers, names and ports generalised) for a person to review.',
  flags: {
    policy: { type: 'string', arg: 'FILE', env: 'SEGWATCH_POLICY', help: 'start from this policy or skeleton (segments, watch, protected, resolvers): its entries and profiles stay, crossings into protected segments and DNS to other resolvers are never learned' },
    out: { type: 'string', arg: 'FILE', help: 'write the draft policy to FILE (default: stdout)' },
    interface: { type: 'string', arg: 'IF', env: 'SEGWATCH_INTERFACE', help: 'learn from live capture on IF (needs --for); Ctrl-C ends early and still writes' },
    for: { type: 'string', arg: 'DURATION', help: 'how long to learn live, e.g. 30m, 24h, 7d' },
    filter: { type: 'string', arg: 'BPF', env: 'SEGWATCH_FILTER', help: 'capture filter for --interface' },
    'max-rules': { type: 'string', arg: 'N', default: '8', help: 'rules per device at most; more are generalised harder' },
    quiet: { type: 'boolean', short: 'q', help: 'no summary on stderr' },
  },
};

export async function learnCommand(argv: string[]): Promise<number> {
  const a = parseCommand(learnSpec, argv);
  if (a.help) { process.stdout.write(helpText(learnSpec) + '\n'); return 0; }
  const iface = a.values.interface as string | undefined;
  const files = a.positionals;
  if ((iface ? 1 : 0) + (files.length ? 1 : 0) !== 1) throw new UsageError(`give CAPTURE files or --interface IF, not ${iface ? 'both' : 'neither'}\n\n${helpText(learnSpec)}`);
  let forMs = 0;
  if (iface) {
    if (a.values.for === undefined) throw new UsageError('--for DURATION is required with --interface');
    const d = parseDuration(a.values.for);
    if ('error' in d) throw new UsageError(`--for: ${d.error}`);
    forMs = d.ms;
  }
  const maxRules = Number(a.values['max-rules']);
  if (!Number.isInteger(maxRules) || maxRules < 1) throw new UsageError(`--max-rules must be a whole number above 0, got ${JSON.stringify(a.values['max-rules'])}`);

  const policyFile = a.values.policy as string | undefined;
  let skeletonText: string | null = null;
  let policy: CompiledPolicy;
  if (policyFile) {
    skeletonText = await readFile(policyFile, 'utf8');
    const loaded = loadPolicyText(skeletonText, policyFile);
    if (!loaded.policy) {
      for (const e of loaded.errors) process.stderr.write(formatPolicyError(e) + '\n');
      return 2;
    }
    policy = loaded.policy;
  } else {
    policy = loadPolicyText(LEARN_ALL_POLICY, '(learn: every private address)').policy!;
  }

  const learner = new Learner();
  const collector = await assemble({
    mode: 'run',
    policy: () => policy,
    learner,
    source: iface ? { interface: iface, filter: a.values.filter as string | undefined } : undefined,
    sourceName: iface ? `live:${iface}` : `file:${files.map((f) => basename(f)).join(',')}`,
  }).catch((err: Error) => ({ error: err }));
  if ('error' in collector) { process.stderr.write(`segwatch learn: ${collector.error.message}\n`); return 1; }
  const { pipeline } = collector;

  let failed: Error | null = null;
  if (iface) {
    const source = collector.source!;
    const stop = () => source.stop();
    const timer = setTimeout(stop, forMs);
    const ticker = setInterval(() => pipeline.tick(Math.max(Date.now(), pipeline.counters.lastTs)), 1000);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await source.run(pipeline.handleFrame);
    } catch (err) {
      failed = err as Error;
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
    }
  } else {
    // one pipeline for every file, in the order given: a device seen in two files is one device
    for (const f of files) {
      try {
        await openCapture(f).run(pipeline.handleStampedFrame, pipeline.stamp);
      } catch (err) {
        failed = (err as Error).message.includes(f) ? err as Error : new Error(`${f}: ${(err as Error).message}`);
        if (!/truncated|corrupt/i.test(failed.message)) break;
      }
    }
  }
  await pipeline.finish();
  await pipeline.close();
  if (failed && pipeline.counters.packets === 0) { process.stderr.write(`segwatch learn: ${failed.message}\n`); return 1; }

  const obs = learner.devices();
  const text = skeletonText ?? inferSkeleton(obs);
  const inferred = skeletonText ? null : loadPolicyText(text, '(inferred skeleton)');
  const skeleton = inferred ? inferred.policy : policy;
  if (!skeleton) {
    for (const e of inferred?.errors ?? []) process.stderr.write(formatPolicyError(e) + '\n');
    process.stderr.write('segwatch learn: the inferred skeleton does not load (a bug)\n');
    return 1;
  }
  const inv = pipeline.inventory;
  const draft = draftPolicy({
    devices: obs,
    facts: (d) => {
      const dev = (d.mac ? inv.deviceByMac(d.mac) : undefined) ?? inv.deviceByIp(d.ips[0]);
      return { vendor: dev?.vendor ?? '', hostname: dev?.hostname ?? '' };
    },
    policy: skeleton,
    text,
    deviceIps: (name) => inv.devices().filter((d) => d.name === name).flatMap((d) => d.ips),
    deviceAt: (ip) => inv.deviceByIp(ip),
    from: iface ? `live capture on ${iface}` : files.map((f) => basename(f)).join(', '),
    maxRules,
  });
  const header = `# Draft policy written by segwatch learn from ${iface ? `${forMs / 1000} s of live capture on ${iface}` : files.map((f) => basename(f)).join(', ')}.\n` +
    '# Review it before use: every learned rule says how often and when it was seen.\n';
  const out = header + draft.yaml;
  const check = loadPolicyText(out, a.values.out as string | undefined ?? '(draft)');
  if (!check.policy) {
    for (const e of check.errors) process.stderr.write(formatPolicyError(e) + '\n');
    process.stderr.write('segwatch learn: the draft does not pass the policy check (a bug); nothing written\n');
    return 1;
  }
  if (a.values.out) await writeFile(a.values.out as string, out);
  else process.stdout.write(out);

  if (!a.values.quiet) {
    const added = draft.devices.filter((d) => d.added).length;
    const rules = draft.devices.reduce((n, d) => n + d.rules, 0);
    const skipped = draft.devices.reduce((n, d) => n + d.notLearned, 0);
    process.stderr.write(`segwatch learn: ${pipeline.counters.packets} packets, ${learner.counters.flows} flows learned from (${learner.counters.scans} scan flows left out), ` +
      `${draft.devices.length} devices (${added} added), ${rules} rules added, ${skipped} behaviours not learned\n`);
    if (failed) process.stderr.write(`segwatch learn: ${failed.message} (learned from what came before)\n`);
  }
  return 0;
}
