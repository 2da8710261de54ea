// Port sets compiled to sorted disjoint ranges per protocol, each range carrying the
// lowest (first-written) rule index that allows it, so a look-up is one binary search.

import { PROTO_NUM, type PortSpec } from './units.js';

const NONE = 0x7fffffff;

/**
 * Disjoint sorted ranges with the rule index that wins there, packed as (lo, hi, rule)
 * triples in one array: a policy has one set per address prefix, thousands of them.
 */
class RangeSet {
  constructor(readonly r: Int32Array) {}

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

/** Which rule (lowest index) allows a protocol and port at one place (an address prefix, a domain). */
export class PortIndex {
  /** rules with no ports: any protocol, any port. */
  anyRule = NONE;
  /** rules with `icmp`: ICMP and ICMPv6 of any type. */
  icmpRule = NONE;
  tcp: RangeSet | null = null;
  udp: RangeSet | null = null;
  sctp: RangeSet | null = null;

  /** Lowest rule index allowing (proto number, port), or -1. */
  match(proto: number, port: number): number {
    let r = this.anyRule;
    let s: RangeSet | null = null;
    if (proto === 6) s = this.tcp;
    else if (proto === 17) s = this.udp;
    else if (proto === 132) s = this.sctp;
    else if ((proto === 1 || proto === 58) && this.icmpRule < r) r = this.icmpRule;
    if (s !== null) { const x = s.find(port); if (x < r) r = x; }
    return r === NONE ? -1 : r;
  }
}

interface Span { lo: number; hi: number; rule: number }

/** Collects ports of several rules for one place, then builds the PortIndex. */
export class PortIndexBuilder {
  private any = NONE;
  private icmp = NONE;
  private spans: Record<number, Span[]> = {};

  /** `ports` undefined = any protocol and port. */
  add(rule: number, ports: readonly PortSpec[] | undefined): void {
    if (ports === undefined) { if (rule < this.any) this.any = rule; return; }
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      if (p.proto === 'icmp') { if (rule < this.icmp) this.icmp = rule; continue; }
      (this.spans[PROTO_NUM[p.proto]] ??= []).push({ lo: p.lo, hi: p.hi, rule });
    }
  }

  build(): PortIndex {
    const ix = new PortIndex();
    ix.anyRule = this.any;
    ix.icmpRule = this.icmp;
    ix.tcp = buildRanges(this.spans[6]);
    ix.udp = buildRanges(this.spans[17]);
    ix.sctp = buildRanges(this.spans[132]);
    return ix;
  }
}

/** Up to this many spans, smallRanges (quadratic, no heap or map) is the cheaper build. */
const SMALL = 16;

/**
 * The same ranges as the sweep below for a few well-formed spans: between consecutive
 * range ends, the lowest rule of the spans covering that stretch; equal neighbours merged.
 */
function smallRanges(spans: Span[]): RangeSet {
  const pts: number[] = [];
  for (let i = 0; i < spans.length; i++) pts.push(spans[i].lo, spans[i].hi + 1);
  pts.sort((a, b) => a - b);
  const out: number[] = [];
  for (let k = 0; k + 1 < pts.length; k++) {
    const point = pts[k];
    const next = pts[k + 1];
    if (next === point) continue;
    let t = NONE;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      if (s.lo <= point && point <= s.hi && s.rule < t) t = s.rule;
    }
    if (t === NONE) continue;
    const n = out.length;
    if (n > 0 && out[n - 2] === point - 1 && out[n - 1] === t) out[n - 2] = next - 1;
    else out.push(point, next - 1, t);
  }
  return new RangeSet(Int32Array.from(out));
}

/** Sweep over range ends keeping the lowest active rule (a min-heap with lazy removal). */
function buildRanges(spans: Span[] | undefined): RangeSet | null {
  if (!spans || spans.length === 0) return null;
  // most places carry one rule with one range: no sweep needed
  if (spans.length === 1 && spans[0].lo <= spans[0].hi) {
    const s = spans[0];
    return new RangeSet(Int32Array.of(s.lo, s.hi, s.rule));
  }
  if (spans.length <= SMALL && spans.every((s) => s.lo <= s.hi)) return smallRanges(spans);
  const ev: number[] = [];
  for (let i = 0; i < spans.length; i++) { ev.push(spans[i].lo * 2 + 0, i); ev.push((spans[i].hi + 1) * 2 + 1, i); }
  const order: number[] = [];
  for (let i = 0; i < ev.length; i += 2) order.push(i);
  // removals (odd key) after additions at the same point do not matter: the key is the point*2+kind.
  order.sort((a, b) => ev[a] - ev[b]);
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
  const out = new Int32Array(3 * lo.length);
  for (let i = 0; i < lo.length; i++) { out[3 * i] = lo[i]; out[3 * i + 1] = hi[i]; out[3 * i + 2] = rule[i]; }
  return new RangeSet(out);
}
