// device.spoof: an address claimed by a second MAC (ARP, DHCP, ND or traffic). High, and
// critical when the address is an approved resolver or a configured gateway
// (settings.spoofCriticalIps): whoever holds those can intercept every device's traffic.

import type { BindingConflict } from '../inventory/types.js';
import type { AnomalyInit, Subject } from './anomaly.js';
import type { DetectorDef } from './detector.js';
import { deviceLabel } from './anomaly.js';

/**
 * @param claimant the device behind the new MAC (its ip field is the contested address)
 * @param holder label of the device that held the address (name, else the old MAC)
 */
export function deviceSpoof(c: BindingConflict, claimant: Subject, holder: string, critical: boolean): AnomalyInit {
  const via = c.source === 'traffic' ? 'traffic' : c.source.toUpperCase();
  return {
    kind: 'device.spoof', time: c.time, subject: claimant,
    peer: c.ip, peerName: holder, peerPort: 0, proto: c.source,
    rule: critical ? 'spoofCriticalIps' : 'bindings',
    severity: critical ? 'critical' : undefined,
    message: `MAC ${c.newMac}${claimant.device === c.newMac ? '' : ` (${claimant.device})`} claimed ${c.ip}, held by ${holder === c.oldMac ? c.oldMac : `${holder} (${c.oldMac})`}, in ${via}: find and isolate ${c.newMac}, unless the address moved to new hardware on purpose`,
  };
}

export const deviceSpoofDetector: DetectorDef = {
  name: 'device-spoof',
  kinds: { 'device.spoof': 'high' },
  create(ctx) {
    const spoofCritical = new Set(ctx.settings.spoofCriticalIps);
    return {
      claim(c) {
        const p = ctx.policy();
        const critical = p.isResolver(c.ip) || spoofCritical.has(c.ip);
        // off-segment addresses all sit behind the router's MAC: only watched ones can be stolen here
        if (!critical && !p.isWatched(c.ip)) return;
        const claimant = ctx.inventory.deviceByMac(c.newMac);
        const holder = ctx.inventory.deviceByMac(c.oldMac);
        const s: Subject = {
          device: claimant ? deviceLabel(claimant, c.newMac) : c.newMac,
          mac: c.newMac, ip: c.ip, segment: p.segmentOf(c.ip), profile: claimant?.profile ?? '',
        };
        ctx.reporter.report(deviceSpoof(c, s, holder ? deviceLabel(holder, c.oldMac) : c.oldMac, critical));
      },
    };
  },
};
