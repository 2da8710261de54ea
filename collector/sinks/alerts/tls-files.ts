// The CA, client certificate and key files a channel names, read when it connects, so a
// renewed certificate is picked up at the next connection without a restart.

import { readFileSync } from 'node:fs';
import type { ChannelConfig } from './config.js';
import { DeliveryError } from './channel.js';

export interface TlsFiles { ca?: Buffer; cert?: Buffer; key?: Buffer }

export function readTlsFiles(cfg: Pick<ChannelConfig, 'name' | 'ca' | 'cert' | 'key'>): TlsFiles {
  const out: TlsFiles = {};
  for (const k of ['ca', 'cert', 'key'] as const) {
    const f = cfg[k];
    if (!f) continue;
    try {
      out[k] = readFileSync(f);
    } catch (err) {
      // retryable: a certificate being renewed may be back in a moment
      throw new DeliveryError(`${cfg.name}: cannot read ${k} file ${f}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { retryable: true, code: 'tls_file' });
    }
  }
  return out;
}
