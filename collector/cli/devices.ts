// `segwatch devices CAPTURE`: the devices a capture shows (MAC, vendor, hostname, addresses, MUD URL).

import type { Device } from '../types.js';
import { Pipeline } from '../pipeline.js';
import { parseCommand, helpText, oneOf, type CommandSpec } from './args.js';
import { runCapture } from './capture.js';
import { renderTable } from './table.js';
import { writeLines } from './output.js';

export const devicesSpec: CommandSpec = {
  name: 'devices',
  usage: 'segwatch devices CAPTURE [--format table|jsonl] [--out FILE]',
  summary: 'List the devices a pcap or pcapng file shows: MAC, vendor (IEEE OUI), DHCP/mDNS hostname, addresses, MUD URL (DHCP, DHCPv6, LLDP).',
  flags: {
    format: { type: 'string', arg: 'table|jsonl', default: 'table', env: 'SEGWATCH_FORMAT', help: 'output format' },
    out: { type: 'string', arg: 'FILE', env: 'SEGWATCH_OUT', help: 'write to FILE instead of stdout' },
  },
};

const FIELDS = ['id', 'name', 'mac', 'ips', 'vendor', 'hostname', 'profile', 'segment', 'firstSeen', 'lastSeen', 'known'] as const;

/** One JSON line per device; mudUrl only when the device announced one (as in the API). */
export function deviceJson(d: Device): string {
  const o: Record<string, unknown> = {};
  for (const k of FIELDS) o[k] = k === 'firstSeen' || k === 'lastSeen' ? new Date(d[k]).toISOString() : d[k];
  if (d.mudUrl !== undefined) o.mudUrl = d.mudUrl;
  return JSON.stringify(o);
}

export async function devicesCommand(argv: string[]): Promise<number> {
  const a = parseCommand(devicesSpec, argv);
  if (a.help) { process.stdout.write(helpText(devicesSpec) + '\n'); return 0; }
  const format = oneOf(a.values.format, ['table', 'jsonl'] as const, 'format');
  const file = a.positionals[0];
  if (!file) { process.stderr.write(helpText(devicesSpec) + '\n'); return 2; }
  const pipeline = new Pipeline({});
  const run = await runCapture(file, pipeline);
  const devices = pipeline.inventory.devices();
  const out = writeLines(a.values.out as string | undefined);
  if (format === 'jsonl') for (const d of devices) out.line(deviceJson(d));
  else {
    out.text(renderTable(['MAC', 'VENDOR', 'HOSTNAME', 'ADDRESSES', 'FIRST SEEN', 'MUD URL'],
      devices.map((d) => [d.mac || '-', d.vendor || '-', d.hostname || '-', d.ips.join(' '), new Date(d.firstSeen).toISOString(), d.mudUrl ?? '-'])));
  }
  await out.close();
  if (run.error) { process.stderr.write(`segwatch devices: ${run.error.message}\n`); return 1; }
  return 0;
}
