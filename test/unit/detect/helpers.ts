// Shared fixtures for the detector tests: a small real policy loaded through the policy
// loader, a read-only InventoryView over Maps (a test double of the interface), and flow
// builders.

import { loadPolicyText } from '../../../collector/policy/load.js';
import type { CompiledPolicy } from '../../../collector/policy/types.js';
import type { InventoryView } from '../../../collector/inventory/types.js';
import type { Anomaly, Device, FlowRecord, FlowStart, Text } from '../../../collector/types.js';
import { textOf } from '../../../collector/types.js';
import { DetectEngine } from '../../../collector/detect/engine.js';
import type { DetectSettings } from '../../../collector/detect/settings.js';

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

export const POLICY = `
version: 1
segments:
  iot: ["192.168.50.0/24", "fd00:50::/64"]
  lan: ["192.168.1.0/24", "fd00:1::/64"]
watch: [iot]
protected: [lan]
resolvers: ["192.168.50.1", "fd00:50::1"]
devices:
  - { name: doorbell, mac: "aa:bb:cc:00:00:01", profile: camera }
  - { name: nvr, ip: "192.168.1.30", profile: quarantine }
  - { name: plug, mac: "aa:bb:cc:00:00:02", profile: smart-plug }
default_profile: quarantine
profiles:
  camera:
    allow:
      - { to: "*.ring.com", ports: ["443/tcp"] }
      - { to: "52.94.0.0/16", ports: ["443/tcp", "3478-3479/udp"] }
      - { to: "2001:db8:94::/48", ports: ["443/tcp"] }
      - { service: ntp }
      - { service: dns }
      - { service: mdns }
      - { to: "device:nvr", ports: ["554/tcp"] }
      - { to: "9.9.9.9", ports: ["53/udp"] }
      - { to: "mqtt.example.net", ports: ["1883/tcp"] }
    limits: { bytes_per_hour: 500MB }
  smart-plug:
    allow:
      - { to: "*.tplinkcloud.com", ports: ["443/tcp"] }
      - { service: dns }
    limits: { bytes_per_day: 1GB }
  quarantine:
    allow: [ { service: dhcp }, { service: dns } ]
`;

export function loadPolicy(text: string = POLICY): CompiledPolicy {
  const r = loadPolicyText(text, 'test-policy.yaml');
  if (!r.policy) throw new Error(`test policy refused: ${JSON.stringify(r.errors)}`);
  return r.policy;
}

/** POLICY with `vlan: N` set. */
export function vlanPolicy(vlan: number): CompiledPolicy {
  return loadPolicy(POLICY.replace('watch: [iot]', `watch: [iot]\nvlan: ${vlan}`));
}

/** A read-only inventory over Maps; tests fill it directly. */
export class MapInventory implements InventoryView {
  readonly byMac = new Map<string, Device>();
  readonly byIp = new Map<string, Device>();
  /** `${client} ${peer}` -> [name, validUntil ms] */
  readonly names = new Map<string, Array<[string, number]>>();

  add(d: Partial<Device> & { mac: string; ips: string[] }): Device {
    const dev: Device = {
      id: d.mac || d.ips[0], name: '', vendor: '', hostname: '', profile: '', segment: '',
      firstSeen: T0, lastSeen: T0, known: false, ...d,
    };
    if (dev.mac) this.byMac.set(dev.mac, dev);
    for (const ip of dev.ips) this.byIp.set(ip, dev);
    return dev;
  }

  addName(client: string, peer: string, name: string, validUntil: number): void {
    const k = `${client} ${peer}`;
    const l = this.names.get(k) ?? [];
    l.unshift([name, validUntil]);
    this.names.set(k, l);
  }

  deviceByIp(ip: string): Device | undefined { return this.byIp.get(ip); }
  deviceByMac(mac: string): Device | undefined { return this.byMac.get(mac); }
  namesFor(client: string, peer: Text, ts: number): readonly string[] {
    return (this.names.get(`${client} ${textOf(peer)}`) ?? []).filter(([, until]) => ts <= until).map(([n]) => n);
  }
  devices(): readonly Device[] { return [...this.byMac.values()]; }
}

export const DOORBELL_MAC = 'aa:bb:cc:00:00:01';
export const DOORBELL_IP = '192.168.50.10';
export const DOORBELL_IP6 = 'fd00:50::10';
export const PLUG_MAC = 'aa:bb:cc:00:00:02';
export const PLUG_IP = '192.168.50.11';
export const NVR_IP = '192.168.1.30';

/** Inventory with the doorbell (camera), the plug and the NVR as the pipeline would place them. */
export function standardInventory(): MapInventory {
  const inv = new MapInventory();
  inv.add({ mac: DOORBELL_MAC, ips: [DOORBELL_IP, DOORBELL_IP6], name: 'doorbell', profile: 'camera', segment: 'iot', known: true });
  inv.add({ mac: PLUG_MAC, ips: [PLUG_IP], name: 'plug', profile: 'smart-plug', segment: 'iot', known: true });
  inv.add({ mac: 'aa:bb:cc:00:00:30', ips: [NVR_IP], name: 'nvr', profile: 'quarantine', segment: 'lan', known: true });
  return inv;
}

export interface Harness {
  engine: DetectEngine;
  /** anomalies as they closed (their final state) */
  out: Anomaly[];
  /** anomalies as they opened (count 1, at the first packet) */
  first: Anomaly[];
  /** every lifecycle event in order */
  events: Array<[string, Anomaly]>;
  inv: MapInventory;
  policy: CompiledPolicy;
}

/** `policyFn`: the policy in force at each event (a test swaps it to reload); else `policy`. */
export function harness(o: { policy?: CompiledPolicy; policyFn?: () => CompiledPolicy; inv?: MapInventory; settings?: Partial<DetectSettings>; seen?: Set<string> } = {}): Harness {
  const out: Anomaly[] = [], first: Anomaly[] = [];
  const events: Array<[string, Anomaly]> = [];
  const policy = o.policy ?? o.policyFn?.() ?? loadPolicy();
  const inv = o.inv ?? standardInventory();
  const engine = new DetectEngine({
    policy: o.policyFn ?? (() => policy), inventory: inv, settings: o.settings, seen: o.seen,
    emit: (ev, a) => {
      events.push([ev, a]);
      if (ev === 'opened') first.push(a);
      if (ev === 'closed') out.push(a);
    },
  });
  return { engine, out, first, events, inv, policy };
}

let nextId = 1;

/** A flow's first packet; defaults: the doorbell opens tcp with a SYN. */
export function start(f: Partial<FlowStart> = {}): FlowStart {
  return {
    id: nextId++, time: T0, proto: 'tcp', src: DOORBELL_IP, sport: 40000, dst: '203.0.113.5', dport: 443,
    srcMac: DOORBELL_MAC, dstMac: '02:00:00:00:00:fe', vlan: 0, tcpFlags: 0x02, bytes: 60,
    origin: 'pcap', exporter: '', sureInitiator: true, ...f,
  };
}

/** The final record of a flow begun by `s`. */
export function recordOf(s: FlowStart, r: Partial<FlowRecord> = {}): FlowRecord {
  return {
    id: s.id, start: s.time, end: s.time + 1000, proto: s.proto, src: s.src, sport: s.sport, dst: s.dst, dport: s.dport,
    packets: 10, bytes: 2000, packetsRev: 8, bytesRev: 6000, srcMac: s.srcMac, dstMac: s.dstMac, vlan: s.vlan,
    tcpFlags: 0x1b, origin: s.origin, exporter: s.exporter, final: true, ...r,
  };
}

/** Every anomaly field of DESIGN.md, with its type. */
export const ANOMALY_FIELDS: Record<keyof Anomaly, 'string' | 'number' | 'boolean'> = {
  id: 'string', state: 'string', closeReason: 'string', suppressed: 'boolean',
  time: 'string', kind: 'string', severity: 'string', device: 'string', mac: 'string', ip: 'string',
  segment: 'string', profile: 'string', peer: 'string', peerName: 'string', peerPort: 'number',
  proto: 'string', bytes: 'number', packets: 'number', count: 'number', firstSeen: 'string',
  lastSeen: 'string', rule: 'string', message: 'string',
};

export function kinds(list: readonly Anomaly[]): string[] {
  return list.map((a) => a.kind).sort();
}
