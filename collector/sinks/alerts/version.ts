// segwatch's version for User-Agent and discovery's origin: package.json's, found by walking up
// from this module (collector/... in source, dist/collector/... when built).

import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function segwatchVersion(): string {
  if (cached) return cached;
  for (let up = '../../../'; up.length < 40; up += '../') {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up + 'package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'segwatch' && pkg.version) return (cached = pkg.version);
    } catch { /* not at this level */ }
  }
  return (cached = '0.0.0');
}
