// Command-line parsing shared by every command: flags from argv, falling back to
// SEGWATCH_* environment variables, with --help text kept beside the flag definitions.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** environment variable consulted when the flag is absent */
  env?: string;
  help: string;
  default?: string | boolean;
  /** value placeholder for help, e.g. FILE */
  arg?: string;
  /** may be given several times: the values are joined with commas */
  multiple?: boolean;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  flags: Record<string, FlagSpec>;
}

export class UsageError extends Error {}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseCommand(spec: CommandSpec, argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${helpText(spec)}`);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const given = parsed.values[name] as string | boolean | Array<string | boolean> | undefined;
    let v = Array.isArray(given) ? given.join(',') : given;
    if (v === undefined && f.env && env[f.env] !== undefined && env[f.env] !== '') {
      const e = env[f.env] as string;
      v = f.type === 'boolean' ? /^(1|true|yes|on)$/i.test(e) : e;
    }
    if (v === undefined) v = f.default;
    values[name] = v;
  }
  return { values, positionals: parsed.positionals, help: parsed.values.help === true };
}

export function helpText(spec: CommandSpec): string {
  const lines = [`usage: ${spec.usage}`, '', spec.summary, '', 'options:'];
  const rows = Object.entries(spec.flags).map(([name, f]) => {
    const left = `  ${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : ''}`;
    const extra = [f.default !== undefined && f.default !== false ? `default: ${f.default}` : '', f.env ? `env: ${f.env}` : '']
      .filter(Boolean).join('; ');
    return [left, f.help + (extra ? ` (${extra})` : '')];
  });
  rows.push(['  -h, --help', 'show this help']);
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [l, r] of rows) lines.push(l.padEnd(w) + r);
  return lines.join('\n');
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], flag: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
}
