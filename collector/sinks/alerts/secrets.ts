// A channel's secrets: only from SEGWATCH_ALERT_<NAME>_PASSWORD / _TOKEN or the file that
// <VAR>_FILE names (a Docker or systemd credential), never from the config file.

import { readFileSync } from 'node:fs';

export type SecretKind = 'PASSWORD' | 'TOKEN';

/** SEGWATCH_ALERT_<NAME>_<KIND>: NAME upper-cased, every run of other characters than A-Z and 0-9 as one "_". */
export function secretVar(channel: string, kind: SecretKind): string {
  return `SEGWATCH_ALERT_${channel.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_${kind}`;
}

/**
 * The secret, undefined when neither variable is set. Throws, naming the variable (never the
 * value), when both are set or the file cannot be read. A file's one trailing newline is dropped.
 */
export function readSecret(env: NodeJS.ProcessEnv, channel: string, kind: SecretKind): string | undefined {
  const v = secretVar(channel, kind);
  const direct = env[v];
  const file = env[`${v}_FILE`];
  if (direct && file) throw new Error(`${v} and ${v}_FILE are both set: give one`);
  if (direct) return direct;
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${v}_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const s = text.replace(/\r?\n$/, '');
  if (!s) throw new Error(`${v}_FILE: ${file} is empty`);
  return s;
}
