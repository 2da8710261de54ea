// Maps segwatch's records to InfluxDB points with DESIGN.md's storage schema
// (measurements anomaly, device_traffic, device, collector). Pure: no I/O.

import type { Anomaly, CollectorStats, Device, DeviceTraffic } from '../../types.js';
import { deviceLabel } from '../../types.js';
import type { Point } from './line-protocol.js';
import { Oldest } from '../../oldest.js';

/**
 * 32-bit FNV-1a of a string. Stable across runs and machines, so the same
 * anomaly gets the same sub-millisecond offset whenever it is serialised.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The ns offset (0..999999) of an anomaly inside its millisecond.
 *
 * InfluxDB keys a point by measurement + tag set + timestamp: a second write of the same
 * key overwrites the first. The lifecycle depends on it: an anomaly is written when it
 * opens, on updates and when it closes, always with the timestamp of its first packet and
 * the tags it opened with, so each write overwrites the last and InfluxDB holds one point
 * per anomaly with its latest count and state (and a spool replay of a batch leaves one
 * copy). Two distinct anomalies of one series in the same ms must not share a key: the
 * offset comes from the anomaly's id, which differs for any two causes.
 */
export function anomalyOffsetNs(a: Anomaly): number {
  return fnv1a(anomalyIdentity(a)) % 1000000;
}

/** ms since epoch of an ISO 8601 string, or undefined when it does not parse. */
function isoMs(s: string): number | undefined {
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : undefined;
}

export function anomalyPoint(a: Anomaly): Point {
  return {
    measurement: 'anomaly',
    tags: { device: a.device, kind: a.kind, severity: a.severity, profile: a.profile, segment: a.segment },
    fields: {
      id: a.id, state: a.state, close_reason: a.closeReason, suppressed: a.suppressed,
      peer: a.peer, peer_name: a.peerName, proto: a.proto, message: a.message, rule: a.rule,
    },
    // last_seen as integer ms: a dashboard selects anomalies still active in a short range by it
    ints: { peer_port: a.peerPort, bytes: a.bytes, packets: a.packets, count: a.count, last_seen: isoMs(a.lastSeen) ?? 0 },
    time: isoMs(a.time),
    timeNs: anomalyOffsetNs(a),
  };
}

export function deviceTrafficPoint(t: DeviceTraffic): Point {
  return {
    measurement: 'device_traffic',
    tags: { device: t.device, segment: t.segment },
    ints: {
      bytes_out: t.bytesOut, bytes_in: t.bytesIn, packets_out: t.packetsOut,
      packets_in: t.packetsIn, flows: t.flows, peers: t.peers,
    },
    time: t.time,
  };
}

/**
 * `device` is the device's name (its policy name, else its id: the MAC, or the IP without one),
 * matching the `device` tag of anomaly and device_traffic so dashboards can join.
 * Time is lastSeen: a later change of the same device overwrites nothing earlier. mud_url only
 * when the device announced one (a field absent from a point is no change to it).
 */
export function devicePoint(d: Device): Point {
  return {
    measurement: 'device',
    tags: { device: deviceLabel(d), mac: d.mac, vendor: d.vendor },
    fields: { ip: d.ips.join(','), hostname: d.hostname, profile: d.profile, known: d.known, ...(d.mudUrl ? { mud_url: d.mudUrl } : {}) },
    time: d.lastSeen,
  };
}

export function collectorPoint(s: CollectorStats): Point {
  return {
    measurement: 'collector',
    tags: { host: s.host, source: s.source },
    ints: {
      packets: s.packets, bytes: s.bytes, drops: s.drops, decode_errors: s.decodeErrors,
      flows_active: s.flowsActive, flows_evicted: s.flowsEvicted, queue: s.queue,
      spool_bytes: s.spoolBytes,
      // always written (0 where no live capture runs) so the dashboard's panel has a series
      kernel_drops: s.capture?.kernel ?? 0, if_drops: s.capture?.interface ?? 0, ring_drops: s.capture?.ring ?? 0,
      ...(s.netflow ? {
        netflow_datagrams: s.netflow.datagrams, netflow_records: s.netflow.records, netflow_refused: s.netflow.refused,
        netflow_filtered: s.netflow.filtered, netflow_malformed: s.netflow.malformed, netflow_lost: s.netflow.lost,
      } : {}),
    },
    time: s.time,
  };
}

/**
 * Guards against the one case anomalyOffsetNs cannot rule out: two distinct
 * anomalies of one series in one ms whose offsets collide (about 1 in 10^6 per
 * such pair). Remembers recent keys (bounded) and moves a colliding point by
 * 1 ns. Only within one collector run; across restarts the chance stays ~1e-6.
 */
export class SeriesTimeGuard {
  private readonly seen = new Map<string, string>();
  private readonly seenOldest = new Oldest(this.seen);

  constructor(private readonly capacity = 65536) {}

  /** Adjusts p.timeNs in place so its key is unique among recent points. */
  place(p: Point, identity: string): void {
    if (p.time === undefined) return;
    const series = p.measurement + '\u0000' + JSON.stringify(p.tags ?? {}) + '\u0000' + p.time + '\u0000';
    let ns = p.timeNs ?? 0;
    for (let tries = 0; tries < 1000; tries++) {
      const key = series + ns;
      const prev = this.seen.get(key);
      if (prev === undefined || prev === identity) {
        if (prev === undefined) {
          this.seen.set(key, identity);
          if (this.seen.size > this.capacity) {
            const oldest = this.seenOldest.key();
            if (oldest !== undefined) this.seen.delete(oldest);
          }
        }
        p.timeNs = ns;
        return;
      }
      ns = (ns + 1) % 1000000;
    }
  }
}

/** What SeriesTimeGuard compares: the anomaly's id (its cause and first packet). */
export function anomalyIdentity(a: Anomaly): string {
  return a.id || a.peer + '|' + a.peerPort + '|' + a.proto;
}
