// Inbound flows: who opened a flow TO a watched device. A host outside every segment of the
// site (the Internet) that reaches a watched device means a port forward or a UPnP mapping
// exposes it: `device.exposed`, unless an `allow_in` rule of the device's profile allows that
// opener. A host inside the site is judged against `allow_in` only when the profile has that
// section (then a denied one is a `policy.violation` of the target device). The device's own
// sessions are never inbound: the engine hands detectors each flow from its opener's side.

import type { Anomaly, FlowRecord } from '../types.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { AnomalyInit, Subject } from './anomaly.js';
import { icmpText, peerText, who } from './anomaly.js';
import type { DetectContext, Detector, DetectorDef, JudgedFlow } from './detector.js';
import { isGroupAddress, isServicePort, type OpenedFlow } from './flow.js';
import { FlowTraffic } from './flow-traffic.js';

/**
 * Addresses that are neither the Internet nor the site: link-local (169.254/16, fe80::/10),
 * unspecified and loopback. A host there did not come through the router's port forwards.
 */
export function isLinkScoped(ip: string): boolean {
  if (ip.includes(':')) {
    const l = ip.toLowerCase();
    return l === '::' || l === '::1' || /^fe[89ab][0-9a-f]?:/.test(l);
  }
  return ip.startsWith('169.254.') || ip.startsWith('127.') || ip === '0.0.0.0';
}

/** ICMP messages that answer something (echo, timestamp): a flow they start was opened by the other side. */
function isIcmpAnswer(f: OpenedFlow): boolean {
  const type = (f.dport >>> 8) & 255;
  if (f.proto === 'icmp') return type === 0 || type === 14;
  if (f.proto === 'icmpv6') return type === 129;
  return false;
}

/**
 * UDP from a server's port (STUN 3478, NTP 123, ...) whose request was not seen: an answer to
 * the device. opener() turns only answers from below 1024 to above; an exposure is judged on
 * flows that do not look like answers at all.
 */
function isUdpAnswer(f: OpenedFlow): boolean {
  return f.proto === 'udp' && isServicePort(f.sport);
}

/** "port 554/tcp", "ICMP echo-request". */
function reached(f: Pick<OpenedFlow, 'proto' | 'dport'>): string {
  if (f.proto === 'icmp' || f.proto === 'icmpv6') return icmpText(f.proto === 'icmpv6', f.dport);
  return typeof f.proto === 'number' ? `IP protocol ${f.proto}` : `port ${f.dport}/${f.proto}`;
}

/** The anomaly of an Internet host that opened a flow to a watched device. */
export function deviceExposed(s: Subject, f: OpenedFlow, peerName: string): AnomalyInit {
  const what = reached(f);
  return {
    kind: 'device.exposed', time: f.time, subject: s,
    peer: f.src, peerName, peerPort: f.dport, proto: f.proto, bytes: f.bytes, packets: 1,
    rule: `profiles.${s.profile}.allow_in`,
    message: `a port forward or UPnP mapping exposes ${who(s)} ${what} to ${peerText(f.src, peerName)}, a host on the Internet, which opened a flow to it: ` +
      `remove the forward or mapping on the router (or, if it is meant, add an allow_in rule to profile ${s.profile})`,
  };
}

/** A host inside the site opened a flow to a device whose profile's `allow_in` does not allow it. */
export function inboundViolation(s: Subject, f: OpenedFlow, opener: string): AnomalyInit {
  return {
    kind: 'policy.violation', time: f.time, subject: s,
    peer: f.src, peerName: '', peerPort: f.dport, proto: f.proto, bytes: f.bytes, packets: 1,
    rule: `profiles.${s.profile}.allow_in`,
    message: `${opener} opened ${reached(f)} on ${who(s)}, which the allow_in rules of profile ${s.profile} do not allow: ` +
      `block it or add an allow_in rule to profile ${s.profile}`,
  };
}

const IN_RULE = /\.allow_in$/;

class DeviceExposed implements Detector {
  private readonly counters = { internetOpened: 0, insideJudged: 0, exposed: 0, inboundDenied: 0 };
  /** the anomaly each inbound flow raised, so its later bytes join it (what left the device matters) */
  private readonly traffic: FlowTraffic;

  constructor(private readonly ctx: DetectContext) {
    this.traffic = new FlowTraffic(ctx.reporter, () => ctx.settings.parkMax);
  }

  flowStart(j: JudgedFlow): void {
    if (j.consumed || !j.dstWatched || j.group) return;
    const p = j.policy, f = j.f;
    if (isIcmpAnswer(f) || isUdpAnswer(f)) return;
    const inside = (typeof j.srcKey === 'number' ? p.segmentOf4(j.srcKey) : p.segmentOf(f.src)) !== '';
    if (!inside && (isGroupAddress(f.src) || isLinkScoped(f.src))) return;
    const profile = this.ctx.profileOf(p, f.dst, f.dstMac);
    if (inside && !p.hasAllowIn(profile)) return;
    if (inside) this.counters.insideJudged++; else this.counters.internetOpened++;
    const names = this.ctx.inventory.namesFor(f.dst, f.src, f.time);
    const v = p.evaluateIn(profile, { proto: f.proto, dst: f.src, dport: f.dport, sport: f.sport }, names, this.ctx.evalContext(f.dst));
    if (v.allowed) return;
    const s = this.ctx.subject(p, f.dst, f.dstMac, true);
    let key: string;
    if (inside) {
      this.counters.inboundDenied++;
      // a watched opener has a name; any other is named by its address (behind the router its
      // MAC is the router's, so the inventory's name would be the router's)
      const o = j.srcWatched ? who(this.ctx.subject(p, f.src, f.srcMac, true)) : f.src;
      key = this.ctx.reporter.report(inboundViolation(s, f, o));
    } else {
      this.counters.exposed++;
      key = this.ctx.reporter.report(deviceExposed(s, f, names.length ? names[0] : ''));
    }
    this.traffic.track(f.id, key, f.time, f.bytes, 1);
  }

  /** Later bytes of a reported flow join its anomaly (as the allowlist does for its own). */
  flowRecord(r: FlowRecord): void {
    this.traffic.record(r);
  }

  flush(): void {
    this.traffic.clear();
  }

  /** A reloaded policy allows the opener now (or no longer judges flows from inside): the anomaly closes. */
  allows(a: Anomaly, p: CompiledPolicy): boolean {
    const inbound = a.kind === 'device.exposed' || (a.kind === 'policy.violation' && IN_RULE.test(a.rule));
    if (!inbound) return false;
    const profile = this.ctx.profileOf(p, a.ip, a.mac);
    if (a.kind === 'policy.violation' && !p.hasAllowIn(profile)) return true;
    const proto = a.proto === 'tcp' || a.proto === 'udp' || a.proto === 'icmp' || a.proto === 'icmpv6' ? a.proto : Number(a.proto);
    const names = a.peerName ? [a.peerName] : [];
    // the anomaly keeps no source port: a `from_ports` rule cannot be told to allow it
    return p.evaluateIn(profile, { proto, dst: a.peer, dport: a.peerPort }, names, this.ctx.evalContext(a.ip)).allowed;
  }

  stats(): Record<string, number> {
    return { ...this.counters, tracked: this.traffic.size };
  }
}

export const deviceExposedDetector: DetectorDef = {
  name: 'device-exposed',
  kinds: { 'device.exposed': 'high', 'policy.violation': 'high' },
  create: (ctx) => new DeviceExposed(ctx),
};
