// Builds complete Anomaly objects (every DESIGN.md field present) and the small helpers
// detectors share: who the device is, protocol spelling, service names for messages.

import type { Anomaly, AnomalyKind, Device, Proto, Severity } from '../types.js';
import { deviceLabel as labelOf } from '../types.js';
import { ICMP4_TYPES, ICMP6_TYPES } from '../policy/schema-names.js';

/** The device an anomaly is about, as shown in anomaly fields. */
export interface Subject {
  /** policy name, else hostname, else id (MAC or IP). */
  device: string;
  mac: string;
  ip: string;
  segment: string;
  profile: string;
}

export interface AnomalyInit {
  kind: AnomalyKind;
  /** ms since epoch of the first packet. */
  time: number;
  subject: Subject;
  peer?: string;
  peerName?: string;
  peerPort?: number;
  proto?: Proto | string;
  bytes?: number;
  packets?: number;
  count?: number;
  /** last occurrence, ms; defaults to time. */
  lastSeen?: number;
  rule?: string;
  message: string;
  /** overrides the kind's configured severity (e.g. a spoofed gateway is critical). */
  severity?: Severity;
}

/** How detectors hand anomalies on: filed with the lifecycle stage, keyed for later bumps. */
export interface Reporter {
  /** files an anomaly; returns its suppression key. */
  report(init: AnomalyInit): string;
  /** raises the count of the open anomaly under key; false when it closed (report afresh). */
  bump(key: string, count: number, time: number): boolean;
  /** a flow's later bytes and packets join the open anomaly it raised; false when it closed. */
  addTraffic(key: string, bytes: number, packets: number, time: number): boolean;
  /** a flow's server name (TLS SNI, HTTP Host) that came after its anomaly opened: fills an empty peerName. */
  peerName?(key: string, name: string): boolean;
  /** the condition behind the open anomaly under key ended: it closes now ('cleared'). */
  clear?(key: string): boolean;
}

export function protoString(p: Proto | string | undefined): string {
  if (p === undefined) return '';
  return typeof p === 'number' ? String(p) : p;
}

/** ISO 8601 of ms since epoch; "" for a time that is not one. */
export function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

/** Device label used in anomalies and messages. */
export function deviceLabel(d: Pick<Device, 'name' | 'hostname' | 'id'> | undefined, fallback: string): string {
  return (d && labelOf(d)) || fallback;
}

export function makeAnomaly(init: AnomalyInit, severity: Readonly<Record<string, Severity>>): Anomaly {
  const last = init.lastSeen ?? init.time;
  // one ISO text for time and firstSeen, and for lastSeen when it is the same instant
  const first = iso(init.time);
  return {
    id: '',
    time: first,
    kind: init.kind,
    severity: init.severity ?? severity[init.kind] ?? 'medium',
    device: init.subject.device,
    mac: init.subject.mac,
    ip: init.subject.ip,
    segment: init.subject.segment,
    profile: init.subject.profile,
    peer: init.peer ?? '',
    peerName: init.peerName ?? '',
    peerPort: init.peerPort ?? 0,
    proto: protoString(init.proto),
    bytes: init.bytes ?? 0,
    packets: init.packets ?? 0,
    count: init.count ?? 1,
    firstSeen: first,
    lastSeen: last === init.time ? first : iso(last),
    rule: init.rule ?? '',
    message: init.message,
    state: 'open',
    closeReason: '',
    suppressed: false,
  };
}

/** "tcp/23" style service spelling for messages. */
export function portText(proto: Proto | string, port: number): string {
  const p = protoString(proto);
  if (p === 'icmp' || p === 'icmpv6') return icmpText(p === 'icmpv6', port);
  return port ? `${p}/${port}` : p;
}

const icmpNames = (table: Readonly<Record<string, number>>): string[] => {
  const out: string[] = [];
  for (const [name, type] of Object.entries(table)) out[type] = name;
  return out;
};
const ICMP4_NAMES = icmpNames(ICMP4_TYPES);
const ICMP6_NAMES = icmpNames(ICMP6_TYPES);

/**
 * "ICMP echo-request", "ICMPv6 destination-unreachable code 4": an ICMP flow's port is
 * type << 8 | code of its first packet (as NetFlow carries it); code 0 is left unsaid.
 */
export function icmpText(v6: boolean, port: number): string {
  const type = (port >>> 8) & 255, code = port & 255;
  const name = (v6 ? ICMP6_NAMES : ICMP4_NAMES)[type] ?? `type ${type}`;
  return `${v6 ? 'ICMPv6' : 'ICMP'} ${name}${code ? ` code ${code}` : ''}`;
}

/** "doorbell (192.168.50.10)" */
export function who(s: Subject): string {
  return s.device === s.ip || !s.ip ? s.device : `${s.device} (${s.ip})`;
}

/** "192.168.1.20" or "api.example.com (192.168.1.20)" */
export function peerText(peer: string, peerName: string): string {
  return peerName ? `${peerName} (${peer})` : peer;
}
