// The detectors, in the order the engine hands them each event. Order matters once: the
// scan detectors come first so that a flow a scan's anomaly already counts (they set
// `consumed`) raises no per-flow finding after them. A new kind is one module exporting a
// DetectorDef and one line here (or registerDetector() for one added at run time).

import type { Severity } from '../types.js';
import type { DetectorDef } from './detector.js';
import { scanHostsDetector } from './scan-hosts.js';
import { scanPortsDetector } from './scan-ports.js';
import { protocolPlaintextDetector } from './protocol-plaintext.js';
import { allowlistDetector } from './allowlist.js';
import { deviceExposedDetector } from './device-exposed.js';
import { volumeLimitDetector } from './volume-limit.js';
import { deviceNewDetector } from './device-new.js';
import { deviceSpoofDetector } from './device-spoof.js';
import { credentialsDefaultDetector } from './credentials-default.js';
import { collectorDegradedDetector } from './collector-degraded.js';

export const DETECTORS: DetectorDef[] = [
  scanHostsDetector,
  scanPortsDetector,
  protocolPlaintextDetector,
  allowlistDetector,
  deviceExposedDetector,
  volumeLimitDetector,
  deviceNewDetector,
  deviceSpoofDetector,
  credentialsDefaultDetector,
  collectorDegradedDetector,
];

/** Adds a detector after the bundled ones (a name already registered is refused). */
export function registerDetector(def: DetectorDef): void {
  if (DETECTORS.some((d) => d.name === def.name)) throw new Error(`a detector named ${def.name} is already registered`);
  DETECTORS.push(def);
}

/** Removes a detector added with registerDetector (tests). */
export function unregisterDetector(name: string): void {
  const i = DETECTORS.findIndex((d) => d.name === name);
  if (i >= 0) DETECTORS.splice(i, 1);
}

/** Every registered kind with its default severity. */
export function defaultSeverity(): Record<string, Severity> {
  const out: Record<string, Severity> = {};
  for (const d of DETECTORS) Object.assign(out, d.kinds);
  return out;
}
