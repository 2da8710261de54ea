#!/usr/bin/env node
// The `segwatch` command: dispatches to one module per sub-command.

import { UsageError } from './args.js';

const USAGE = `usage: segwatch COMMAND [options]

commands:
  replay CAPTURE --policy FILE   run a capture through the whole pipeline; print anomalies
  flows CAPTURE                  print the flow records of a capture
  devices CAPTURE                print the devices a capture shows
  run --policy FILE              the long-running collector (live interface, NetFlow/IPFIX, or capture file)
  policy check FILE              validate a policy
  learn CAPTURE... [--policy F]  learn each device's normal into a draft policy (or --interface IF --for 24h)
  alerts test [--config FILE]    send a test alert through every configured channel
  dashboards build [--out DIR]   write the Grafana dashboards and provisioning
  mud import FILE|URL            turn an RFC 8520 MUD file into a profile (a policy to edit)

Run 'segwatch COMMAND --help' for a command's options.
`;

// Loaded on demand: `flows` should not pay for the InfluxDB client, the policy compiler or Grafana's SDK.
const commands: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  replay: async () => (await import('./replay.js')).replayCommand,
  flows: async () => (await import('./flows.js')).flowsCommand,
  devices: async () => (await import('./devices.js')).devicesCommand,
  run: async () => (await import('./run.js')).runCommand,
  policy: async () => (await import('./policy-check.js')).policyCommand,
  dashboards: async () => (await import('./dashboards.js')).dashboardsCommand,
  alerts: async () => (await import('./alerts.js')).alertsCommand,
  mud: async () => (await import('./mud.js')).mudCommand,
  learn: async () => (await import('./learn.js')).learnCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const load = commands[cmd];
  if (!load) {
    process.stderr.write(`segwatch: unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 2;
  }
  try {
    const fn = await load();
    return await fn(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`segwatch ${cmd}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`segwatch ${cmd}: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`segwatch: ${(err as Error).stack ?? err}\n`); process.exitCode = 1; },
);
