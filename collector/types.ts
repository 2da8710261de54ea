// The shapes that cross module boundaries (DESIGN.md "Data model"). Per-flow and
// per-anomaly objects live here; per-packet state is the reused PacketInfo in decode/.

export type Proto = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number;
export type Origin = 'pcap' | 'netflow' | 'ipfix';

/**
 * A text, or what makes it when it is read: an address a stage may not need (a reused flow's
 * destination is formatted only when read; under a host sweep most never are).
 */
export type Text = string | (() => string);

export function textOf(t: Text): string {
  return typeof t === 'string' ? t : t();
}

/** IANA protocol number to the FlowRecord spelling. */
export function protoName(n: number): Proto {
  switch (n) {
    case 6: return 'tcp';
    case 17: return 'udp';
    case 1: return 'icmp';
    case 58: return 'icmpv6';
    default: return n;
  }
}

/** A finished (or interim, for long flows) bidirectional flow. src is the initiator. */
export interface FlowRecord {
  /** Flow id, unique within one collector run; interim and final records of a flow share it. */
  id: number;
  /** ms since epoch, first and last packet. */
  start: number;
  end: number;
  proto: Proto;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** initiator -> responder; bytes are IP lengths (header + payload). */
  packets: number;
  bytes: number;
  packetsRev: number;
  bytesRev: number;
  /** "aa:bb:cc:dd:ee:ff" or "" when the source carries no link layer. */
  srcMac: string;
  dstMac: string;
  /** outer 802.1Q VLAN id, 0 when untagged. */
  vlan: number;
  /** OR of TCP flags seen in both directions, 0 for other protocols. */
  tcpFlags: number;
  /**
   * NetFlow/IPFIX: the opener's cumulative TCP flags alone, when the records tell the two
   * sides apart (0 when only the responder's record came). Absent for captures.
   */
  openerTcpFlags?: number;
  origin: Origin;
  /** NetFlow/IPFIX exporter address, "" for captures. */
  exporter: string;
  /** false for an interim record of a flow still open (active timeout). */
  final: boolean;
  /** TLS SNI or HTTP Host seen on this flow, when any. */
  serverName?: string;
  /**
   * Set by a source that settled who opened the flow (NetFlow/IPFIX: the forward side of a
   * biflow, or the earlier of two joined records): true when src is known to be the opener,
   * false when it was only guessed (port rules judge it). Absent: the pipeline decides.
   */
  sureInitiator?: boolean;
  /**
   * addrKey() of src and dst, set by a source that has the addresses as numbers (the flow
   * table), so the stages keyed by address do not read the texts back; absent: addrKey(src).
   */
  srcKey?: number | string;
  dstKey?: number | string;
}

/** Emitted at a flow's first packet so detectors can act before the flow ends. */
export interface FlowStart {
  id: number;
  /** ms since epoch of the first packet. */
  time: number;
  proto: Proto;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  srcMac: string;
  dstMac: string;
  vlan: number;
  /** TCP flags of the first packet (0x02 = SYN), 0 otherwise. */
  tcpFlags: number;
  /** IP length of the first packet. */
  bytes: number;
  origin: Origin;
  exporter: string;
  /** true when the initiator was inferred from a SYN (or SYN-ACK reversed), false when from the first packet. */
  sureInitiator: boolean;
  /**
   * What the first packet says when it opened nothing: a segment of a TCP session that closed
   * moments ago (`late`), an ICMP error about another flow (`icmp-error`), a datagram to a host's
   * port that host just sent a broadcast or multicast discovery from (`discovery-reply`).
   * Absent or undefined otherwise (and from NetFlow/IPFIX, whose records do not tell).
   */
  firstPacket?: 'late' | 'icmp-error' | 'discovery-reply' | undefined;
  /** addrKey() of src and dst when the source has them at hand (see FlowRecord.srcKey). */
  srcKey?: number | string;
  dstKey?: number | string;
}

export interface Device {
  /** MAC when known, else IP. */
  id: string;
  name: string;
  mac: string;
  ips: string[];
  vendor: string;
  hostname: string;
  profile: string;
  segment: string;
  /** ms since epoch. */
  firstSeen: number;
  lastSeen: number;
  /** listed in the policy. */
  known: boolean;
  /**
   * The MUD URL (RFC 8520) the device announced: DHCPv4 option 161, DHCPv6 option 112 or an
   * LLDP MUD TLV; absent when it announced none. Its host names the manufacturer
   * (`manufacturer:DOMAIN`, `same-manufacturer` in policies).
   */
  mudUrl?: string;
}

/**
 * How a device is named in anomalies, the API and InfluxDB's `device` tag: its name (from the
 * policy, unique per device), else its id (MAC, or IP without one). Never the hostname: two
 * devices may announce the same one, and it changes with a DHCP lease. One rule, so the
 * measurements join up.
 */
export function deviceLabel(d: Pick<Device, 'name' | 'id'>): string {
  return d.name || d.id;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** The kinds the bundled detectors report (DESIGN.md's taxonomy). */
export type BuiltinKind =
  | 'policy.violation'
  | 'segment.crossing'
  | 'device.new'
  | 'device.spoof'
  | 'scan.hosts'
  | 'scan.ports'
  | 'protocol.plaintext'
  | 'dns.bypass'
  | 'volume.limit'
  | 'credentials.default'
  | 'collector.degraded'
  | 'device.exposed';

/** A detector registered beside the bundled ones may report a kind of its own. */
export type AnomalyKind = BuiltinKind | (string & {});

/** The bundled detectors' kinds; detect/registry.ts is where each is declared with its severity. */
export const ANOMALY_KINDS: readonly BuiltinKind[] = [
  'policy.violation', 'segment.crossing', 'device.new', 'device.spoof', 'scan.hosts',
  'scan.ports', 'protocol.plaintext', 'dns.bypass', 'volume.limit', 'credentials.default', 'collector.degraded',
  'device.exposed',
];

/** Where an anomaly is in its lifecycle (DESIGN.md "Anomaly lifecycle"). */
export type AnomalyState = 'open' | 'closed';
/**
 * Why it closed: its cause went quiet for the idle time, the input ended, a reloaded policy
 * allows it, too many were open at once (the least recently active closes first), or the
 * condition it reported ended (collector.degraded).
 */
export type CloseReason = '' | 'idle' | 'end' | 'allowed' | 'capacity' | 'cleared';
/** What a sink is told: an anomaly opened, changed while open, or closed. */
export type AnomalyEvent = 'opened' | 'updated' | 'closed';

/** DESIGN.md "Anomaly taxonomy": every field is always present ("" or 0 when not applicable). */
export interface Anomaly {
  /** stable across sinks and restarts: a hash of the cause and its first packet's time. */
  id: string;
  /** ISO 8601 of the first packet. */
  time: string;
  kind: AnomalyKind;
  severity: Severity;
  /** device name (deviceLabel(): policy name, unique per device, else the MAC, else the IP). */
  device: string;
  mac: string;
  ip: string;
  segment: string;
  profile: string;
  peer: string;
  peerName: string;
  peerPort: number;
  proto: string;
  bytes: number;
  packets: number;
  count: number;
  /** ISO 8601. */
  firstSeen: string;
  lastSeen: string;
  rule: string;
  message: string;
  state: AnomalyState;
  closeReason: CloseReason;
  /** a policy exception accepts it: stored and counted, not alerted. */
  suppressed: boolean;
}

/** device_traffic measurement: one per device per interval. */
export interface DeviceTraffic {
  /** ms since epoch, end of the interval. */
  time: number;
  device: string;
  segment: string;
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  flows: number;
  peers: number;
}

/** collector measurement: health every 10 s. */
export interface CollectorStats {
  time: number;
  host: string;
  source: string;
  packets: number;
  bytes: number;
  drops: number;
  decodeErrors: number;
  flowsActive: number;
  flowsEvicted: number;
  queue: number;
  spoolBytes: number;
  /** NetFlow/IPFIX sources' figures, when any runs (fields netflow_* of the collector measurement). */
  netflow?: NetflowFigures;
  /** a live capture's losses, by where (fields kernel_drops, if_drops, ring_drops); drops is their sum. */
  capture?: CaptureDrops;
}

/** Where a live capture lost packets, since start. */
export interface CaptureDrops {
  /** the kernel's capture buffer was full (libpcap's ps_drop). */
  kernel: number;
  /** the interface or its driver dropped them (libpcap's ps_ifdrop). */
  interface: number;
  /** the capture thread's ring to the pipeline was full. */
  ring: number;
}

/** What the NetFlow/IPFIX sources counted since start; plain numbers. */
export interface NetflowFigures {
  /** export datagrams received. */
  datagrams: number;
  /** export records decoded. */
  records: number;
  /** datagrams from exporters outside the allowlist. */
  refused: number;
  /** records dropped by the ifIndex list. */
  filtered: number;
  /** malformed datagrams. */
  malformed: number;
  /** records missing by the exporters' sequence numbers. */
  lost: number;
}

/**
 * What a sink accepts. Sinks batch internally; flush() delivers what is pending,
 * close() flushes and releases resources. A sink never throws from the push methods.
 */
export interface Sink {
  readonly name: string;
  /** a lifecycle event; `a` is the sink's own copy. */
  anomaly?(a: Anomaly, event: AnomalyEvent): void;
  /**
   * The lifecycle events anomaly() acts on (default: all three). An event no sink acts on is
   * not copied for anyone: a replay's 'opened' and 'updated' cost no copies.
   */
  readonly anomalyEvents?: readonly AnomalyEvent[];
  deviceTraffic?(t: DeviceTraffic): void;
  device?(d: Device): void;
  collector?(s: CollectorStats): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Minimal logger the stages see (pino satisfies it). */
export interface Log {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** "aa:bb:cc:dd:ee:ff" from a 48-bit MAC held in a number. */
export function macString(mac: number): string {
  if (mac < 0) return '';
  let s = '';
  for (let i = 5; i >= 0; i--) {
    const b = Math.floor(mac / 2 ** (8 * i)) % 256;
    s += (b < 16 ? '0' : '') + b.toString(16) + (i ? ':' : '');
  }
  return s;
}
