// InfluxDB settings from a URL plus secrets from the environment (or *_FILE files), never
// from flags or the repository; and the sink opened with them.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../types.js';
import { InfluxSink, type InfluxSettings } from '../sinks/influx/influx-sink.js';

/** A secret from VAR or from the file named by VAR_FILE (trailing newline trimmed). */
export function secretFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[name]) return env[name];
  const file = env[`${name}_FILE`];
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return undefined;
}

export function influxSettingsFrom(url: string, spoolDir?: string, spoolMaxBytes?: number, username?: string): InfluxSettings {
  return {
    url,
    username: username ?? process.env.SEGWATCH_INFLUX_USERNAME,
    password: secretFromEnv('SEGWATCH_INFLUX_PASSWORD'),
    token: secretFromEnv('SEGWATCH_INFLUX_TOKEN'),
    spoolDir: spoolDir ?? join(tmpdir(), 'segwatch-spool'),
    ...(spoolMaxBytes ? { spoolMaxBytes } : {}),
  };
}

export async function openInflux(settings: InfluxSettings, log?: Log): Promise<InfluxSink> {
  const sink = new InfluxSink(settings, log);
  await sink.start();
  return sink;
}
