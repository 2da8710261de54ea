// The one app-layer dispatcher: which payloads of a packet teach the inventory something
// (DNS answers, mDNS names, DHCP leases, DHCPv6 and LLDP MUD URLs, neighbour discovery) and which name a flow or
// signal something to the detectors (TLS SNI, HTTP Host, HTTP Basic auth), and which TCP
// payload detectors read themselves (flows on the ports they ask for; HTTP requests with
// Basic credentials). Ports and types decide; the decoders read in place from the frame.

import { PacketInfo, L3 } from './decode/packet.js';
import { decodeDns } from './decode/dns.js';
import { DnsAnswers } from './decode/dns-answers.js';
import { decodeDhcp } from './decode/dhcp.js';
import { decodeDhcp6 } from './decode/dhcp6.js';
import { decodeLldp, ETHERTYPE_LLDP } from './decode/lldp.js';
import { tlsSni } from './decode/tls.js';
import { httpHost, httpBasicAuth } from './decode/http.js';
import { decodeNdp, NdpInfo } from './decode/ndp.js';
import { ip4String, ip6String } from './decode/addr.js';
import { packetIpWords } from './inventory/ip-words.js';
import type { Inventory } from './inventory/inventory.js';
import type { FlowTable } from './flows/flow-table.js';
import type { DetectEngine } from './detect/engine.js';
import type { PayloadEvent } from './detect/detector.js';
import { macString } from './types.js';

/** How many initiator payload packets of a TCP flow are searched for a TLS SNI or HTTP Host. */
const NAME_SEARCH_PACKETS = 3;

// What a UDP datagram's ports say it carries, for packet() and appWants() alike.
const UDP_NONE = 0, UDP_MDNS = 1, UDP_DNS = 2, UDP_DHCP = 3, UDP_DHCP6 = 4;

function udpKind(sp: number, dp: number): number {
  if (sp === 5353 || dp === 5353) return UDP_MDNS;
  if (sp === 53 || dp === 53) return UDP_DNS;
  if (sp === 67 || dp === 67 || sp === 68 || dp === 68) return UDP_DHCP;
  // client to server or relay agent; relay to relay/server (relay-forward) on 547 too
  return dp === 547 ? UDP_DHCP6 : UDP_NONE;
}

/** router/neighbour solicitation and advertisement, redirect: 133-137 */
function isNdType(t: number): boolean {
  return t >= 133 && t <= 137;
}

/** The initiator's first payload packets, searched for a server name (lastDir/lastIndex as the table set them). */
function inNameSearch(lastDir: number, lastIndex: number): boolean {
  return lastDir === 0 && lastIndex <= NAME_SEARCH_PACKETS + 2;
}

/** What the dispatcher reads of the flow table: the FlowTable, or another thread's as its events tell. */
export type AppFlows = Pick<FlowTable, 'lastDir' | 'lastIndex' | 'setName' | 'startOf'>;

/**
 * Whether packet() could do anything with p, just counted as a flow's packet (lastDir and
 * lastIndex as the table set them): a thread that counts flows for another hands over only
 * these frames. Learning is decided by the receiver (its VLAN); this asks only ports and types.
 */
export function appWants(p: PacketInfo, lastDir: number, lastIndex: number, payloadPorts: Uint8Array): boolean {
  const proto = p.proto;
  if (proto === 6) {
    if (p.payloadLength <= 0) return false;
    if ((payloadPorts[p.sport] | payloadPorts[p.dport]) !== 0) return true;
    return inNameSearch(lastDir, lastIndex) && namesServer(p);
  }
  if (proto === 17) return udpKind(p.sport, p.dport) !== UDP_NONE;
  return proto === 58 && isNdType(p.icmpType);
}

/** A frame that is neither IP nor ARP that nonIp() reads (LLDP). */
export function appWantsNonIp(p: PacketInfo): boolean {
  return p.etherType === ETHERTYPE_LLDP;
}

/**
 * p's TCP payload names a server: a TLS ClientHello's SNI (a payload starting 0x16) or an HTTP
 * request's Host (methods are upper case). tcpPayload() reads nothing from any other payload.
 */
export function namesServer(p: PacketInfo): boolean {
  const b = p.buf, o = p.payloadOffset, n = p.payloadLength, first = b[o];
  return first === 0x16 ? tlsSni(b, o, n) !== null : first >= 0x41 && first <= 0x5a && httpHost(b, o, n) !== null;
}

export class AppLayer {
  private readonly ndp = new NdpInfo();
  private readonly dnsAnswers = new DnsAnswers();
  private readonly dnsClient = new Uint32Array(4);
  /** the one PayloadEvent, refilled per segment; start() reads the flow it names. */
  private readonly payloadEv: PayloadEvent;
  /** 1 at TCP ports whose payload a detector wants; all 0 without detectors. */
  readonly payloadPorts: Uint8Array;
  /** DHCP, DHCPv6 and LLDP messages with an option past their end or unreadable: what was read is used, the rest skipped */
  malformed = 0;

  constructor(
    private readonly flows: AppFlows,
    private readonly inventory: Inventory | null,
    private readonly detect: DetectEngine | null,
  ) {
    this.payloadPorts = detect?.wantsPayload ? detect.payloadPorts : new Uint8Array(65536);
    const ev: PayloadEvent = {
      flowId: 0, time: 0, dir: 0, sport: 0, dport: 0, seq: 0, buf: new Uint8Array(0), off: 0, len: 0, what: 'port',
      start: () => this.flows.startOf(ev.flowId),
    };
    this.payloadEv = ev;
  }

  /**
   * A packet the flow table just counted as flow `id`. `learn` is false for frames outside
   * the watched VLAN: they name flows but teach the inventory nothing.
   */
  packet(p: PacketInfo, id: number, learn: boolean): void {
    const proto = p.proto;
    if (proto === 6) {
      if (p.payloadLength > 0) {
        const pp = this.payloadPorts;
        if ((pp[p.sport] | pp[p.dport]) !== 0) this.payload(id, p, 'port');
        if (inNameSearch(this.flows.lastDir, this.flows.lastIndex)) this.tcpPayload(id, p);
      }
      return;
    }
    const inv = this.inventory;
    if (!learn || inv === null) return;
    if (proto === 17) {
      const kind = udpKind(p.sport, p.dport);
      if (kind === UDP_MDNS) {
        const msg = decodeDns(p.buf, p.payloadOffset, p.payloadLength);
        if (msg) inv.observeMdns(ipText(p, true), macString(p.srcMac), msg, p.ts);
      } else if (kind === UDP_DNS) {
        // a response is what the client (its destination) learned: names for addresses, read
        // without a message object (queries and the other sections teach nothing here)
        if (!this.dnsAnswers.read(p.buf, p.payloadOffset, p.payloadLength)) return;
        inv.observeDnsAnswers(packetIpWords(p, false, this.dnsClient, 0), this.dnsClient, this.dnsAnswers, p.ts);
        if (this.detect?.wantsDnsAnswers) this.detect.dnsAnswer({ time: p.ts, client: ipText(p, false), server: ipText(p, true), answers: this.dnsAnswers });
      } else if (kind === UDP_DHCP) {
        const m = decodeDhcp(p.buf, p.payloadOffset, p.payloadLength);
        if (m) {
          if (m.incomplete || m.badOption) this.malformed++;
          inv.observeDhcp(m, p.ts);
        }
      } else if (kind === UDP_DHCP6) {
        const m = decodeDhcp6(p.buf, p.payloadOffset, p.payloadLength);
        if (m) {
          if (m.malformed) this.malformed++;
          inv.observeDhcp6(m, p.srcMac, p.ts);
        }
      }
    } else if (proto === 58) {
      if (isNdType(p.icmpType) && decodeNdp(p.buf, p.payloadOffset, p.payloadLength, p.icmpType, this.ndp)) {
        inv.observeNdp(p, this.ndp);
      }
    }
  }

  /**
   * A frame that is neither IP nor ARP (decoded without error): LLDP's MUD URL TLV teaches the
   * inventory; other EtherTypes cost one comparison.
   */
  nonIp(p: PacketInfo, learn: boolean): void {
    if (p.etherType !== ETHERTYPE_LLDP || !learn || this.inventory === null) return;
    const info = decodeLldp(p.buf, p.l3Offset, p.frameOffset + p.caplen);
    if (info.malformed) this.malformed++;
    if (info.mudUrl !== undefined) this.inventory.observeLldpMudUrl(p.srcMac, info.mudUrl, p.ts);
  }

  private tcpPayload(id: number, p: PacketInfo): void {
    const b = p.buf, off = p.payloadOffset, len = p.payloadLength;
    if (b[off] === 0x16) {
      const sni = tlsSni(b, off, len);
      if (sni) this.nameFlow(id, sni);
      return;
    }
    const host = httpHost(b, off, len);
    if (host) this.nameFlow(id, host);
    if (host !== null && httpBasicAuth(b, off, len)) {
      // the flow's facts from the table: this payload's packet was just counted in it
      const start = this.flows.startOf(id);
      if (start) this.detect?.signal(start, 'http-basic-auth');
      if (this.detect?.wantsPayload) this.payload(id, p, 'http-basic-auth');
    }
  }

  /** Hands the segment's payload (in place, in the frame) to the detectors that read it. */
  private payload(id: number, p: PacketInfo, what: PayloadEvent['what']): void {
    const ev = this.payloadEv;
    ev.flowId = id; ev.time = p.ts; ev.dir = this.flows.lastDir; ev.sport = p.sport; ev.dport = p.dport; ev.seq = p.tcpSeq;
    ev.buf = p.buf; ev.off = p.payloadOffset; ev.len = p.payloadLength; ev.what = what;
    this.detect!.payload(ev);
    ev.buf = EMPTY;
  }

  private nameFlow(id: number, name: string): void {
    this.flows.setName(id, name);
    this.detect?.flowName(id, name);
  }
}

const EMPTY = new Uint8Array(0);

function ipText(p: PacketInfo, src: boolean): string {
  if (p.l3 === L3.IPv4) return ip4String(src ? p.src4 : p.dst4);
  return ip6String(p.buf, src ? p.srcOff : p.dstOff);
}
