// device.new: a device in a watched segment that the policy does not list, seen for the
// first time. "Seen" is a set of device ids the caller may persist across runs.

import type { Device } from '../types.js';
import type { AnomalyInit, Subject } from './anomaly.js';
import { who } from './anomaly.js';
import type { DetectorDef } from './detector.js';

export class DeviceNew {
  constructor(private readonly seen: Set<string> = new Set()) {}

  /**
   * @param watchedIp the first of the device's addresses in a watched segment, "" when none
   * Returns the anomaly to report, or null. A device is reported once: when it first shows
   * an address in a watched segment (a MAC seen before its IP is reported when the IP comes).
   */
  check(d: Device, watchedIp: string, subject: Subject): AnomalyInit | null {
    if (d.known || watchedIp === '' || this.seen.has(d.id)) return null;
    this.seen.add(d.id);
    const vendor = d.vendor ? `, vendor ${d.vendor}` : '';
    return {
      kind: 'device.new', time: d.firstSeen, lastSeen: d.lastSeen, subject,
      peer: '', peerName: '', peerPort: 0, proto: '',
      rule: subject.profile ? `default_profile (${subject.profile})` : 'devices',
      message: `new device ${who(subject)} (MAC ${d.mac || 'unknown'}${vendor}) is not listed in the policy: identify it and add it to devices, or remove it from the network`,
    };
  }

  /** ids reported or known as seen, for persistence. */
  seenIds(): ReadonlySet<string> {
    return this.seen;
  }
}

export const deviceNewDetector: DetectorDef = {
  name: 'device-new',
  kinds: { 'device.new': 'medium' },
  create(ctx) {
    const dn = new DeviceNew(ctx.seenDevices);
    return {
      device(d) {
        if (d.known) return;
        const p = ctx.policy();
        let watchedIp = '';
        for (const ip of d.ips) if (p.isWatched(ip)) { watchedIp = ip; break; }
        if (watchedIp === '') return;
        const init = dn.check(d, watchedIp, ctx.subjectOfDevice(p, d, watchedIp));
        if (init) ctx.reporter.report(init);
      },
      // a reloaded policy that lists the device closes its device.new
      allows: (a, p) => a.kind === 'device.new' && p.place({ mac: a.mac, ip: a.ip, vendor: ctx.inventory.deviceByMac(a.mac)?.vendor ?? '', hostname: ctx.inventory.deviceByMac(a.mac)?.hostname ?? '' }).known,
    };
  },
};
