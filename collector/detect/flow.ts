// The flow as detectors judge it: oriented so that src is the side that opened it, plus
// the address tests detectors share.

import type { FlowStart } from '../types.js';

/** A flow seen from its opener (src opened it). Read-only: it may be the FlowStart itself. */
export type OpenedFlow = Readonly<Pick<FlowStart, 'id' | 'time' | 'proto' | 'src' | 'sport' | 'dst' | 'dport' | 'srcMac' | 'dstMac' | 'vlan' | 'bytes'>>;

/**
 * The opener of a flow. A flow whose first packet was not a SYN (capture started mid-flow)
 * or a UDP flow whose first packet goes from a service port (< 1024) to an ephemeral one
 * (>= 1024) is a reply whose request was not seen: the other side opened it. Without this
 * a camera answering an NVR's RTSP session would look as if it had opened a flow.
 */
export function orient(f: FlowStart): OpenedFlow {
  const udp = f.proto === 'udp';
  const unsure = (f.proto === 'tcp' && !f.sureInitiator) || udp;
  const reversed = unsure && f.sport > 0 && f.sport < 1024 && f.dport >= 1024;
  // the usual case needs no copy: a FlowStart already is its opener's view
  return reversed
    ? { id: f.id, time: f.time, proto: f.proto, src: f.dst, sport: f.dport, dst: f.src, dport: f.sport,
        srcMac: f.dstMac, dstMac: f.srcMac, vlan: f.vlan, bytes: f.bytes }
    : f;
}

/** Broadcast or multicast (IPv4 224/4, 255.255.255.255; IPv6 ff00::/8): not a host. */
export function isGroupAddress(ip: string): boolean {
  if (ip.includes(':')) return ip.length >= 2 && (ip[0] === 'f' || ip[0] === 'F') && (ip[1] === 'f' || ip[1] === 'F');
  if (ip === '255.255.255.255') return true;
  const dot = ip.indexOf('.');
  const first = Number(ip.slice(0, dot));
  return first >= 224 && first <= 239;
}
