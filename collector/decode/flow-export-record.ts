// The shape a NetFlow v5/v9 or IPFIX decoder hands to the receiver, one reused object per
// decoder: one unidirectional (or RFC 5103 biflow) export record, before sampling is applied
// and before records of one conversation are joined. The receiver filters (ifIndex), scales
// and joins; the decoder only reads what the datagram says.

export interface ExportRecord {
  /** 5, 9 or 10 (IPFIX). */
  version: number;
  /** exporter address text (the datagram's source address), set by the caller. */
  exporter: string;
  /** v9 source ID, IPFIX observation domain ID; v5: engine_type << 8 | engine_id. */
  domain: number;
  /** 4 or 6; 0 when the record carries no address (skipped by the receiver). */
  ipVersion: number;
  /** address texts, canonical ("192.0.2.1", "2001:db8::1"). */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** IANA protocol number. */
  proto: number;
  /** raw counters as exported (before the sampling interval is applied). */
  packets: number;
  bytes: number;
  /** RFC 5103 reverse counters of a biflow record; 0 otherwise. */
  packetsRev: number;
  bytesRev: number;
  /** the record carries reverse information elements (RFC 5103). */
  biflow: boolean;
  /** 1 when unsampled; from the record, the exporter's options data, or the v5 header. */
  samplingInterval: number;
  /** ms since epoch of the first and last packet (from sysUptime or absolute timestamps). */
  start: number;
  end: number;
  /** cumulative TCP flags (forward; reverse for biflows). */
  tcpFlags: number;
  tcpFlagsRev: number;
  /** "aa:bb:cc:dd:ee:ff" when the template carries it, else "". */
  srcMac: string;
  dstMac: string;
  /** 802.1Q VLAN id, 0 when absent. */
  vlan: number;
  /** SNMP ifIndex of the input and output interface, 0 when absent. */
  inIf: number;
  outIf: number;
  /** ICMP type and code when the record carries them (icmpTypeCodeIPv4/IPv6 or v5 dport), else -1. */
  icmpType: number;
  icmpCode: number;
  /** flowDirection (IE 61): 0 ingress, 1 egress, -1 absent. */
  direction: number;
}

export function newExportRecord(): ExportRecord {
  return {
    version: 0, exporter: '', domain: 0, ipVersion: 0, src: '', dst: '', sport: 0, dport: 0, proto: 0,
    packets: 0, bytes: 0, packetsRev: 0, bytesRev: 0, biflow: false, samplingInterval: 1, start: 0, end: 0,
    tcpFlags: 0, tcpFlagsRev: 0, srcMac: '', dstMac: '', vlan: 0, inIf: 0, outIf: 0, icmpType: -1, icmpCode: -1, direction: -1,
  };
}
