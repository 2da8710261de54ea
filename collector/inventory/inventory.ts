// The device inventory: devices keyed by MAC (by IP when a source has no link layer), their
// IP bindings from ARP, DHCP, neighbour discovery and traffic, names from DHCP and mDNS,
// vendor from the OUI registry, and the DNS names each client resolved.

import type { Device, FlowStart, Text } from '../types.js';
import { macString } from '../types.js';
import type { PacketInfo } from '../decode/packet.js';
import { L3 } from '../decode/packet.js';
import type { NdpInfo } from '../decode/ndp.js';
import type { DhcpMessage } from '../decode/dhcp.js';
import type { Dhcp6Message } from '../decode/dhcp6.js';
import type { DnsMessage } from '../decode/dns.js';
import { DNS_A, DNS_AAAA } from '../decode/dns.js';
import type { DnsAnswers } from '../decode/dns-answers.js';
import { ip4String, ip6String, canonicalIp } from '../decode/addr.js';
import type { BindingConflict, InventoryEvents, InventoryView, Placement } from './types.js';
import { isBindableIp, isLocalIp, isLocalIp4, isStationMac, lowerText, sameSubnet } from './addresses.js';
import { vendorOf } from './oui.js';
import { DnsNames } from './dns-names.js';
import { addrKey } from './addr-key.js';
import { validMudUrl } from './mud-url.js';
import { Oldest } from '../oldest.js';

/** What placement reads of a device; mudUrl is "" when it announced none. */
export interface DeviceFacts { mac: string; ip: string; vendor: string; hostname: string; mudUrl: string }

export interface InventoryOptions {
  /** which source addresses of traffic are bound to the sender's MAC; default isLocalIp (RFC 1918, CGNAT, link-local, ULA) */
  isLocal?: (ip: string) => boolean;
  /**
   * isLocal() of an IPv4 address as addrKey() gives it (no text parsed: a sweep's every flow
   * asks it of a new host); default isLocalIp4. Give it whenever isLocal is given: they must agree.
   */
  isLocal4?: (v: number) => boolean;
  /**
   * Do two local addresses share a link (a frame between them is not routed, so its destination
   * MAC is the responder's own)? Default sameSubnet(): the same /24 or /64.
   */
  sameLink?: (a: string, b: string) => boolean;
  /** the policy's placement of a device; called when a device appears and when its facts change */
  place?: (facts: DeviceFacts) => Placement;
  /** ms a DNS name outlives its TTL; default 300 000 */
  dnsGraceMs?: number;
  /** DNS names kept in all (per client and address); default 100 000; names dropped at the cap are counted (capStats) */
  dnsMaxEntries?: number;
  /**
   * devices held at most; default 65 536. At the cap a new device takes the place of the one
   * that entered first, unless that one was seen within the last minute (then it goes to the
   * back and the next is tried, a few at most); forgotten devices are counted (capStats).
   */
  maxDevices?: number;
  /**
   * ms of packet time after which a binding nobody re-confirmed may move to another MAC without
   * a conflict (a lease handed to a new device after the old one left); default 1 800 000.
   */
  bindingStaleMs?: number;
  /**
   * Traffic alone (a flow's source MAC and IP) claiming another MAC's address raises a conflict.
   * Default false: a router forwarding other subnets' packets would look like a spoofer; an
   * attacker needs ARP or ND to receive replies, and those are always checked.
   */
  trafficConflicts?: boolean;
  /**
   * With a policy: whether frames on this link carry ip's own MAC when ip talks to peer: ip is
   * inside the policy's segments and either watched (the monitored link) or in peer's segment
   * (same link, not routed). Traffic then binds ip to its MAC in any frame, as sender or as
   * receiver, so `device:NAME` rules work from a device's first packet; addresses outside the
   * segments never bind (routed traffic carries the gateway's MAC). Without it, only a flow's
   * first sender binds, when isLocal.
   */
  onLink?: (ip: string, peer: string) => boolean;
}

export type BindingSource = BindingConflict['source'];

interface Binding {
  mac: string;
  /** last packet time the owner claimed or used the address */
  confirmed: number;
  source: BindingSource;
  /** the holder before a contested claim took the address: its reclaim restores, it does not spoof */
  previous?: string;
}

interface Entry {
  dev: Device;
  /** text of the fields onDevice reports, to tell a change from a lastSeen tick */
  sig: string;
  /** the facts placement was last computed from: place() runs only when they change */
  facts: string;
  hostnameFrom: 'dhcp' | 'mdns' | '';
}

/** InventoryOptions.maxDevices unless given. */
export const DEFAULT_MAX_DEVICES = 65_536;
/** a device seen this recently is passed over once when the cap needs room */
const RECENT_MS = 60_000;

export interface InventoryCapStats {
  devices: number;
  /** devices forgotten at maxDevices */
  devicesEvicted: number;
  /** DNS names held (dnsMaxEntries) */
  dnsNames: number;
  /** DNS names dropped to stay under dnsMaxEntries or 16 per (client, address) */
  dnsNamesEvicted: number;
}

/**
 * Slots of the memo of bound IPv4 addresses (a power of two): a segment's devices, each asked
 * for at every flow start and record by several stages.
 */
const MEMO_SLOTS = 16_384;
const MEMO_SHIFT = 32 - Math.log2(MEMO_SLOTS);
/** the memo slot of an IPv4 key (Fibonacci hashing: neighbouring addresses spread) */
const memoIndex = (k: number): number => Math.imul(k, 0x9e3779b1) >>> MEMO_SHIFT;
/** buckets of the IPv4 bindings' count (Inventory.bound4) */
const BOUND_SHIFT = 16;
const boundIndex = (k: number): number => Math.imul(k, 0x9e3779b1) >>> BOUND_SHIFT;

/** namesFor() when no name is held at all: shared, read-only */
const NO_NAMES: readonly string[] = Object.freeze([]);
const NO_PLACE: Placement = { name: '', profile: '', known: false, segment: '' };

export class Inventory implements InventoryView {
  private readonly isLocal: (ip: string) => boolean;
  private readonly isLocal4: (v: number) => boolean;
  private readonly sameLink: (a: string, b: string) => boolean;
  private readonly place: ((facts: DeviceFacts) => Placement) | undefined;
  private readonly staleMs: number;
  private readonly trafficConflicts: boolean;
  private readonly onLink: ((ip: string, peer: string) => boolean) | undefined;
  private readonly events: InventoryEvents;
  private readonly byId = new Map<string, Entry>();
  /** by addrKey() of the canonical address text */
  private readonly bindings = new Map<number | string, Binding>();
  /**
   * IPv4 bindings per bucket of their key, saturating at 255 (then never lowered): a zero says
   * an address is bound to no one without a Map look-up, a cache miss per flow when every
   * flow's responder is a new Internet host. Kept by setBinding() and dropBinding() alone.
   */
  private readonly bound4 = new Uint8Array(1 << (32 - BOUND_SHIFT));
  private readonly dns: DnsNames;
  /** MUD URLs announced but refused by validMudUrl() (not https, too long, unparsable): skipped */
  mudUrlsRejected = 0;
  private readonly maxDevices: number;
  private readonly byIdOldest = new Oldest(this.byId);
  private devicesEvicted = 0;
  // The memo of bound IPv4 addresses: address key -> its binding and its MAC's entry, direct
  // mapped. Each of a flow's stages asking for the device at an address cost two Map look-ups
  // and the objects between them (a binding, its MAC text, the entry): under churn, a cache
  // miss each. A memo slot holds [key, generation]; it answers only while no binding and no
  // entry changed since it was filled (every such change moves `generation`), so it never
  // answers what the Maps would not.
  private readonly memoKeys = new Int32Array(2 * MEMO_SLOTS);
  // the device, not its Entry: a flow start reads and moves its lastSeen, one object fewer to reach
  private readonly memoDevs: (Device | null)[] = new Array<Device | null>(MEMO_SLOTS).fill(null);
  private readonly memoBindings: (Binding | null)[] = new Array<Binding | null>(MEMO_SLOTS).fill(null);
  /** observeResponder()'s last MAC and its entry, valid while `generation` is respGeneration */
  private respMac = '';
  private respEntry: Entry | undefined = undefined;
  private respGeneration = 0;
  /** moves whenever bindings or byId change; 0 is never current (an empty memo slot's) */
  private generation = 1;

  constructor(opts: InventoryOptions = {}, events: InventoryEvents = {}) {
    this.isLocal = opts.isLocal ?? isLocalIp;
    this.isLocal4 = opts.isLocal4 ?? (opts.isLocal ? (v) => this.isLocal(ip4String(v >>> 0)) : isLocalIp4);
    this.sameLink = opts.sameLink ?? sameSubnet;
    this.place = opts.place;
    this.staleMs = opts.bindingStaleMs ?? 1_800_000;
    this.trafficConflicts = opts.trafficConflicts ?? false;
    this.onLink = opts.onLink;
    this.events = events;
    this.dns = new DnsNames(opts.dnsGraceMs ?? 300_000, Math.max(1, opts.dnsMaxEntries ?? 100_000));
    this.maxDevices = Math.max(1, Math.floor(opts.maxDevices ?? DEFAULT_MAX_DEVICES));
  }

  /** What the caps hold and what they pushed out: devices and DNS names. */
  capStats(): InventoryCapStats {
    return { devices: this.byId.size, devicesEvicted: this.devicesEvicted, dnsNames: this.dns.size, dnsNamesEvicted: this.dns.evicted };
  }

  // ---- InventoryView -------------------------------------------------------------
  // The Device objects returned are the inventory's own: read them, do not change them.

  deviceByIp(ip: string, key: number | string = addrKey(ip)): Device | undefined {
    const m = typeof key === 'number' ? this.memoSlot(key) : -1;
    if (m >= 0) return this.memoDevs[m]!;
    // Callers mostly pass the canonical text the decoders produced: try it before re-parsing.
    const hit = this.bindings.get(key);
    if (hit) {
      const e = this.byId.get(hit.mac);
      if (e !== undefined && typeof key === 'number') this.remember(key, e, hit);
      return e?.dev;
    }
    const c = canonicalIp(ip);
    if (c === null) return undefined;
    const b = this.bindings.get(addrKey(c));
    if (b) return this.byId.get(b.mac)?.dev;
    return this.byId.get(c)?.dev;
  }

  deviceByMac(mac: string): Device | undefined {
    return this.byId.get(lowerText(mac))?.dev;
  }

  namesFor(client: string, peer: Text, ts: number, clientKey?: number | string, peerKey?: number | string): readonly string[] {
    // no answer held at all (no DNS seen yet, or a sweep's every flow before any): nothing to find
    if (this.dns.size === 0) return NO_NAMES;
    const names = this.dns.namesFor(client, peer, ts, clientKey, peerKey);
    if (names.length > 0) return names;
    // A dual-stack device may ask over one family and connect over the other (an A and an
    // AAAA query over IPv4, then the flow over IPv6): what it resolved is the device's, so
    // its other addresses' answers count too. Only on a miss, and devices have a few addresses.
    const dev = this.deviceByIp(client, clientKey);
    if (dev === undefined || dev.ips.length < 2) return names;
    for (const ip of dev.ips) {
      if (ip === client) continue;
      const other = this.dns.namesFor(ip, peer, ts, undefined, peerKey);
      if (other.length > 0) return other;
    }
    return names;
  }

  /** Sorted by first seen, then id. */
  devices(): readonly Device[] {
    return [...this.byId.values()].map((e) => e.dev)
      .sort((a, b) => a.firstSeen - b.firstSeen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // ---- what the pipeline feeds ---------------------------------------------------

  /** ARP request or reply: the sender's MAC owns the sender's address (probes from 0.0.0.0 own nothing). */
  observeArp(p: PacketInfo): void {
    if (p.l3 !== L3.ARP || p.arpSenderMac < 0) return;
    const mac = macString(p.arpSenderMac);
    if (!isStationMac(mac)) return;
    const e = this.ensure(mac, p.ts);
    if (p.arpSenderIp !== 0) this.bind(ip4String(p.arpSenderIp), mac, p.ts, 'arp');
    this.commit(e);
  }

  /**
   * Neighbour discovery: NS/RS/RA bind their source address to the source link-layer option,
   * NA binds its target to the target link-layer option (or, without one, to the frame's sender
   * when the NA comes from the target itself). DAD probes from :: bind nothing.
   */
  observeNdp(p: PacketInfo, nd: NdpInfo): void {
    if (p.l3 !== L3.IPv6) return;
    const t = p.icmpType;
    let ip = '', macNum = -1;
    if (t === 133 || t === 134 || t === 135) {
      ip = ip6String(p.buf, p.srcOff);
      macNum = nd.lladdr;
    } else if (t === 136 && nd.hasTarget) {
      ip = ip6String(p.buf, nd.targetOff);
      macNum = nd.lladdr >= 0 ? nd.lladdr : ip === ip6String(p.buf, p.srcOff) ? p.srcMac : -1;
    }
    if (macNum < 0) return;
    this.observeBinding(ip, macString(macNum), p.ts, 'nd');
  }

  /** An address seen bound to a MAC by any other means (a decoder of its own, a static table). */
  observeBinding(ip: string, mac: string, ts: number, source: BindingSource): void {
    mac = mac.toLowerCase();
    if (!isStationMac(mac)) return;
    const e = this.ensure(mac, ts);
    const c = canonicalIp(ip);
    if (c !== null) this.bind(c, mac, ts, source);
    this.commit(e);
  }

  /**
   * DHCP: a client message names its device (chaddr) and hostname (option 12, else the first
   * label of option 81) and, in ciaddr, the address it holds; an ACK binds yiaddr to chaddr.
   * A requested address (option 50) of a REQUEST is only a wish: bound when no other MAC holds it.
   */
  observeDhcp(msg: DhcpMessage, ts: number): void {
    const mac = msg.chaddr.toLowerCase();
    if (!isStationMac(mac)) return;
    const e = this.ensure(mac, ts);
    if (msg.op === 1) {
      const name = msg.hostname ?? (msg.fqdn ? msg.fqdn.split('.')[0] : undefined);
      if (name) { e.dev.hostname = name; e.hostnameFrom = 'dhcp'; }
      if (msg.mudUrl !== undefined) this.setMudUrl(e, msg.mudUrl);
      if (msg.ciaddr && msg.ciaddr !== '0.0.0.0') this.bind(msg.ciaddr, mac, ts, 'dhcp');
      // In a DISCOVER it is often the address of the network the device was last on.
      if (msg.messageType === 3 && msg.requestedIp && isBindableIp(msg.requestedIp)) {
        const held = this.bindings.get(addrKey(msg.requestedIp));
        if (!held || held.mac === mac || ts - held.confirmed >= this.staleMs) this.bind(msg.requestedIp, mac, ts, 'dhcp');
      }
    } else if (msg.op === 2 && msg.messageType === 5 && msg.yiaddr && msg.yiaddr !== '0.0.0.0') {
      this.bind(msg.yiaddr, mac, ts, 'dhcp');
    }
    this.commit(e);
  }

  /**
   * A DHCPv6 client message (relays unwrapped): its device is the frame's sender when it came
   * unrelayed from a station, else the client MAC the relay or the DUID names. It names the
   * device's MUD URL (option 112) and hostname (the FQDN's first label, unless DHCPv4 named it).
   */
  observeDhcp6(msg: Dhcp6Message, srcMac: number, ts: number): void {
    const macNum = msg.relays === 0 && srcMac >= 0 ? srcMac : msg.clientMac;
    if (macNum < 0) return;
    const mac = macString(macNum);
    if (!isStationMac(mac)) return;
    const e = this.ensure(mac, ts);
    if (msg.fqdn && e.hostnameFrom !== 'dhcp') { e.dev.hostname = msg.fqdn.split('.')[0]; e.hostnameFrom = 'dhcp'; }
    if (msg.mudUrl !== undefined) this.setMudUrl(e, msg.mudUrl);
    this.commit(e);
  }

  /** An LLDP frame's MUD URL TLV: the device is the frame's sender. */
  observeLldpMudUrl(srcMac: number, url: string, ts: number): void {
    if (srcMac < 0) return;
    const mac = macString(srcMac);
    if (!isStationMac(mac)) return;
    const e = this.ensure(mac, ts);
    this.setMudUrl(e, url);
    this.commit(e);
  }

  /** A DNS response `client` received: remembered for namesFor(). */
  observeDns(client: string, msg: DnsMessage, ts: number): void {
    this.dns.observe(client, msg, ts);
  }

  /**
   * observeDns() for answers read straight from the wire (every unicast response goes this way).
   * @param family 4 or 6; `client` holds the client's address words (ip-words.ts)
   */
  observeDnsAnswers(family: number, client: Uint32Array, answers: DnsAnswers, ts: number): void {
    this.dns.observeAnswers(family, client, answers, ts);
  }

  /**
   * mDNS from a device: an A/AAAA record it announces for its own address names it
   * ("kettle.local" -> "kettle") unless DHCP already did.
   */
  observeMdns(srcIp: string, srcMac: string, msg: DnsMessage, ts: number): void {
    const mac = srcMac.toLowerCase();
    const e = isStationMac(mac) ? this.ensure(mac, ts) : this.byId.get(canonicalIp(srcIp) ?? '');
    if (!e) return;
    const self = canonicalIp(srcIp);
    if (!msg.qr || self === null) { this.commit(e); return; }
    if (e.hostnameFrom !== 'dhcp') {
      for (const list of [msg.answers, msg.additional]) {
        for (const r of list) {
          if ((r.type !== DNS_A && r.type !== DNS_AAAA) || canonicalIp(r.data) !== self) continue;
          if (!r.name.endsWith('.local')) continue;
          const name = r.name.slice(0, -'.local'.length);
          if (name !== '' && !name.includes('._')) { e.dev.hostname = name; e.hostnameFrom = 'mdns'; break; }
        }
        if (e.hostnameFrom === 'mdns') break;
      }
    }
    this.commit(e);
  }

  /**
   * A flow's first packet: the initiator's device is seen, and its source address is bound to
   * its MAC when local. Sources without a link layer (NetFlow) key the device by that address.
   * The responder is seen too (observeResponder): a device whose first frame answers someone is
   * keyed by its MAC from that frame on, as is one that is only ever spoken to.
   */
  observeFlowStart(ev: FlowStart, srcKey: number | string = addrKey(ev.src), dstKey?: number | string): void {
    // Runs at every flow start: the common case (a known device from a bound address) must not
    // canonicalise, re-place or compare device signatures.
    const mac = lowerText(ev.srcMac);
    if (isStationMac(mac)) {
      // a known device at an address bound to this frame's MAC: from the memo, else the Maps
      // (then remembered); the memo's device is its binding's MAC's
      const m = typeof srcKey === 'number' ? this.memoSlot(srcKey) : -1;
      const b = m >= 0 ? this.memoBindings[m]! : this.bindings.get(srcKey);
      let dev: Device | undefined;
      if (b !== undefined && b.mac === mac) {
        if (m >= 0) dev = this.memoDevs[m]!;
        else {
          const known = this.byId.get(mac);
          if (known !== undefined && typeof srcKey === 'number') this.remember(srcKey, known, b);
          dev = known?.dev;
        }
      }
      if (dev !== undefined) {
        if (ev.time > dev.lastSeen) dev.lastSeen = ev.time;
        if (ev.time > b!.confirmed) b!.confirmed = ev.time;
      } else {
        const e = this.ensure(mac, ev.time);
        if (this.onLink ? this.onLink(ev.src, ev.dst) : this.isLocal(ev.src)) this.bind(canonicalIp(ev.src) ?? ev.src, mac, ev.time, 'traffic');
        this.commit(e);
      }
    } else if (ev.srcMac === '' && this.isLocal(ev.src) && isBindableIp(ev.src)) {
      const ip = canonicalIp(ev.src);
      if (ip !== null && !this.bindings.has(addrKey(ip))) {
        const e = this.ensure(ip, ev.time, ip);
        this.commit(e);
      } else if (ip !== null) this.touch(ip, ev.time);
    }
    // a flow record's destination MAC is what the exporter saw on its interface (often its own)
    if (ev.dstMac !== '') {
      if (ev.origin === 'pcap') this.observeResponder(ev, dstKey ?? addrKey(ev.dst));
      else this.touch(ev.dstMac, ev.time);
    }
  }

  /**
   * The responder (receiver of the first packet) of a captured flow: its MAC is a device from
   * this frame on (the flow table turns a SYN-ACK seen first round, so the frame's sender may
   * be the responder). Its address, when nobody holds it yet, binds to that MAC if the frame
   * was not routed to it: with a policy, the address is inside the segments and watched or on
   * its peer's segment (onLink); without one, the initiator is outside the site or on the same
   * subnet (sameLink). A frame routed to another local subnet carries the router's MAC, not
   * the responder's. A frame sent to an address claims nothing from its holder: an address
   * someone holds is left alone. So `device:` rules name a device from the first packet to it.
   */
  private observeResponder(ev: FlowStart, dstKey: number | string): void {
    const mac = lowerText(ev.dstMac);
    // the router's MAC answers nearly every flow: its entry is remembered until anything changes
    if (mac !== this.respMac || this.respGeneration !== this.generation) {
      this.respMac = mac;
      this.respEntry = this.byId.get(mac);
      this.respGeneration = this.generation;
    }
    const known = this.respEntry;
    const b = this.bindingOf(dstKey);
    if (known !== undefined && b !== undefined) {
      if (ev.time > known.dev.lastSeen) known.dev.lastSeen = ev.time;
      if (b.mac === mac && ev.time > b.confirmed) b.confirmed = ev.time;
      return;
    }
    if (!isStationMac(mac)) return;
    // most flows go out to the Internet through a known router: one test settles them
    const ip = (typeof dstKey === 'number' ? this.isLocal4(dstKey) : this.isLocal(ev.dst)) ? canonicalIp(ev.dst) : null;
    const bindable = ip !== null && isBindableIp(ip) && b === undefined &&
      (this.onLink ? this.onLink(ev.dst, ev.src) : (!this.isLocal(ev.src) || this.sameLink(ev.src, ip)));
    if (known !== undefined && !bindable) {
      if (ev.time > known.dev.lastSeen) known.dev.lastSeen = ev.time;
      return;
    }
    const e = this.ensure(mac, ev.time);
    if (bindable) this.bind(ip, mac, ev.time, 'traffic');
    this.commit(e);
  }

  /** Bring a device's lastSeen forward (by MAC, or by IP); never creates one. */
  touch(macOrIp: string, ts: number): void {
    let e = this.byId.get(macOrIp);
    if (e === undefined) {
      const lower = lowerText(macOrIp);
      if (lower !== macOrIp) e = this.byId.get(lower);
    }
    // a MAC that is no device of ours (the gateway seen as a destination) is not an address either
    if (!e && !(macOrIp.length === 17 && macOrIp.charCodeAt(2) === 58)) {
      const c = canonicalIp(macOrIp);
      const b = c !== null ? this.bindings.get(addrKey(c)) : undefined;
      if (b) e = this.byId.get(b.mac);
    }
    if (e && ts > e.dev.lastSeen) e.dev.lastSeen = ts;
  }

  /**
   * Devices from an earlier run (the state database): known from here on under the same id and
   * name, with their addresses, and reported as 'new' never again. Each is placed again: a policy
   * changed since the last run re-names or re-profiles it (reported as 'updated').
   */
  restore(devices: readonly Device[]): void {
    for (const d of devices) {
      if (this.byId.has(d.id) || d.id === '') continue;
      const dev: Device = { ...d, ips: [] };
      const e: Entry = { dev, sig: '', facts: '', hostnameFrom: d.hostname ? 'mdns' : '' };
      this.changed();
      this.byId.set(d.id, e);
      for (const ip of d.ips) {
        const c = canonicalIp(ip);
        if (c === null || dev.ips.includes(c)) continue;
        dev.ips.push(c);
        // a device keyed by its address holds no binding: a MAC that claims it later takes it over
        if (d.mac !== '' && isBindableIp(c) && !this.bindings.has(addrKey(c))) {
          this.setBinding(addrKey(c), { mac: d.id, confirmed: d.lastSeen, source: 'traffic' });
        }
      }
      e.sig = signature(dev);
      this.commit(e);
    }
  }

  /**
   * The policy in force changed (a reload, a learned profile put in force): every device is
   * placed again under it, so a new entry names and profiles devices already seen.
   */
  placeAgain(): void {
    for (const e of this.byId.values()) {
      e.facts = '';
      this.commit(e);
    }
  }

  // ---- internals -----------------------------------------------------------------

  private ensure(id: string, ts: number, ip?: string): Entry {
    let e = this.byId.get(id);
    if (!e) {
      const isMac = ip === undefined;
      const dev: Device = {
        id, name: '', mac: isMac ? id : '', ips: isMac ? [] : [ip], vendor: isMac ? vendorOf(id) : '',
        hostname: '', profile: '', segment: '', firstSeen: ts, lastSeen: ts, known: false,
      };
      e = { dev, sig: '', facts: '', hostnameFrom: '' };
      // makeRoom's evictions too
      this.changed();
      if (this.byId.size >= this.maxDevices) this.makeRoom(ts);
      this.byId.set(id, e);
    } else {
      if (ts > e.dev.lastSeen) e.dev.lastSeen = ts;
      if (ts < e.dev.firstSeen) e.dev.firstSeen = ts;
    }
    return e;
  }

  /**
   * Forget one device to stay under maxDevices: the first to enter, unless seen in the last
   * minute (a device still talking goes to the back, up to 8 times; then the first goes anyway).
   * Its bindings go with it, so its addresses are free for whoever claims them next.
   */
  private makeRoom(ts: number): void {
    for (let tries = 0; ; tries++) {
      const id = this.byIdOldest.key();
      if (id === undefined) return;
      const e = this.byId.get(id)!;
      this.byId.delete(id);
      if (tries < 8 && ts - e.dev.lastSeen < RECENT_MS) { this.byId.set(id, e); continue; }
      for (const ip of e.dev.ips) {
        const k = addrKey(ip);
        if (this.bindings.get(k)?.mac === id) this.dropBinding(k);
      }
      this.devicesEvicted++;
      return;
    }
  }

  /** ip (canonical) now belongs to mac; raises onConflict when another MAC held it recently. */
  private bind(ip: string, mac: string, ts: number, source: BindingSource): void {
    if (!isBindableIp(ip)) return;
    const old = this.bindings.get(addrKey(ip));
    if (old && old.mac === mac) {
      if (ts > old.confirmed) old.confirmed = ts;
      return;
    }
    this.changed();
    let previous: string | undefined;
    if (old) {
      const stale = ts - old.confirmed >= this.staleMs;
      if (source === 'traffic' && !this.trafficConflicts && !stale) return;
      // The rightful holder answering again after a spoofer (ARP cache repair) is no new conflict.
      const restoring = old.previous === mac;
      if (!stale && !restoring) {
        this.events.onConflict?.({ time: ts, ip, oldMac: old.mac, newMac: mac, source });
        previous = old.mac;
      }
      const prev = this.byId.get(old.mac);
      if (prev) {
        prev.dev.ips = prev.dev.ips.filter((x) => x !== ip);
        this.commit(prev);
      }
    }
    this.setBinding(addrKey(ip), previous !== undefined ? { mac, confirmed: ts, source, previous } : { mac, confirmed: ts, source });
    const e = this.byId.get(mac);
    if (e && !e.dev.ips.includes(ip)) e.dev.ips = [...e.dev.ips, ip];
    // a device known only by this address (from a source without MACs) is now the MAC's
    const ipDev = this.byId.get(ip);
    if (ipDev && e) {
      if (ipDev.dev.firstSeen < e.dev.firstSeen) e.dev.firstSeen = ipDev.dev.firstSeen;
      this.byId.delete(ip);
    }
  }

  /** The device announced url: kept when valid (the latest announcement wins), else counted. */
  private setMudUrl(e: Entry, url: string): void {
    if (!validMudUrl(url)) { this.mudUrlsRejected++; return; }
    e.dev.mudUrl = url;
  }

  private setBinding(k: number | string, b: Binding): void {
    if (typeof k === 'number' && !this.bindings.has(k)) {
      const i = boundIndex(k);
      if (this.bound4[i] !== 255) this.bound4[i]++;
    }
    this.bindings.set(k, b);
  }

  private dropBinding(k: number | string): void {
    if (!this.bindings.delete(k) || typeof k !== 'number') return;
    const i = boundIndex(k);
    if (this.bound4[i] !== 255) this.bound4[i]--;
  }

  /** The binding of address key k, or undefined; an IPv4 key in an empty bucket costs no Map look-up. */
  private bindingOf(k: number | string): Binding | undefined {
    return typeof k === 'number' && this.bound4[boundIndex(k)] === 0 ? undefined : this.bindings.get(k);
  }

  /** The memo's slot answering for IPv4 key k, or -1 (not there, or filled before a change). */
  private memoSlot(k: number): number {
    const m = memoIndex(k);
    return this.memoKeys[2 * m] === k && this.memoKeys[2 * m + 1] === this.generation ? m : -1;
  }

  private remember(k: number, e: Entry, b: Binding): void {
    const m = memoIndex(k);
    this.memoKeys[2 * m] = k;
    this.memoKeys[2 * m + 1] = this.generation;
    this.memoDevs[m] = e.dev;
    this.memoBindings[m] = b;
  }

  /** bindings or byId are about to change: every memo slot filled before is stale */
  private changed(): void {
    // int32 in the memo; at the wrap every slot is emptied instead (0 is never current)
    if (++this.generation > 0x7fffffff) {
      this.generation = 1;
      this.memoKeys.fill(0);
      this.respMac = '';
    }
  }

  /** Re-place the device and report it when something other than lastSeen changed. */
  private commit(e: Entry): void {
    const d = e.dev;
    const isNew = e.sig === '';
    const ip = d.ips[0] ?? '';
    const facts = d.mac + '|' + ip + '|' + d.vendor + '|' + d.hostname + '|' + (d.mudUrl ?? '');
    if (facts !== e.facts) {
      e.facts = facts;
      const pl = this.place ? this.place({ mac: d.mac, ip, vendor: d.vendor, hostname: d.hostname, mudUrl: d.mudUrl ?? '' }) : NO_PLACE;
      // an unlisted device is named by its MAC (by its address without one), never its hostname
      d.name = pl.name || d.id; d.profile = pl.profile; d.known = pl.known; d.segment = pl.segment;
    }
    const sig = signature(d);
    if (sig === e.sig) return;
    e.sig = sig;
    this.events.onDevice?.({ ...d, ips: [...d.ips] }, isNew ? 'new' : 'updated');
  }
}

/** The fields whose change onDevice reports (lastSeen moves too often to count). */
function signature(d: Device): string {
  return JSON.stringify([d.mac, d.ips, d.vendor, d.hostname, d.name, d.profile, d.known, d.segment, d.mudUrl ?? '']);
}
