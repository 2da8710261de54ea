// What a detector is: a small object that takes the events it wants (a flow opened, a flow
// record, a DNS answer, an address claimed by a second MAC, a device seen, a payload
// signal) and reports anomalies through the Reporter. The engine orients flows, knows
// which addresses are watched and hands every event to every detector in registry order;
// the lifecycle stage behind the Reporter opens, updates and closes what they report.
// A new kind is one module exporting a DetectorDef plus one line in registry.ts.

import type { Anomaly, Device, FlowRecord, FlowStart, Log, Severity } from '../types.js';
import type { CompiledPolicy, EvalContext } from '../policy/types.js';
import type { BindingConflict, InventoryView } from '../inventory/types.js';
import type { DnsAnswers } from '../decode/dns-answers.js';
import type { Reporter, Subject } from './anomaly.js';
import type { Text } from '../types.js';
import type { OpenedFlow } from './flow.js';
import type { DetectSettings } from './settings.js';

/**
 * A flow's first packet as detectors see it: oriented (src opened it) and placed under the
 * policy in force. One object reused for every flow: read it during the call, keep nothing.
 */
export interface JudgedFlow {
  f: OpenedFlow;
  policy: CompiledPolicy;
  /** addrKey() of f.src and f.dst, for detectors that key state by address. */
  srcKey: number | string;
  dstKey: number | string;
  srcWatched: boolean;
  dstWatched: boolean;
  /** f.dst is a broadcast or multicast address (not a host). */
  group: boolean;
  /**
   * Set by a detector that stands for this flow (a scan's anomaly counts it): the detectors
   * after it that judge single flows leave it alone.
   */
  consumed: boolean;
}

/**
 * A TCP segment's payload, in place in the frame: every segment of a flow whose port one
 * detector asked for (Detector.payloadPorts), and an HTTP request head that carries Basic
 * credentials. One object reused for every segment: read it during the call, keep nothing.
 */
export interface PayloadEvent {
  flowId: number;
  /** ms since epoch of the packet. */
  time: number;
  /** 0: sent by the flow table's initiator (FlowStart.src), 1: by the other end. */
  dir: number;
  /** the packet's own ports. */
  sport: number;
  dport: number;
  /** TCP sequence number of the segment's first payload byte (to skip retransmissions). */
  seq: number;
  buf: Uint8Array;
  off: number;
  /** payload bytes captured (a short snaplen may leave fewer than were sent). */
  len: number;
  /** 'port': a port a detector asked for; 'http-basic-auth': a request head with Basic credentials. */
  what: 'port' | 'http-basic-auth';
  /** the flow's first packet, built on demand (allocates: once per flow, not per segment). */
  start(): FlowStart | undefined;
}

/** What the collector knows of its own health: its counters, and what its sinks report. */
export interface CollectorHealth {
  /** ms since epoch (packet time in a replay, wall clock live) */
  time: number;
  host: string;
  source: string;
  /** frames and flow records taken since start */
  packets: number;
  records: number;
  /** frames or records the source lost (kernel, interface, queue), since start */
  drops: number;
  /** bytes waiting in the InfluxDB spool */
  spoolBytes: number;
  /** alert channels whose every try failed, and since when (ms) */
  alertsFailing: ReadonlyArray<{ channel: string; since: number }>;
}

export interface DnsAnswerEvent {
  /** ms since epoch */
  time: number;
  client: string;
  server: string;
  answers: DnsAnswers;
}

/** What the engine offers every detector: the policy, the inventory, and how to report. */
export interface DetectContext {
  readonly settings: DetectSettings;
  readonly inventory: InventoryView;
  readonly reporter: Reporter;
  readonly log: Log;
  /** device ids reported as new before (kept across runs by the caller). */
  readonly seenDevices: Set<string>;
  /** the policy in force now (a reload takes effect at the next event). */
  policy(): CompiledPolicy;
  /** the device at ip as anomaly fields; watched devices get their profile. */
  subject(p: CompiledPolicy, ip: string, mac: string, watched: boolean): Subject;
  subjectOfDevice(p: CompiledPolicy, d: Device, ip: string): Subject;
  /** the profile that judges the device at ip. */
  /** key: addrKey(ip), for a caller that has it */
  profileOf(p: CompiledPolicy, ip: string, mac: string, key?: number | string): string;
  /**
   * ip is in a watched segment (and, with policy.vlan, on that VLAN); key: addrKey(ip) when at
   * hand (then ip, when a function, is not called for an IPv4 address).
   */
  watched(p: CompiledPolicy, ip: Text, vlan: number, key?: number | string): boolean;
  /** `device:NAME` rules: the named device's addresses now. */
  deviceIps(name: string): readonly string[];
  /**
   * What CompiledPolicy.evaluate()/evaluateIn() ask of the world, for judging the device at
   * `ip` (its own MUD URL host is selfMudHost). One object, reused: pass it on, keep nothing.
   */
  evalContext(ip: string): EvalContext;
  /** when a scan by src (toward dst, for port scans) that is still going on began, else -1. */
  scanningSince(src: string, dst: string, time: number): number;
}

export interface Detector {
  /** A flow's first packet, when either end is watched. */
  flowStart?(j: JudgedFlow): void;
  /** A TLS SNI or HTTP Host arrived on a flow. */
  flowName?(flowId: number, name: string): void;
  /** An interim or final flow record (packets or NetFlow/IPFIX). */
  flowRecord?(r: FlowRecord): void;
  /** A DNS response on the watched segment. */
  dnsAnswer?(ev: DnsAnswerEvent): void;
  /** An address claimed by a second MAC (ARP, DHCP, neighbour discovery, traffic). */
  claim?(c: BindingConflict): void;
  /** A device appeared or changed. */
  device?(d: Device, change: 'new' | 'updated'): void;
  /** Something seen in a flow's payload (e.g. "http-basic-auth"). */
  signal?(fs: FlowStart, what: string): void;
  /**
   * TCP payload of a flow on one of payloadPorts (both directions, every segment), or an
   * HTTP request head with Basic credentials. Only segments that carry payload.
   */
  payload?(ev: PayloadEvent): void;
  /** TCP ports (either end) whose flows' payload this detector wants through payload(). */
  payloadPorts?: readonly number[];
  /** Time moved on (packet time in a replay, wall-clock live). */
  tick?(now: number): void;
  /** The collector's own figures, every health interval (10 s). */
  health?(h: CollectorHealth): void;
  /** End of input: judge what is pending. */
  flush?(): void;
  /**
   * The policy was reloaded: true when it now allows what open anomaly `a` (of one of this
   * detector's kinds) reported, which then closes with close_reason "allowed".
   */
  allows?(a: Anomaly, p: CompiledPolicy): boolean;
  /** when a scan by src (toward dst) still going on at `time` began, else -1. */
  scanningSince?(src: string, dst: string, time: number): number;
  /** figures for stats and the API. */
  stats?(): Record<string, number>;
}

export interface DetectorDef {
  /** unique, e.g. "scan-hosts". */
  name: string;
  /** the kinds it reports, with their default severity (DESIGN.md's table). */
  kinds: Readonly<Record<string, Severity>>;
  create(ctx: DetectContext): Detector;
}
