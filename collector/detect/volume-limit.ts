// volume.limit: a device's bytes (both directions) over its profile's bytes_per_hour
// (rolling hour, minute buckets) or bytes_per_day (rolling 24 h, hour buckets). One anomaly
// per device per limit window: after it fires, that limit is quiet for one window.
// A record's bytes are counted at its end time (interim records spread long flows).

import type { CompiledPolicy, ProfileLimits } from '../policy/types.js';
import type { FlowRecord, Text } from '../types.js';
import { textOf } from '../types.js';
import type { Reporter, Subject } from './anomaly.js';
import { who } from './anomaly.js';
import type { DetectorDef } from './detector.js';
import { Oldest } from '../oldest.js';

const MIN = 60_000;
const HOUR = 3_600_000;

interface Usage {
  minuteBytes: Float64Array;
  minuteStamp: Float64Array;
  hourBytes: Float64Array;
  hourStamp: Float64Array;
  hourQuietUntil: number;
  dayQuietUntil: number;
  last: number;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

export class VolumeLimit {
  private readonly byDevice = new Map<string, Usage>();
  private readonly byDeviceOldest = new Oldest(this.byDevice);
  private nextSweep = -Infinity;

  constructor(private readonly reporter: Reporter, private readonly maxDevices = 65_536) {}

  /**
   * Add bytes a device moved, ending at `time` (ms), and check its limits.
   * @param deviceKey stable device id (MAC, else IP)
   */
  add(deviceKey: string, bytes: number, time: number, limits: ProfileLimits, subject: () => Subject): void {
    if (limits.bytesPerHour === undefined && limits.bytesPerDay === undefined) return;
    let u = this.byDevice.get(deviceKey);
    if (!u) {
      if (this.byDevice.size >= this.maxDevices) this.evictIdle(time);
      u = {
        minuteBytes: new Float64Array(60), minuteStamp: new Float64Array(60).fill(-1),
        hourBytes: new Float64Array(24), hourStamp: new Float64Array(24).fill(-1),
        hourQuietUntil: -Infinity, dayQuietUntil: -Infinity, last: time,
      };
      this.byDevice.set(deviceKey, u);
    }
    if (time > u.last) u.last = time;
    const minute = Math.floor(time / MIN), hour = Math.floor(time / HOUR);
    const ms = minute % 60, hs = hour % 24;
    if (u.minuteStamp[ms] !== minute) { u.minuteStamp[ms] = minute; u.minuteBytes[ms] = 0; }
    u.minuteBytes[ms] += bytes;
    if (u.hourStamp[hs] !== hour) { u.hourStamp[hs] = hour; u.hourBytes[hs] = 0; }
    u.hourBytes[hs] += bytes;

    if (limits.bytesPerHour !== undefined && time >= u.hourQuietUntil) {
      let sum = 0;
      for (let i = 0; i < 60; i++) if (u.minuteStamp[i] > minute - 60) sum += u.minuteBytes[i];
      if (sum > limits.bytesPerHour) {
        u.hourQuietUntil = time + HOUR;
        this.raise(subject(), time, sum, limits.bytesPerHour, 'hour');
      }
    }
    if (limits.bytesPerDay !== undefined && time >= u.dayQuietUntil) {
      let sum = 0;
      for (let i = 0; i < 24; i++) if (u.hourStamp[i] > hour - 24) sum += u.hourBytes[i];
      if (sum > limits.bytesPerDay) {
        u.dayQuietUntil = time + 24 * HOUR;
        this.raise(subject(), time, sum, limits.bytesPerDay, 'day');
      }
    }
  }

  private raise(s: Subject, time: number, sum: number, limit: number, per: 'hour' | 'day'): void {
    this.reporter.report({
      kind: 'volume.limit', time, subject: s, bytes: sum,
      rule: `profiles.${s.profile}.limits.bytes_per_${per}`,
      message: `${who(s)} moved ${formatBytes(sum)} in the last ${per}, over the ${formatBytes(limit)} bytes_per_${per} of profile ${s.profile}: check what it is sending or raise the limit`,
    });
  }

  private evictIdle(now: number): void {
    // the whole-map scan at most once a minute: at the cap, a flood of new devices would
    // otherwise scan every entry once per new device
    if (now >= this.nextSweep) {
      this.nextSweep = now + 60_000;
      for (const [k, u] of this.byDevice) if (now - u.last > 24 * HOUR) this.byDevice.delete(k);
    }
    if (this.byDevice.size >= this.maxDevices) this.byDevice.delete(this.byDeviceOldest.key()!);
  }
}

export const volumeLimitDetector: DetectorDef = {
  name: 'volume-limit',
  kinds: { 'volume.limit': 'medium' },
  create(ctx) {
    const volume = new VolumeLimit(ctx.reporter);
    /** cumulative totals of flows that sent interim records, for deltas */
    const interim = new Map<number, { start: number; bytes: number }>();
    /** anyLimits() for limitsPolicy: without a limit in the policy no record is looked at */
    let limitsPolicy: CompiledPolicy | null = null, limitsAny = false;
    const anyLimits = (p: CompiledPolicy) => {
      if (p !== limitsPolicy) {
        limitsPolicy = p;
        limitsAny = p.profiles().some((name) => {
          const l = p.limits(name);
          return l.bytesPerHour !== undefined || l.bytesPerDay !== undefined;
        });
      }
      return limitsAny;
    };
    // the record's destination text, read only for a watched end (a reused record formats it when read)
    let cur: FlowRecord | null = null;
    const curDst = () => cur!.dst;
    const account = (p: CompiledPolicy, end: Text, key: number | string | undefined, mac: string, vlan: number, bytes: number, time: number) => {
      if (bytes <= 0 || !ctx.watched(p, end, vlan, key)) return;
      const ip = textOf(end);
      const profile = ctx.profileOf(p, ip, mac, key);
      const limits = p.limits(profile);
      if (limits.bytesPerHour === undefined && limits.bytesPerDay === undefined) return;
      const d = ctx.inventory.deviceByIp(ip, key);
      volume.add(d?.id ?? ip, bytes, time, limits, () => ctx.subject(p, ip, mac, true));
    };
    return {
      flowRecord(r) {
        // bytes since the previous record of this flow: the flow table sends deltas (a new
        // start each interim record); a source that repeats the start sends totals
        let dBytes = r.bytes + r.bytesRev;
        const prev = interim.get(r.id);
        if (prev && prev.start === r.start && dBytes >= prev.bytes) dBytes -= prev.bytes;
        if (r.final) interim.delete(r.id);
        else interim.set(r.id, { start: r.start, bytes: r.bytes + r.bytesRev });
        const p = ctx.policy();
        if (!anyLimits(p)) return;
        account(p, r.src, r.srcKey, r.srcMac, r.vlan, dBytes, r.end);
        cur = r;
        account(p, curDst, r.dstKey, r.dstMac, r.vlan, dBytes, r.end);
        cur = null;
      },
      flush: () => interim.clear(),
    };
  },
};
