// Shared bits of the InfluxDB sink integration tests: temp dirs, a capturing
// log, bounded waits, and anomaly fixtures.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Anomaly, Log } from '../../../../collector/types.js';

export function tmpDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface Captured { level: string; msg: string; obj: unknown }

export function captureLog(): { log: Log; lines: Captured[] } {
  const lines: Captured[] = [];
  const mk = (level: string) => (obj: unknown, msg?: string) => { lines.push({ level, msg: msg ?? '', obj }); };
  return { log: { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error') }, lines };
}

/** Polls `cond` every `everyMs` until true; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 20): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function anomaly(i: number, over: Partial<Anomaly> = {}): Anomaly {
  const time = new Date(Date.UTC(2024, 0, 1) + Math.floor(i / 40)).toISOString();
  return {
    id: `id${i}`,
    time,
    kind: 'policy.violation',
    severity: 'high',
    device: `cam${i % 3}`,
    mac: 'aa:bb:cc:00:00:01',
    ip: '192.168.50.10',
    segment: 'iot',
    profile: 'camera',
    peer: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    peerName: '',
    peerPort: 443,
    proto: 'tcp',
    bytes: 100 + i,
    packets: 2,
    count: 1,
    firstSeen: time,
    lastSeen: time,
    rule: `r${i}`,
    message: `anomaly number ${i}`,
    state: 'open',
    closeReason: '',
    suppressed: false,
    ...over,
  };
}
