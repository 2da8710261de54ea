// The flow as detectors judge it: oriented so that src is the side that opened it (or no
// opener at all), plus the address tests detectors share.

import type { FlowStart } from '../types.js';

/** A flow seen from its opener (src opened it). Read-only: it may be the FlowStart itself. */
export type OpenedFlow = Readonly<Pick<FlowStart, 'id' | 'time' | 'proto' | 'src' | 'sport' | 'dst' | 'dport' | 'srcMac' | 'dstMac' | 'vlan' | 'bytes'>>;

/**
 * TCP ports above 1023 that servers listen on in a home or small office (MQTT, alternate
 * HTTP(S), device APIs, media): a side on one of these, or on a port below 1024, is the
 * server of a connection whose SYN was not seen.
 */
export const SERVICE_PORTS: ReadonlySet<number> = new Set([
  1400, 1883, 1935, 3478, 4070, 5000, 5001, 5222, 5223, 5228, 5349, 5683, 6668, 8000, 8008, 8009,
  8080, 8081, 8088, 8123, 8443, 8554, 8883, 8888, 9000, 9443, 9999, 32400, 55443,
]);

/** A server's port: below 1024 (not 0: no port) or a bundled service port. */
export function isServicePort(port: number): boolean {
  return (port > 0 && port < 1024) || SERVICE_PORTS.has(port);
}

/**
 * The opener of a flow (src of the result), `unknown` when its first packet cannot tell, or
 * `none` when the flow opened nothing: a late segment of a closed TCP session, an ICMP error
 * (it belongs to the flow it quotes), a reply to a broadcast or multicast discovery.
 *
 * A TCP flow whose first packet was not a SYN (capture started mid-flow) was opened by the
 * side that is not the server: the side on a service port (isServicePort) is the server; when
 * neither or both are, the opener is unknown: guessing "whoever spoke first" made a plug's RST
 * to a cloud server's late TLS alert look like the plug opening a connection. A UDP flow whose
 * first packet goes from a port below 1024 to one above is a reply whose request was not seen.
 */
export function opener(f: FlowStart): OpenedFlow | 'unknown' | 'none' {
  if (f.firstPacket !== undefined) return 'none';
  if (f.proto === 'tcp') {
    if (f.sureInitiator) return f;
    const s = isServicePort(f.sport), d = isServicePort(f.dport);
    if (s === d) return 'unknown';
    return s ? turned(f) : f;
  }
  if (f.proto === 'udp' && f.sport > 0 && f.sport < 1024 && f.dport >= 1024) return turned(f);
  // the usual case needs no copy: a FlowStart already is its opener's view
  return f;
}

/** opener() for callers that need a side either way (clear text is judged whoever opened it): f itself when it cannot tell. */
export function orient(f: FlowStart): OpenedFlow {
  const o = opener(f);
  return typeof o === 'string' ? f : o;
}

function turned(f: FlowStart): OpenedFlow {
  return { id: f.id, time: f.time, proto: f.proto, src: f.dst, sport: f.dport, dst: f.src, dport: f.sport,
    srcMac: f.dstMac, dstMac: f.srcMac, vlan: f.vlan, bytes: f.bytes };
}

/** Broadcast or multicast (IPv4 224/4, 255.255.255.255; IPv6 ff00::/8): not a host. */
/** isGroupAddress() of an IPv4 address given as its addrKey() (the 32-bit value, signed). */
export function isGroupAddress4(v: number): boolean {
  const first = v >>> 24;
  return (first >= 224 && first <= 239) || v === -1;
}

export function isGroupAddress(ip: string): boolean {
  if (ip.includes(':')) return ip.length >= 2 && (ip[0] === 'f' || ip[0] === 'F') && (ip[1] === 'f' || ip[1] === 'F');
  if (ip === '255.255.255.255') return true;
  const dot = ip.indexOf('.');
  const first = Number(ip.slice(0, dot));
  return first >= 224 && first <= 239;
}
