// NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) messages: one set walker and one template
// machinery for both. Numbers are read in place; a data record costs no allocation beyond the
// address and MAC strings written into the reused ExportRecord.

import { viewOf } from './view.js';
import { ip4String, ip6String } from './addr.js';
import type { ExportRecord } from './flow-export-record.js';
import { TemplateCache, VARLEN, MAX_SAMPLERS, type Scope, type Template } from './flow-templates.js';
import * as E from './ipfix-elements.js';

/** What the set walker needs from the decoder that owns it (counters, cache, reused record). */
export interface TemplatedState {
  cache: TemplateCache;
  rec: ExportRecord;
  noTemplate: number;
  records: number;
  /** field pairs of the template being read: sized for the largest a 65535-byte set can hold. */
  scratch: Int32Array;
  /** slots already placed in the template being read, indexed by slot code. */
  seen: Uint8Array;
  fault(reason: string): void;
  scopeFor(exporter: string, domain: number, version: number): Scope;
  sequence(scope: Scope, seq: number, next: number): void;
}

/** Seconds between the NTP era (1900) and the Unix epoch. */
const NTP_UNIX = 2208988800;

export function decodeTemplated(
  st: TemplatedState, buf: Uint8Array, off: number, len: number, exporter: string, nowMs: number,
  onRecord: (r: ExportRecord) => void,
): number {
  const v = viewOf(buf);
  const version = v.getUint16(off);
  const ipfix = version === 10;
  const hdr = ipfix ? 16 : 20;
  if (len < hdr) { st.fault('short_header'); return 0; }
  let end = off + len;
  let uptime = 0;
  let exportSec: number, seq: number, domain: number;
  if (ipfix) {
    const mlen = v.getUint16(off + 2);
    if (mlen < hdr) { st.fault('message_length'); return 0; }
    // A message longer than the datagram was cut: the sets that fit are still good.
    if (mlen > len) st.fault('message_length'); else end = off + mlen;
    exportSec = v.getUint32(off + 4); seq = v.getUint32(off + 8); domain = v.getUint32(off + 12);
  } else {
    uptime = v.getUint32(off + 4); exportSec = v.getUint32(off + 8); seq = v.getUint32(off + 12); domain = v.getUint32(off + 16);
  }
  const scope = st.scopeFor(exporter, domain, version);
  const cache = st.cache;
  cache.sweep(nowMs);
  const exportMs = exportSec * 1000;
  let p = off + hdr;
  let delivered = 0;
  let dataRecords = 0;
  // IPFIX numbers data records: a set we could not read leaves the next number unknown.
  let countable = true;
  while (end - p >= 4) {
    const setId = v.getUint16(p), setLen = v.getUint16(p + 2);
    if (setLen < 4 || setLen > end - p) { st.fault('set_length'); countable = false; break; }
    const setEnd = p + setLen;
    if (setId >= 256) {
      const t = cache.get(scope, setId, nowMs);
      if (t === undefined) { st.noTemplate++; countable = false; }
      else if (t.options) {
        const n = optionsSet(st, t, buf, v, p + 4, setEnd, scope);
        if (n < 0) { st.fault('record_length'); countable = false; dataRecords += -n - 1; } else dataRecords += n;
      } else {
        let n = dataSet(st, t, buf, v, p + 4, setEnd, scope, version, exporter, domain, uptime, exportMs, onRecord);
        if (n < 0) { st.fault('record_length'); countable = false; n = -n - 1; }
        delivered += n; dataRecords += n;
      }
    } else if (setId === (ipfix ? 2 : 0)) {
      if (!templateSet(st, scope, buf, v, p + 4, setEnd, ipfix, false, nowMs)) countable = false;
    } else if (setId === (ipfix ? 3 : 1)) {
      const ok = ipfix ? templateSet(st, scope, buf, v, p + 4, setEnd, true, true, nowMs) : v9OptionsSet(st, scope, buf, v, p + 4, setEnd, nowMs);
      if (!ok) countable = false;
    }
    // Other ids below 256 are reserved: RFC 7011 3.3.2 says skip them.
    p = setEnd;
  }
  if (ipfix && p < end && countable && end - p < 4) { st.fault('set_length'); countable = false; }
  st.records += delivered;
  st.sequence(scope, seq, !countable ? -1 : ipfix ? (seq + dataRecords) >>> 0 : (seq + 1) >>> 0);
  return delivered;
}

/** Unsigned integer of 0..8 bytes (reduced-size encoding, RFC 7011 6.2); above 2^53 loses precision. */
function uint(buf: Uint8Array, v: DataView, o: number, l: number): number {
  switch (l) {
    case 1: return buf[o];
    case 2: return v.getUint16(o);
    case 4: return v.getUint32(o);
    case 8: return v.getUint32(o) * 4294967296 + v.getUint32(o + 4);
    default: {
      let x = 0;
      for (let i = 0; i < l; i++) x = x * 256 + buf[o + i];
      return x;
    }
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function macString(buf: Uint8Array, o: number): string {
  return `${HEX[buf[o]]}:${HEX[buf[o + 1]]}:${HEX[buf[o + 2]]}:${HEX[buf[o + 3]]}:${HEX[buf[o + 4]]}:${HEX[buf[o + 5]]}`;
}

function zero16(buf: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[o + i] !== 0) return false;
  return true;
}

function ntpMs(v: DataView, o: number): number {
  return (v.getUint32(o) - NTP_UNIX) * 1000 + v.getUint32(o + 4) / 4294967.296;
}

/**
 * The data records of one set. Returns the count delivered, or -(count + 1) when a record ran
 * past the set (the records before it are delivered).
 */
function dataSet(
  st: TemplatedState, t: Template, buf: Uint8Array, v: DataView, p: number, setEnd: number, scope: Scope,
  version: number, exporter: string, domain: number, uptime: number, exportMs: number,
  onRecord: (r: ExportRecord) => void,
): number {
  const f = t.fields, nf = f.length, minLen = t.minLen, hasVar = t.hasVar;
  const r = st.rec;
  let n = 0;
  // minLen >= 1 (zero-length templates are refused), so each pass consumes a byte or more.
  while (setEnd - p >= minLen) {
    r.version = version; r.exporter = exporter; r.domain = domain; r.ipVersion = 0;
    r.src = ''; r.dst = ''; r.sport = 0; r.dport = 0; r.proto = 0;
    r.packets = 0; r.bytes = 0; r.packetsRev = 0; r.bytesRev = 0; r.biflow = t.biflow;
    r.samplingInterval = 1; r.start = 0; r.end = 0; r.tcpFlags = 0; r.tcpFlagsRev = 0;
    r.srcMac = ''; r.dstMac = ''; r.vlan = 0; r.inIf = 0; r.outIf = 0;
    r.icmpType = -1; r.icmpCode = -1; r.direction = -1;
    let startUp = -1, endUp = -1, startDelta = -1, endDelta = -1, sysInit = -1;
    let rate = 0, sampler = -1, pInterval = 0, pSpace = -1, pSize = 0, pPopulation = 0;
    let pktTotal = -1, byteTotal = -1, pktTotalRev = -1, byteTotalRev = -1;
    let hasPkts = false, hasBytes = false, hasPktsRev = false, hasBytesRev = false;
    let srcSet = false, dstSet = false;
    for (let i = 0; i < nf; i += 2) {
      const slot = f[i];
      let l = f[i + 1];
      if (l === VARLEN) {
        if (p >= setEnd) return -n - 1;
        l = buf[p++];
        if (l === 255) {
          if (setEnd - p < 2) return -n - 1;
          l = v.getUint16(p); p += 2;
        }
        if (l > setEnd - p) return -n - 1;
      } else if (hasVar && l > setEnd - p) {
        // minLen counted each variable-length field as one byte: after a longer one, fixed
        // fields are no longer known to fit.
        return -n - 1;
      }
      switch (slot) {
        case E.S_SKIP: break;
        case E.S_BYTES: r.bytes = uint(buf, v, p, l); hasBytes = true; break;
        case E.S_PACKETS: r.packets = uint(buf, v, p, l); hasPkts = true; break;
        case E.S_BYTES_TOTAL: byteTotal = uint(buf, v, p, l); break;
        case E.S_PACKETS_TOTAL: pktTotal = uint(buf, v, p, l); break;
        case E.S_PROTO: r.proto = uint(buf, v, p, l); break;
        case E.S_FLAGS: r.tcpFlags = uint(buf, v, p, l) & 0xfff; break;
        case E.S_SPORT: r.sport = uint(buf, v, p, l); break;
        case E.S_DPORT: r.dport = uint(buf, v, p, l); break;
        // Templates serving both families (Cisco, Juniper) carry zeros in the other family's
        // addresses; tunnel templates (Huawei) repeat them for the inner header. The first
        // non-zero address is the flow's, as routed.
        case E.S_SRC4: if (!srcSet) { const a = v.getUint32(p); r.src = ip4String(a); srcSet = a !== 0; if (srcSet || !dstSet) r.ipVersion = 4; } break;
        case E.S_DST4: if (!dstSet) { const a = v.getUint32(p); r.dst = ip4String(a); dstSet = a !== 0; if (!srcSet) r.ipVersion = 4; } break;
        case E.S_SRC6: if (!srcSet) { r.src = ip6String(buf, p); srcSet = !zero16(buf, p); if (srcSet || !dstSet) r.ipVersion = 6; } break;
        case E.S_DST6: if (!dstSet) { r.dst = ip6String(buf, p); dstSet = !zero16(buf, p); if (!srcSet) r.ipVersion = 6; } break;
        case E.S_IN_IF: r.inIf = uint(buf, v, p, l); break;
        case E.S_OUT_IF: r.outIf = uint(buf, v, p, l); break;
        case E.S_END_UPTIME: endUp = uint(buf, v, p, l); break;
        case E.S_START_UPTIME: startUp = uint(buf, v, p, l); break;
        case E.S_ICMP_TYPECODE: { const tc = uint(buf, v, p, l); r.icmpType = (tc >>> 8) & 255; r.icmpCode = tc & 255; break; }
        case E.S_ICMP_TYPE: r.icmpType = uint(buf, v, p, l); if (r.icmpCode < 0) r.icmpCode = 0; break;
        case E.S_ICMP_CODE: r.icmpCode = uint(buf, v, p, l); if (r.icmpType < 0) r.icmpType = 0; break;
        case E.S_SAMPLING: rate = uint(buf, v, p, l); break;
        case E.S_SAMPLER_ID: sampler = uint(buf, v, p, l); break;
        case E.S_SRC_MAC: r.srcMac = macString(buf, p); break;
        case E.S_DST_MAC: r.dstMac = macString(buf, p); break;
        case E.S_POST_SRC_MAC: if (r.srcMac === '') r.srcMac = macString(buf, p); break;
        case E.S_POST_DST_MAC: if (r.dstMac === '') r.dstMac = macString(buf, p); break;
        case E.S_VLAN: r.vlan = uint(buf, v, p, l) & 0xfff; break;
        case E.S_DIRECTION: r.direction = uint(buf, v, p, l); break;
        case E.S_START_SEC: r.start = uint(buf, v, p, l) * 1000; break;
        case E.S_END_SEC: r.end = uint(buf, v, p, l) * 1000; break;
        case E.S_START_MS: r.start = uint(buf, v, p, l); break;
        case E.S_END_MS: r.end = uint(buf, v, p, l); break;
        case E.S_START_NTP: r.start = ntpMs(v, p); break;
        case E.S_END_NTP: r.end = ntpMs(v, p); break;
        case E.S_START_DELTA_US: startDelta = uint(buf, v, p, l); break;
        case E.S_END_DELTA_US: endDelta = uint(buf, v, p, l); break;
        case E.S_SYS_INIT_MS: sysInit = uint(buf, v, p, l); break;
        case E.S_BYTES_REV: r.bytesRev = uint(buf, v, p, l); hasBytesRev = true; break;
        case E.S_PACKETS_REV: r.packetsRev = uint(buf, v, p, l); hasPktsRev = true; break;
        case E.S_BYTES_TOTAL_REV: byteTotalRev = uint(buf, v, p, l); break;
        case E.S_PACKETS_TOTAL_REV: pktTotalRev = uint(buf, v, p, l); break;
        case E.S_FLAGS_REV: r.tcpFlagsRev = uint(buf, v, p, l) & 0xfff; break;
        case E.S_PACKET_INTERVAL: pInterval = uint(buf, v, p, l); break;
        case E.S_PACKET_SPACE: pSpace = uint(buf, v, p, l); break;
        case E.S_SAMPLING_SIZE: pSize = uint(buf, v, p, l); break;
        case E.S_SAMPLING_POPULATION: pPopulation = uint(buf, v, p, l); break;
      }
      p += l;
    }
    // Totals stand in for deltas only when the template has no delta (a first report is both).
    if (!hasBytes && byteTotal >= 0) r.bytes = byteTotal;
    if (!hasPkts && pktTotal >= 0) r.packets = pktTotal;
    if (!hasBytesRev && byteTotalRev >= 0) r.bytesRev = byteTotalRev;
    if (!hasPktsRev && pktTotalRev >= 0) r.packetsRev = pktTotalRev;
    if (r.start === 0 || r.end === 0) {
      // exp, not the parameter: a branch storing the (tagged) parameter beside branches storing
      // computed doubles makes the optimiser box every computed time (a heap number per store,
      // seen once one process decoded both v9 and IPFIX: flow-export-alloc.test.ts).
      const exp = exportMs + 0;
      const init = sysInit >= 0 ? sysInit : scope.sysInitMs;
      if (r.start === 0) {
        if (startDelta >= 0) r.start = exp - startDelta / 1000;
        // v9: the header's sysUptime was read at export time; the signed 32-bit difference
        // survives the uptime counter's wrap (49.7 days). IPFIX: relative to systemInitTimeMilliseconds.
        else if (startUp >= 0) r.start = version === 9 ? exp - ((uptime - startUp) | 0) : init >= 0 ? init + startUp : exp;
      }
      if (r.end === 0) {
        if (endDelta >= 0) r.end = exp - endDelta / 1000;
        else if (endUp >= 0) r.end = version === 9 ? exp - ((uptime - endUp) | 0) : init >= 0 ? init + endUp : exp;
      }
      // A record with no time of its own happened no later than its export.
      if (r.end === 0) r.end = r.start !== 0 ? r.start + 0 : exp;
      if (r.start === 0) r.start = r.end + 0;
    }
    if (rate === 0 && (pInterval !== 0 || pPopulation !== 0)) rate = E.psampRate(pInterval, pSpace, pSize, pPopulation);
    if (rate === 0 && sampler >= 0) rate = scope.samplers.get(sampler) ?? 0;
    if (rate === 0) rate = scope.defaultRate;
    if (rate > 1) r.samplingInterval = rate;
    if (r.proto !== 1 && r.proto !== 58) {
      // Templates carry the ICMP element on every record; it means nothing outside ICMP.
      r.icmpType = -1; r.icmpCode = -1;
    } else if (r.icmpType < 0 && r.sport === 0 && r.dport !== 0) {
      // Exporters without an ICMP element (Cisco v9, as v5) put type << 8 | code in the destination port.
      r.icmpType = r.dport >>> 8; r.icmpCode = r.dport & 255;
    }
    n++;
    onRecord(r);
  }
  return n;
}

/** Options data records: sampler rates and the system init time. Same return convention as dataSet. */
function optionsSet(st: TemplatedState, t: Template, buf: Uint8Array, v: DataView, p: number, setEnd: number, scope: Scope): number {
  const f = t.fields, nf = f.length, minLen = t.minLen, hasVar = t.hasVar;
  let n = 0;
  while (setEnd - p >= minLen) {
    let rate = 0, sampler = -1, sysInit = -1, pInterval = 0, pSpace = -1, pSize = 0, pPopulation = 0;
    for (let i = 0; i < nf; i += 2) {
      const slot = f[i];
      let l = f[i + 1];
      if (l === VARLEN) {
        if (p >= setEnd) return -n - 1;
        l = buf[p++];
        if (l === 255) {
          if (setEnd - p < 2) return -n - 1;
          l = v.getUint16(p); p += 2;
        }
        if (l > setEnd - p) return -n - 1;
      } else if (hasVar && l > setEnd - p) {
        // minLen counted each variable-length field as one byte: after a longer one, fixed
        // fields are no longer known to fit.
        return -n - 1;
      }
      if (slot === E.S_SAMPLING) rate = uint(buf, v, p, l);
      else if (slot === E.S_SAMPLER_ID) sampler = uint(buf, v, p, l);
      else if (slot === E.S_SYS_INIT_MS) sysInit = uint(buf, v, p, l);
      else if (slot === E.S_PACKET_INTERVAL) pInterval = uint(buf, v, p, l);
      else if (slot === E.S_PACKET_SPACE) pSpace = uint(buf, v, p, l);
      else if (slot === E.S_SAMPLING_SIZE) pSize = uint(buf, v, p, l);
      else if (slot === E.S_SAMPLING_POPULATION) pPopulation = uint(buf, v, p, l);
      p += l;
    }
    if (rate === 0) rate = E.psampRate(pInterval, pSpace, pSize, pPopulation);
    if (sysInit > 0) scope.sysInitMs = sysInit;
    if (rate > 0) {
      if (sampler < 0) scope.defaultRate = rate;
      else if (scope.samplers.has(sampler) || scope.samplers.size < MAX_SAMPLERS) scope.samplers.set(sampler, rate);
    }
    n++;
  }
  return n;
}

/** Field lengths a slot can be read at; anything else is skipped rather than misread. */
function fitSlot(slot: number, l: number): number {
  switch (slot) {
    case E.S_SKIP: return 0;
    case E.S_SRC4: case E.S_DST4: return l === 4 ? slot : 0;
    case E.S_SRC6: case E.S_DST6: return l === 16 ? slot : 0;
    case E.S_SRC_MAC: case E.S_DST_MAC: case E.S_POST_SRC_MAC: case E.S_POST_DST_MAC: return l === 6 ? slot : 0;
    case E.S_START_NTP: case E.S_END_NTP: return l === 8 ? slot : 0;
    default: return l >= 1 && l <= 8 ? slot : 0;
  }
}

/**
 * A template set (v9 id 0, IPFIX 2) or IPFIX options template set (3). Returns false when the set
 * was malformed (the templates before the fault are kept).
 */
function templateSet(st: TemplatedState, scope: Scope, buf: Uint8Array, v: DataView, p: number, setEnd: number, ipfix: boolean, options: boolean, nowMs: number): boolean {
  const cache = st.cache, sc = st.scratch;
  while (setEnd - p >= 4) {
    const id = v.getUint16(p), count = v.getUint16(p + 2);
    p += 4;
    if (id === 0) return true; // padding
    if (ipfix && count === 0) {
      // RFC 7011 8.1: a withdrawal; the set's own id withdraws every template of its kind.
      if (id === (options ? 3 : 2)) cache.withdrawAll(scope, options);
      else if (id >= 256) cache.withdraw(scope, id);
      else { st.fault('template_id'); return false; }
      continue;
    }
    if (id < 256) { st.fault('template_id'); return false; }
    if (count === 0) { st.fault('zero_field_template'); return false; }
    if (options) {
      if (setEnd - p < 2) { st.fault('template_length'); return false; }
      const scopeCount = v.getUint16(p);
      p += 2;
      if (scopeCount === 0 || scopeCount > count) { st.fault('options_scope'); return false; }
    }
    // The count from the wire is checked against the bytes left before anything is sized by it.
    if (count * 4 > setEnd - p) { st.fault('template_length'); return false; }
    let minLen = 0, hasVar = false, biflow = false;
    const seen = st.seen;
    seen.fill(0);
    for (let i = 0; i < count; i++) {
      if (setEnd - p < 4) { st.fault('template_length'); return false; }
      const ie = v.getUint16(p), l = v.getUint16(p + 2);
      p += 4;
      let slot: number;
      if (ipfix && ie & 0x8000) {
        if (setEnd - p < 4) { st.fault('template_length'); return false; }
        const pen = v.getUint32(p);
        p += 4;
        slot = pen === E.PEN_REVERSE ? E.reverseSlot(ie & 0x7fff) : E.S_SKIP;
        if (pen === E.PEN_REVERSE) biflow = true;
      } else slot = ie < 32768 ? E.STANDARD_SLOTS[ie] : E.S_SKIP;
      const isVar = ipfix && l === VARLEN;
      if (isVar) { hasVar = true; minLen += 1; slot = E.S_SKIP; }
      else { minLen += l; slot = fitSlot(slot, l); }
      // A repeated element describes something else (a tunnel's inner header): the first is the flow's.
      if (slot !== E.S_SKIP) { if (seen[slot] !== 0) slot = E.S_SKIP; else seen[slot] = 1; }
      sc[2 * i] = slot; sc[2 * i + 1] = isVar ? VARLEN : l;
    }
    // A record of no bytes would let a data set yield records forever.
    if (minLen === 0) { st.fault('zero_length_template'); continue; }
    cache.put(scope, id, sc, count, minLen, hasVar, options, biflow, nowMs);
  }
  return true;
}

/** RFC 3954 options template flowset (id 1): scope fields (System, Interface, ...) are not IEs. */
function v9OptionsSet(st: TemplatedState, scope: Scope, buf: Uint8Array, v: DataView, p: number, setEnd: number, nowMs: number): boolean {
  const cache = st.cache, sc = st.scratch;
  while (setEnd - p >= 10) {
    const id = v.getUint16(p), scopeLen = v.getUint16(p + 2), optLen = v.getUint16(p + 4);
    p += 6;
    if (id === 0) return true; // padding
    if (id < 256) { st.fault('template_id'); return false; }
    if (scopeLen + optLen > setEnd - p || (scopeLen & 3) !== 0 || (optLen & 3) !== 0) { st.fault('template_length'); return false; }
    const nScope = scopeLen >>> 2, count = nScope + (optLen >>> 2);
    if (count === 0) { st.fault('zero_field_template'); return false; }
    let minLen = 0;
    for (let i = 0; i < count; i++) {
      const type = v.getUint16(p), l = v.getUint16(p + 2);
      p += 4;
      minLen += l;
      sc[2 * i] = i < nScope ? E.S_SKIP : fitSlot(type < 32768 ? E.STANDARD_SLOTS[type] : E.S_SKIP, l);
      sc[2 * i + 1] = l;
    }
    if (minLen === 0) { st.fault('zero_length_template'); continue; }
    cache.put(scope, id, sc, count, minLen, false, true, false, nowMs);
  }
  return true;
}
