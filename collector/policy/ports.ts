// Port sets compiled to sorted disjoint ranges per protocol, each range carrying the
// lowest (first-written) rule index that allows it, so a look-up is one binary search.

import type { PortSpec } from './units.js';

const NONE = 0x7fffffff;

/**
 * Disjoint sorted ranges with the rule index that wins there, packed as (lo, hi, rule)
 * triples in one plain array: a policy has one set per address prefix, thousands of
 * them, so each is one small allocation.
 */
class RangeSet {
  constructor(readonly r: readonly number[]) {}

  /** Rule index for `port`, or NONE. */
  find(port: number): number {
    const r = this.r;
    let a = 0, b = r.length / 3 - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (port < r[3 * m]) b = m - 1;
      else if (port > r[3 * m + 1]) a = m + 1;
      else return r[3 * m + 2];
    }
    return NONE;
  }
}

/**
 * What one rule matches besides its host, when it says more than `ports`: the device's source
 * ports (`from_ports`), ICMP types and codes as type*256+code ranges (the way NetFlow carries
 * them in the destination port), or a bare IP protocol number. The validator has refused the
 * combinations that cannot hold together.
 */
export interface RuleMatch {
  ports: readonly PortSpec[] | undefined;
  /** source ports; with `ports` undefined, any destination port of their protocols. */
  from?: readonly PortSpec[];
  /** (lo, hi) pairs over type*256+code. */
  icmp4?: readonly number[];
  icmp6?: readonly number[];
  /** an IP protocol number with no ports, types or source ports: every flow of it. */
  proto?: number;
}

/** Which rule (lowest index) allows a protocol and port at one place (an address prefix, a domain). */
export class PortIndex {
  /** rules with no ports: any protocol, any port. */
  anyRule = NONE;
  /** rules with `icmp`: ICMP and ICMPv6 of any type. */
  icmpRule = NONE;
  tcp: RangeSet | null = null;
  udp: RangeSet | null = null;
  sctp: RangeSet | null = null;
  /** `icmp:`/`icmpv6:` types and codes: ranges over type*256+code. */
  icmp4: RangeSet | null = null;
  icmp6: RangeSet | null = null;
  /** `proto: N` of other protocols: (proto, rule) pairs, scanned (a rare few). */
  protoRules: readonly number[] | null = null;
  /** rules with `from_ports`: (proto, dport lo, dport hi, sport lo, sport hi, rule), scanned (a rare few). */
  sportRules: readonly number[] | null = null;
  /** protoRules or sportRules set. */
  rare = false;

  /**
   * Lowest rule index allowing (proto number, port, source port), or -1. For ICMP `port` is
   * type*256+code; `sport` -1 when unknown (then no `from_ports` rule matches).
   */
  match(proto: number, port: number, sport = -1): number {
    let r = this.anyRule;
    let s: RangeSet | null = null;
    if (proto === 6) s = this.tcp;
    else if (proto === 17) s = this.udp;
    else if (proto === 132) s = this.sctp;
    else if (proto === 1 || proto === 58) {
      if (this.icmpRule < r) r = this.icmpRule;
      s = proto === 1 ? this.icmp4 : this.icmp6;
    }
    if (s !== null) { const x = s.find(port); if (x < r) r = x; }
    if (this.rare) r = this.matchRare(proto, port, sport, r);
    return r === NONE ? -1 : r;
  }

  /** `proto:` and `from_ports` rules, kept out of match() so the common place stays small. */
  private matchRare(proto: number, port: number, sport: number, r: number): number {
    const pr = this.protoRules;
    if (pr !== null) for (let i = 0; i < pr.length; i += 2) if (pr[i] === proto && pr[i + 1] < r) r = pr[i + 1];
    const sr = this.sportRules;
    if (sr !== null && sport >= 0) {
      for (let i = 0; i < sr.length; i += 6) {
        if (sr[i] === proto && sr[i + 5] < r && port >= sr[i + 1] && port <= sr[i + 2] && sport >= sr[i + 3] && sport <= sr[i + 4]) r = sr[i + 5];
      }
    }
    return r;
  }
}

const PROTO_OF: Readonly<Record<string, number>> = { tcp: 6, udp: 17, sctp: 132 };

/** Collects ports of several rules for one place, then builds the PortIndex. */
export class PortIndexBuilder {
  private any = NONE;
  private icmp = NONE;
  /** per protocol, (lo, hi, rule) triples in the order added. */
  private tcp: number[] | null = null;
  private udp: number[] | null = null;
  private sctp: number[] | null = null;
  private icmp4: number[] | null = null;
  private icmp6: number[] | null = null;
  private protoRules: number[] | null = null;
  private sportRules: number[] | null = null;

  /** `ports` undefined = any protocol and port; a RuleMatch for rules that say more. */
  add(rule: number, m: readonly PortSpec[] | RuleMatch | undefined): void {
    if (m !== undefined && !isPortList(m)) { this.addMatch(rule, m); return; }
    const ports = m;
    if (ports === undefined) { if (rule < this.any) this.any = rule; return; }
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      switch (p.proto) {
        case 'icmp': if (rule < this.icmp) this.icmp = rule; break;
        case 'tcp': (this.tcp ??= []).push(p.lo, p.hi, rule); break;
        case 'udp': (this.udp ??= []).push(p.lo, p.hi, rule); break;
        case 'sctp': (this.sctp ??= []).push(p.lo, p.hi, rule); break;
      }
    }
  }

  private addMatch(rule: number, m: RuleMatch): void {
    if (m.from !== undefined) {
      const sr = (this.sportRules ??= []);
      for (const f of m.from) {
        const n = PROTO_OF[f.proto];
        if (m.ports === undefined) { sr.push(n, 0, 65535, f.lo, f.hi, rule); continue; }
        for (const p of m.ports) if (p.proto === f.proto) sr.push(n, p.lo, p.hi, f.lo, f.hi, rule);
      }
      return;
    }
    if (m.icmp4 !== undefined || m.icmp6 !== undefined) {
      for (let i = 0; i + 1 < (m.icmp4?.length ?? 0); i += 2) (this.icmp4 ??= []).push(m.icmp4![i], m.icmp4![i + 1], rule);
      for (let i = 0; i + 1 < (m.icmp6?.length ?? 0); i += 2) (this.icmp6 ??= []).push(m.icmp6![i], m.icmp6![i + 1], rule);
      return;
    }
    if (m.ports !== undefined) { this.add(rule, m.ports); return; }
    const n = m.proto;
    if (n === undefined) { this.add(rule, undefined); return; }
    // a protocol alone: its whole port (or type/code) space
    if (n === 6) (this.tcp ??= []).push(0, 65535, rule);
    else if (n === 17) (this.udp ??= []).push(0, 65535, rule);
    else if (n === 132) (this.sctp ??= []).push(0, 65535, rule);
    else if (n === 1) (this.icmp4 ??= []).push(0, 65535, rule);
    else if (n === 58) (this.icmp6 ??= []).push(0, 65535, rule);
    else (this.protoRules ??= []).push(n, rule);
  }

  build(): PortIndex {
    const ix = new PortIndex();
    ix.anyRule = this.any;
    ix.icmpRule = this.icmp;
    ix.tcp = buildRanges(this.tcp);
    ix.udp = buildRanges(this.udp);
    ix.sctp = buildRanges(this.sctp);
    ix.icmp4 = buildRanges(this.icmp4);
    ix.icmp6 = buildRanges(this.icmp6);
    ix.protoRules = this.protoRules;
    ix.sportRules = this.sportRules;
    ix.rare = this.protoRules !== null || this.sportRules !== null;
    return ix;
  }
}

function isPortList(m: readonly PortSpec[] | RuleMatch): m is readonly PortSpec[] {
  return Array.isArray(m);
}

/** Up to this many spans, smallRanges (quadratic, no heap or map) is the cheaper build. */
const SMALL = 64;

/**
 * The same ranges as the sweep below for a few well-formed spans (s: triples): between
 * consecutive range ends, the lowest rule of the spans covering that stretch; equal
 * neighbours merged.
 */
function smallRanges(s: readonly number[]): RangeSet {
  const pts = new Int32Array((s.length / 3) * 2);
  for (let i = 0, j = 0; i < s.length; i += 3) { pts[j++] = s[i]; pts[j++] = s[i + 1] + 1; }
  // a typed array sorts numerically without calling back into JS
  pts.sort();
  const out: number[] = [];
  for (let k = 0; k + 1 < pts.length; k++) {
    const point = pts[k];
    const next = pts[k + 1];
    if (next === point) continue;
    let t = NONE;
    for (let i = 0; i < s.length; i += 3) {
      if (s[i] <= point && point <= s[i + 1] && s[i + 2] < t) t = s[i + 2];
    }
    if (t === NONE) continue;
    const n = out.length;
    if (n > 0 && out[n - 2] === point - 1 && out[n - 1] === t) out[n - 2] = next - 1;
    else out.push(point, next - 1, t);
  }
  return new RangeSet(out);
}

/** Are all spans (triples) well formed, lo <= hi? */
function wellFormed(s: readonly number[]): boolean {
  for (let i = 0; i < s.length; i += 3) if (s[i] > s[i + 1]) return false;
  return true;
}

/** Sweep over range ends keeping the lowest active rule (a min-heap with lazy removal). */
function buildRanges(flat: readonly number[] | null): RangeSet | null {
  if (flat === null || flat.length === 0) return null;
  // most places carry one rule with one range: no sweep needed
  if (flat.length === 3 && flat[0] <= flat[1]) return new RangeSet([flat[0], flat[1], flat[2]]);
  if (flat.length <= 3 * SMALL && wellFormed(flat)) return smallRanges(flat);
  const spans: { lo: number; hi: number; rule: number }[] = [];
  for (let i = 0; i < flat.length; i += 3) spans.push({ lo: flat[i], hi: flat[i + 1], rule: flat[i + 2] });
  const ev: number[] = [];
  for (let i = 0; i < spans.length; i++) { ev.push(spans[i].lo * 2 + 0, i); ev.push((spans[i].hi + 1) * 2 + 1, i); }
  // positions of the events in ev, sorted by key and, for equal keys, by position (as a
  // stable sort would): key and position in one number, sorted natively as a typed array
  let order: number[] = [];
  if (ev.length < 2 ** 24) {
    const keyed = new Float64Array(ev.length / 2);
    for (let i = 0; i < ev.length; i += 2) keyed[i / 2] = ev[i] * 2 ** 24 + i;
    keyed.sort();
    for (let i = 0; i < keyed.length; i++) order.push(keyed[i] % 2 ** 24);
  } else {
    for (let i = 0; i < ev.length; i += 2) order.push(i);
    order = order.sort((a, b) => ev[a] - ev[b]);
  }
  // removals (odd key) after additions at the same point do not matter: the key is the point*2+kind.
  const heap: number[] = [];
  const removed = new Map<number, number>();
  const push = (r: number) => {
    heap.push(r);
    let i = heap.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (heap[p] <= heap[i]) break; [heap[p], heap[i]] = [heap[i], heap[p]]; i = p; }
  };
  const pop = () => {
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && heap[l] < heap[m]) m = l;
      if (r < heap.length && heap[r] < heap[m]) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i], heap[m]]; i = m;
    }
  };
  const top = (): number => {
    while (heap.length > 0) {
      const t = heap[0];
      const k = removed.get(t);
      if (!k) return t;
      if (k === 1) removed.delete(t); else removed.set(t, k - 1);
      pop();
    }
    return NONE;
  };
  const lo: number[] = [], hi: number[] = [], rule: number[] = [];
  let k = 0;
  while (k < order.length) {
    const point = ev[order[k]] >> 1;
    while (k < order.length && ev[order[k]] >> 1 === point) {
      const e = order[k];
      const r = spans[ev[e + 1]].rule;
      if ((ev[e] & 1) === 0) push(r); else removed.set(r, (removed.get(r) ?? 0) + 1);
      k++;
    }
    const t = top();
    const next = k < order.length ? ev[order[k]] >> 1 : 65536;
    if (t !== NONE && next > point) {
      const n = lo.length;
      if (n > 0 && hi[n - 1] === point - 1 && rule[n - 1] === t) hi[n - 1] = next - 1;
      else { lo.push(point); hi.push(next - 1); rule.push(t); }
    }
  }
  const out: number[] = [];
  for (let i = 0; i < lo.length; i++) out.push(lo[i], hi[i], rule[i]);
  return new RangeSet(out);
}
