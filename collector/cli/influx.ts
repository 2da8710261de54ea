// The InfluxDB sink opened from a URL plus SEGWATCH_INFLUX_* secrets from the environment
// (or *_FILE files): never from flags or the repository.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../types.js';
import { InfluxSink } from '../sinks/influx/influx-sink.js';
import { influxSettingsFromEnv, type InfluxSinkSettings } from '../sinks/influx/settings.js';

export function influxSettingsFrom(url: string, spoolDir?: string, spoolMaxBytes?: number, username?: string): InfluxSinkSettings {
  const fromEnv = influxSettingsFromEnv(process.env, { spoolDir: join(tmpdir(), 'segwatch-spool') });
  return {
    ...fromEnv,
    url,
    spoolDir: spoolDir ?? fromEnv.spoolDir!,
    ...(spoolMaxBytes ? { spoolMaxBytes } : {}),
    ...(username ? { username } : {}),
  };
}

export async function openInflux(settings: InfluxSinkSettings, log?: Log): Promise<InfluxSink> {
  return InfluxSink.open(settings, log ? { log } : {});
}
