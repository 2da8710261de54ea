// The decode stage's public surface: the per-packet decoder and the app-layer decoders.

export { decodeFrame } from './frame.js';
export { PacketInfo, DECODE_ERROR_NAMES } from './packet.js';
export { NdpInfo, decodeNdp } from './ndp.js';
export { decodeDns, type DnsMessage, type DnsRecord, type DnsQuestion } from './dns.js';
export { decodeDhcp, type DhcpMessage } from './dhcp.js';
export { tlsSni } from './tls.js';
export { httpHost, httpBasicAuth } from './http.js';
