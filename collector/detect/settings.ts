// Detector settings: every threshold, window and severity the detectors use, with the
// defaults and one documentation line each (the README lists SETTINGS_DOC).

import type { AnomalyKind, Severity } from '../types.js';
import { defaultSeverity } from './registry.js';

/** A cleartext protocol recognised by its server port. */
export interface PlaintextPort {
  port: number;
  proto: 'tcp' | 'udp';
  /** shown in messages, e.g. "telnet" */
  name: string;
}

export interface DetectSettings {
  /** scan.hosts, slow rule: distinct hosts one device failed to connect to (no answer, a RST) within scanHostsWindowMs. */
  scanHostsThreshold: number;
  /** ms of packet time; also how long a scan lasts after its device's last flow. */
  scanHostsWindowMs: number;
  /** scan.hosts, fast rule: distinct new hosts, none a name the device looked up, one device sends SYNs to within scanHostsFastWindowMs. */
  scanHostsFastThreshold: number;
  /** ms of packet time. */
  scanHostsFastWindowMs: number;
  /** scan.ports, slow rule: distinct ports of one host one device failed to connect to within scanPortsWindowMs. */
  scanPortsThreshold: number;
  /** ms of packet time; also how long a port scan lasts after its last flow. */
  scanPortsWindowMs: number;
  /** scan.ports, fast rule: distinct ports of one host one device sends SYNs to within scanPortsFastWindowMs. */
  scanPortsFastThreshold: number;
  /** ms of packet time. */
  scanPortsFastWindowMs: number;
  /** memory cap: scanning sources tracked at once (the oldest idle one is dropped beyond it). */
  scanMaxSources: number;
  /** memory cap: distinct hosts (scan.hosts) or targets (scan.ports) remembered per source. */
  scanMaxTargets: number;
  /** an open anomaly whose cause has been quiet this many ms closes (repeats until then raise its count). */
  anomalyIdleMs: number;
  /** an open anomaly that changed is written again at most once per this many ms. */
  anomalyUpdateMs: number;
  /** memory cap: open anomalies held; beyond it the least recently opened closes early. */
  anomalyMaxOpen: number;
  /**
   * ms a DNS answer stays usable after its TTL for domain rules. The inventory applies it
   * (InventoryView.namesFor); the pipeline hands this value to the inventory.
   */
  dnsGraceMs: number;
  /** memory cap: flows parked awaiting a name (SNI/Host); beyond it the oldest is judged now. */
  parkMax: number;
  /** Ports whose protocol sends credentials or commands in clear text: protocol.plaintext. */
  plaintextPorts: PlaintextPort[];
  /** Ports of DNS (53) and DNS-over-TLS (853): dns.bypass when the peer is not an approved resolver. */
  dnsPorts: PlaintextPort[];
  /** Addresses whose theft by a second MAC is critical (gateways); approved resolvers always are. */
  spoofCriticalIps: string[];
  /** collector.degraded: ms without a packet or flow record from the source. */
  degradedSilenceMs: number;
  /** collector.degraded: share of packets or records lost over a minute (0.01 = 1 %). */
  degradedDropRatio: number;
  /** collector.degraded: ms the InfluxDB spool has kept growing. */
  degradedSpoolMs: number;
  /** collector.degraded: ms an alert channel has failed every delivery. */
  degradedAlertMs: number;
  /** Severity per kind; defaults are DESIGN.md's table. */
  severity: Record<string, Severity>;
}

/** Default severity per kind, as each detector declares it (registry.ts). */
export const DEFAULT_SEVERITY: Readonly<Record<string, Severity>> = defaultSeverity();

/**
 * SNMP v1/v2c (161/udp) is not in the default list: v3 shares the port and only the payload
 * tells them apart; add { port: 161, proto: 'udp', name: 'snmp' } where v3 is not in use.
 * udp/514 is syslog, not rsh, so only tcp 512-514 are listed.
 */
export const DEFAULT_PLAINTEXT_PORTS: readonly PlaintextPort[] = [
  { port: 21, proto: 'tcp', name: 'ftp' },
  { port: 23, proto: 'tcp', name: 'telnet' },
  { port: 2323, proto: 'tcp', name: 'telnet' },
  { port: 1883, proto: 'tcp', name: 'mqtt' },
  { port: 110, proto: 'tcp', name: 'pop3' },
  { port: 143, proto: 'tcp', name: 'imap' },
  { port: 512, proto: 'tcp', name: 'rexec' },
  { port: 513, proto: 'tcp', name: 'rlogin' },
  { port: 514, proto: 'tcp', name: 'rsh' },
  { port: 69, proto: 'udp', name: 'tftp' },
];

export const DEFAULT_DNS_PORTS: readonly PlaintextPort[] = [
  { port: 53, proto: 'udp', name: 'dns' },
  { port: 53, proto: 'tcp', name: 'dns' },
  { port: 853, proto: 'tcp', name: 'dns-over-tls' },
];

export function defaultSettings(): DetectSettings {
  return {
    // slow rules: Zeek's scan detection (25 hosts, 15 ports of one host, 5 minutes)
    scanHostsThreshold: 25,
    scanHostsWindowMs: 300_000,
    scanHostsFastThreshold: 6,
    scanHostsFastWindowMs: 2_000,
    scanPortsThreshold: 15,
    scanPortsWindowMs: 300_000,
    scanPortsFastThreshold: 10,
    scanPortsFastWindowMs: 2_000,
    scanMaxSources: 4096,
    scanMaxTargets: 1 << 18,
    anomalyIdleMs: 3_600_000,
    anomalyUpdateMs: 60_000,
    anomalyMaxOpen: 100_000,
    dnsGraceMs: 300_000,
    parkMax: 65_536,
    plaintextPorts: DEFAULT_PLAINTEXT_PORTS.map((p) => ({ ...p })),
    dnsPorts: DEFAULT_DNS_PORTS.map((p) => ({ ...p })),
    spoofCriticalIps: [],
    degradedSilenceMs: 300_000,
    degradedDropRatio: 0.01,
    degradedSpoolMs: 300_000,
    degradedAlertMs: 900_000,
    // read now, not at load: a detector registered at run time brings its kinds
    severity: defaultSeverity(),
  };
}

/** Defaults overlaid with what the caller set; severity merges per kind. */
export function resolveSettings(partial: Partial<DetectSettings> = {}): DetectSettings {
  const d = defaultSettings();
  const out: DetectSettings = { ...d, ...partial, severity: { ...d.severity, ...(partial.severity ?? {}) } };
  return out;
}

/** One line per setting, for the README and `--help`. */
export const SETTINGS_DOC: Readonly<Record<keyof DetectSettings, string>> = {
  scanHostsThreshold: 'slow scans: scan.hosts fires when connection attempts of one device to this many distinct hosts failed (no answer, a RST) within the window (default 25)',
  scanHostsWindowMs: 'window of the slow scan.hosts rule, and how long a scan lasts after its last flow, ms of packet time (default 300000)',
  scanHostsFastThreshold: 'fast scans: scan.hosts fires when one device sends SYNs to this many distinct new hosts, none a name it looked up, within the fast window (default 6)',
  scanHostsFastWindowMs: 'window of the fast scan.hosts rule, ms of packet time (default 2000)',
  scanPortsThreshold: 'slow scans: scan.ports fires when connection attempts of one device to this many distinct ports of one host failed within the window (default 15)',
  scanPortsWindowMs: 'window of the slow scan.ports rule, and how long a port scan lasts after its last flow, ms of packet time (default 300000)',
  scanPortsFastThreshold: 'fast scans: scan.ports fires when one device sends SYNs to this many distinct ports of one host within the fast window (default 10)',
  scanPortsFastWindowMs: 'window of the fast scan.ports rule, ms of packet time (default 2000)',
  scanMaxSources: 'most scan.hosts sources tracked at once (scan.ports: 4 times as many pairs); beyond it sources idle a window go first, else the first tracked that is not scanning now; counted on /metrics (default 4096)',
  scanMaxTargets: 'most distinct hosts/targets remembered per source; beyond it new hosts count without dedup (default 262144)',
  anomalyIdleMs: 'an open anomaly closes when its cause has been quiet this long; repeats until then raise its count, ms (default 3600000)',
  anomalyUpdateMs: 'an open anomaly that changed is written again (same id) at most once per this many ms (default 60000)',
  anomalyMaxOpen: 'most anomalies open at once; beyond it the least recently opened closes early (close_reason capacity) (default 100000)',
  dnsGraceMs: 'how long a DNS answer still names its address after its TTL ran out, ms (default 300000)',
  parkMax: 'most flows held awaiting a TLS SNI or HTTP Host name; beyond it the oldest is judged at once (default 65536)',
  plaintextPorts: 'server ports of clear-text protocols reported as protocol.plaintext (default telnet 23/2323, ftp 21, mqtt 1883, pop3 110, imap 143, rexec/rlogin/rsh 512-514, tftp 69/udp)',
  dnsPorts: 'ports of DNS and DNS-over-TLS checked for dns.bypass (default 53/udp, 53/tcp, 853/tcp)',
  spoofCriticalIps: 'addresses (gateways) whose claim by a second MAC is critical, not high; approved resolvers always are (default none)',
  degradedSilenceMs: 'collector.degraded when no packet or flow record came from the source for this long, ms (default 300000; `degraded_silence` in the run config, seconds)',
  degradedDropRatio: 'collector.degraded when more than this share of packets or records was lost over a minute (default 0.01)',
  degradedSpoolMs: 'collector.degraded when the InfluxDB spool has kept growing this long, ms (default 300000; `degraded_spool` in the run config, seconds)',
  degradedAlertMs: 'collector.degraded when an alert channel has failed every delivery this long, ms (default 900000; `degraded_alerts` in the run config, seconds)',
  severity: 'severity per anomaly kind (defaults: DESIGN.md table)',
};
