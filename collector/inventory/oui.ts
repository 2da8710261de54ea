// MAC vendor from the IEEE OUI registry (npm oui-data), loaded once on first use.

import { createRequire } from 'node:module';

let table: Record<string, string> | null = null;

function load(): Record<string, string> {
  if (table === null) {
    try {
      table = createRequire(import.meta.url)('oui-data') as Record<string, string>;
    } catch {
      // Without the registry devices simply have no vendor; nothing else depends on it.
      table = {};
    }
  }
  return table;
}

/**
 * Organisation name (first line of the registry entry) for "aa:bb:cc:dd:ee:ff", "" when unknown
 * or when the MAC is locally administered (randomised MACs carry no vendor).
 */
export function vendorOf(mac: string): string {
  if (mac.length < 8) return '';
  const first = parseInt(mac.slice(0, 2), 16);
  if (!Number.isFinite(first) || (first & 0x02) !== 0) return '';
  const key = (mac.slice(0, 2) + mac.slice(3, 5) + mac.slice(6, 8)).toUpperCase();
  const entry = load()[key];
  if (entry === undefined) return '';
  const nl = entry.indexOf('\n');
  return (nl < 0 ? entry : entry.slice(0, nl)).trim();
}
