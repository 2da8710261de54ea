// What the rest of segwatch sees of the device inventory: read-only look-ups and the
// events inventory raises. The inventory module owns the bindings; detectors only ask.

import type { Device, Text } from '../types.js';

/** Which device an address belongs to, and which names a device resolved. */
export interface InventoryView {
  /** key: addrKey(ip), for a caller that has it (the text is then not parsed again) */
  deviceByIp(ip: string, key?: number | string): Device | undefined;
  deviceByMac(mac: string): Device | undefined;
  /**
   * Domain names `client` got in DNS answers for `peer`, still valid at `ts`
   * (TTL plus a grace period), newest first. Empty when none. clientKey/peerKey: addrKey() of
   * client/peer, for a caller that has them.
   */
  namesFor(client: string, peer: Text, ts: number, clientKey?: number | string, peerKey?: number | string): readonly string[];
  devices(): readonly Device[];
}

/** An address claimed by a second MAC. */
export interface BindingConflict {
  /** ms since epoch */
  time: number;
  ip: string;
  /** the MAC that held the address until now */
  oldMac: string;
  newMac: string;
  /** how the new claim was seen */
  source: 'arp' | 'dhcp' | 'nd' | 'traffic';
}

/** Placement the pipeline gives a device (from the policy): inventory stores it on the Device. */
export interface Placement {
  name: string;
  profile: string;
  known: boolean;
  segment: string;
}

export interface InventoryEvents {
  /** a device appeared (first time seen in this run) or one of its fields changed. */
  onDevice?(device: Device, change: 'new' | 'updated'): void;
  onConflict?(conflict: BindingConflict): void;
}
