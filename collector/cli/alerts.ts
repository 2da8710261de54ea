// `segwatch alerts test [--config FILE]`: one test event through every configured channel,
// straight to the receiver (not through the outbox), each one's result and latency.

import { hostname } from 'node:os';
import { parseCommand, helpText, type CommandSpec } from './args.js';
import { readAlertChannels } from './config.js';
import { createChannel } from '../sinks/alerts/registry.js';
import { testAlert } from '../sinks/alerts/channel.js';
import { renderTable } from './table.js';

export const alertsTestSpec: CommandSpec = {
  name: 'alerts test',
  usage: 'segwatch alerts test [--config FILE]',
  summary: 'Send a test alert through every channel of the config file and report what each receiver answered.',
  flags: {
    config: { type: 'string', arg: 'FILE', env: 'SEGWATCH_CONFIG', help: 'config file with the alerts: list (default /etc/segwatch/segwatch.yaml)' },
  },
};

export async function alertsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'test') {
    process.stderr.write(`${helpText(alertsTestSpec)}\n`);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const a = parseCommand(alertsTestSpec, rest);
  if (a.help) { process.stdout.write(helpText(alertsTestSpec) + '\n'); return 0; }
  const file = (a.values.config as string | undefined) ?? '/etc/segwatch/segwatch.yaml';
  const { channels, errors } = readAlertChannels(file, process.env);
  if (errors.length) {
    for (const e of errors) process.stderr.write(`${e}\n`);
    return 2;
  }
  if (channels.length === 0) {
    process.stderr.write(`segwatch alerts test: ${file} configures no alert channel (alerts:)\n`);
    return 2;
  }
  const rows: string[][] = [];
  let failed = 0;
  // one after another: a slow channel must not hide how long another took
  for (const cfg of channels) {
    const started = performance.now();
    let result = 'ok';
    try {
      const ch = createChannel(cfg, process.env, { hostname: hostname() });
      try {
        await ch.send(testAlert(Date.now()));
      } finally {
        await ch.close().catch(() => {});
      }
    } catch (err) {
      failed++;
      result = `FAILED: ${(err as Error).message}`;
    }
    rows.push([cfg.name, cfg.type, `${Math.round(performance.now() - started)} ms`, result]);
  }
  process.stdout.write(renderTable(['channel', 'type', 'latency', 'result'], rows));
  return failed ? 1 : 0;
}
