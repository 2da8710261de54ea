// IANA IPFIX information element numbers segwatch reads (the same numbers in NetFlow v9 below
// 128), and the table that turns a template's field list into small slot codes once, when the
// template arrives, so a data record is decoded by a switch over slots, never by a lookup.

export const IE = {
  octetDeltaCount: 1, packetDeltaCount: 2, protocolIdentifier: 4, tcpControlBits: 6,
  sourceTransportPort: 7, sourceIPv4Address: 8, ingressInterface: 10, destinationTransportPort: 11,
  destinationIPv4Address: 12, egressInterface: 14, flowEndSysUpTime: 21, flowStartSysUpTime: 22,
  sourceIPv6Address: 27, destinationIPv6Address: 28, icmpTypeCodeIPv4: 32, samplingInterval: 34,
  samplingAlgorithm: 35, samplerId: 48, samplerRandomInterval: 50, sourceMacAddress: 56,
  postDestinationMacAddress: 57, vlanId: 58, flowDirection: 61, destinationMacAddress: 80,
  postSourceMacAddress: 81, octetTotalCount: 85, packetTotalCount: 86, icmpTypeCodeIPv6: 139,
  flowStartSeconds: 150, flowEndSeconds: 151, flowStartMilliseconds: 152, flowEndMilliseconds: 153,
  flowStartMicroseconds: 154, flowEndMicroseconds: 155, flowStartNanoseconds: 156, flowEndNanoseconds: 157,
  flowStartDeltaMicroseconds: 158, flowEndDeltaMicroseconds: 159, systemInitTimeMilliseconds: 160,
  icmpTypeIPv4: 176, icmpCodeIPv4: 177, icmpTypeIPv6: 178, icmpCodeIPv6: 179, dot1qVlanId: 243,
  selectorId: 302, samplingPacketInterval: 305, samplingPacketSpace: 306, samplingSize: 309,
  samplingPopulation: 310,
} as const;

/** RFC 5103: the reverse of IE n is IE n under this private enterprise number. */
export const PEN_REVERSE = 29305;

// Slot codes. 0 = skip the field.
export const S_SKIP = 0;
export const S_BYTES = 1;
export const S_PACKETS = 2;
export const S_BYTES_TOTAL = 3;
export const S_PACKETS_TOTAL = 4;
export const S_PROTO = 5;
export const S_FLAGS = 6;
export const S_SPORT = 7;
export const S_DPORT = 8;
export const S_SRC4 = 9;
export const S_DST4 = 10;
export const S_SRC6 = 11;
export const S_DST6 = 12;
export const S_IN_IF = 13;
export const S_OUT_IF = 14;
export const S_END_UPTIME = 15;
export const S_START_UPTIME = 16;
export const S_ICMP_TYPECODE = 17;
export const S_SAMPLING = 18;
export const S_SAMPLER_ID = 19;
export const S_SRC_MAC = 20;
export const S_DST_MAC = 21;
export const S_POST_SRC_MAC = 22;
export const S_POST_DST_MAC = 23;
export const S_VLAN = 24;
export const S_DIRECTION = 25;
export const S_START_SEC = 26;
export const S_END_SEC = 27;
export const S_START_MS = 28;
export const S_END_MS = 29;
export const S_START_NTP = 30;
export const S_END_NTP = 31;
export const S_START_DELTA_US = 32;
export const S_END_DELTA_US = 33;
export const S_SYS_INIT_MS = 34;
export const S_ICMP_TYPE = 35;
export const S_ICMP_CODE = 36;
export const S_BYTES_REV = 37;
export const S_PACKETS_REV = 38;
export const S_BYTES_TOTAL_REV = 39;
export const S_PACKETS_TOTAL_REV = 40;
export const S_FLAGS_REV = 41;
export const S_PACKET_INTERVAL = 42;
export const S_PACKET_SPACE = 43;
export const S_SAMPLING_SIZE = 44;
export const S_SAMPLING_POPULATION = 45;

/** Slot of each standard (enterprise bit clear) IE number, 0..32767. */
export const STANDARD_SLOTS: Uint8Array = (() => {
  const s = new Uint8Array(32768);
  const set = (ie: number, slot: number) => { s[ie] = slot; };
  set(IE.octetDeltaCount, S_BYTES); set(IE.packetDeltaCount, S_PACKETS);
  set(IE.octetTotalCount, S_BYTES_TOTAL); set(IE.packetTotalCount, S_PACKETS_TOTAL);
  set(IE.protocolIdentifier, S_PROTO); set(IE.tcpControlBits, S_FLAGS);
  set(IE.sourceTransportPort, S_SPORT); set(IE.destinationTransportPort, S_DPORT);
  set(IE.sourceIPv4Address, S_SRC4); set(IE.destinationIPv4Address, S_DST4);
  set(IE.sourceIPv6Address, S_SRC6); set(IE.destinationIPv6Address, S_DST6);
  set(IE.ingressInterface, S_IN_IF); set(IE.egressInterface, S_OUT_IF);
  set(IE.flowEndSysUpTime, S_END_UPTIME); set(IE.flowStartSysUpTime, S_START_UPTIME);
  set(IE.icmpTypeCodeIPv4, S_ICMP_TYPECODE); set(IE.icmpTypeCodeIPv6, S_ICMP_TYPECODE);
  set(IE.samplingInterval, S_SAMPLING); set(IE.samplerRandomInterval, S_SAMPLING);
  set(IE.samplingPacketInterval, S_PACKET_INTERVAL); set(IE.samplingPacketSpace, S_PACKET_SPACE);
  set(IE.samplingSize, S_SAMPLING_SIZE); set(IE.samplingPopulation, S_SAMPLING_POPULATION);
  set(IE.samplerId, S_SAMPLER_ID); set(IE.selectorId, S_SAMPLER_ID);
  set(IE.sourceMacAddress, S_SRC_MAC); set(IE.destinationMacAddress, S_DST_MAC);
  set(IE.postSourceMacAddress, S_POST_SRC_MAC); set(IE.postDestinationMacAddress, S_POST_DST_MAC);
  set(IE.vlanId, S_VLAN); set(IE.dot1qVlanId, S_VLAN); set(IE.flowDirection, S_DIRECTION);
  set(IE.flowStartSeconds, S_START_SEC); set(IE.flowEndSeconds, S_END_SEC);
  set(IE.flowStartMilliseconds, S_START_MS); set(IE.flowEndMilliseconds, S_END_MS);
  set(IE.flowStartMicroseconds, S_START_NTP); set(IE.flowEndMicroseconds, S_END_NTP);
  set(IE.flowStartNanoseconds, S_START_NTP); set(IE.flowEndNanoseconds, S_END_NTP);
  set(IE.flowStartDeltaMicroseconds, S_START_DELTA_US); set(IE.flowEndDeltaMicroseconds, S_END_DELTA_US);
  set(IE.systemInitTimeMilliseconds, S_SYS_INIT_MS);
  set(IE.icmpTypeIPv4, S_ICMP_TYPE); set(IE.icmpTypeIPv6, S_ICMP_TYPE);
  set(IE.icmpCodeIPv4, S_ICMP_CODE); set(IE.icmpCodeIPv6, S_ICMP_CODE);
  return s;
})();

/** Slot of a reverse IE (PEN 29305), or 0 for the reverse IEs segwatch does not keep. */
export function reverseSlot(ie: number): number {
  switch (ie) {
    case IE.octetDeltaCount: return S_BYTES_REV;
    case IE.packetDeltaCount: return S_PACKETS_REV;
    case IE.octetTotalCount: return S_BYTES_TOTAL_REV;
    case IE.packetTotalCount: return S_PACKETS_TOTAL_REV;
    case IE.tcpControlBits: return S_FLAGS_REV;
    default: return S_SKIP;
  }
}

/**
 * The sampling interval (1 in N) of the PSAMP elements RFC 5477 describes: random n-out-of-N
 * (samplingSize n, samplingPopulation N) or count-based (samplingPacketInterval packets taken,
 * samplingPacketSpace skipped; an interval alone is read as the rate, as exporters that send only
 * it mean). 0 when none is given.
 */
export function psampRate(interval: number, space: number, size: number, population: number): number {
  if (size > 0 && population > 0) return population / size;
  if (interval > 0) return space >= 0 ? (interval + space) / interval : interval;
  return 0;
}
