// device.spoof: an address claimed by a second MAC (ARP, DHCP, ND or traffic). High, and
// critical when the address is an approved resolver or a configured gateway
// (settings.spoofCriticalIps): whoever holds those can intercept every device's traffic.

import type { BindingConflict } from '../inventory/types.js';
import type { AnomalyInit, Subject } from './anomaly.js';

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
    message: `MAC ${c.newMac} (${claimant.device}) claimed ${c.ip}, held by ${holder === c.oldMac ? c.oldMac : `${holder} (${c.oldMac})`}, in ${via}: find and isolate ${c.newMac}, unless the address moved to new hardware on purpose`,
  };
}
