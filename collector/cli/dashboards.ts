// `segwatch dashboards build`: write the Grafana dashboards and provisioning files.

import { writeDashboards } from '../../dashboards/build.js';
import { parseCommand, helpText, type CommandSpec } from './args.js';

export const dashboardsSpec: CommandSpec = {
  name: 'dashboards build',
  usage: 'segwatch dashboards build [--out DIR]',
  summary: 'Write the Grafana dashboard JSON and provisioning (InfluxDB datasource, dashboard provider) into DIR.',
  flags: {
    out: { type: 'string', arg: 'DIR', default: 'deploy/grafana', help: 'output directory' },
  },
};

export async function dashboardsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'build') {
    process.stderr.write(helpText(dashboardsSpec) + '\n');
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const a = parseCommand(dashboardsSpec, rest);
  if (a.help) { process.stdout.write(helpText(dashboardsSpec) + '\n'); return 0; }
  const files = await writeDashboards(a.values.out as string);
  for (const f of files) process.stdout.write(`wrote ${f}\n`);
  return 0;
}
