// The inventory's memo of bound IPv4 addresses (inventory.ts) answers exactly what its Maps
// would: random ARP claims, flow starts from several MACs and addresses, evictions at a small
// device cap and restores, with each answer checked against the look-up that bypasses the memo
// (a text key), and two inventories fed the same events, one with the memo filled at other
// moments (look-ups between events), ending with the same devices and the same events.

import t from 'tap';
import { Inventory } from '../../../collector/inventory/inventory.js';
import { PacketInfo, L3 } from '../../../collector/decode/packet.js';
import { parseIp4 } from '../../../collector/decode/addr.js';
import type { Device, FlowStart } from '../../../collector/types.js';

const T0 = 1_700_000_000_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const MACS = Array.from({ length: 12 }, (_, i) => `02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`);
const IPS = Array.from({ length: 20 }, (_, i) => `192.168.50.${10 + i}`);

function feed(seed: number, trafficConflicts: boolean, between: ((i: Inventory) => void) | null, check: ((i: Inventory) => number) | null) {
  const log: string[] = [];
  const i = new Inventory({ maxDevices: 6, trafficConflicts, bindingStaleMs: 50_000 }, {
    onDevice: (d, change) => log.push(`${change} ${JSON.stringify(d)}`),
    onConflict: (c) => log.push(`conflict ${JSON.stringify(c)}`),
  });
  const p = new PacketInfo();
  const next = rng(seed);
  let bad = 0;
  for (let step = 0, ts = T0; step < 3000; step++, ts += 1 + next(40_000)) {
    const mac = MACS[next(MACS.length)], ip = IPS[next(IPS.length)];
    const op = next(10);
    if (op < 3) {
      p.reset(); p.l3 = L3.ARP; p.ts = ts; p.arpOp = 2; p.srcMac = p.arpSenderMac = parseInt(mac.replace(/:/g, ''), 16); p.arpSenderIp = parseIp4(ip);
      i.observeArp(p);
    } else if (op < 9) {
      const f: FlowStart = { id: step, time: ts, proto: 'tcp', src: ip, sport: 40000, dst: '203.0.113.9', dport: 443, srcMac: mac,
        dstMac: MACS[0], vlan: 0, tcpFlags: 2, bytes: 60, origin: 'pcap', exporter: '', sureInitiator: false };
      i.observeFlowStart(f);
    } else {
      const d: Device = { id: mac, name: '', mac, ips: [ip], vendor: '', hostname: '', profile: '', segment: '', firstSeen: ts, lastSeen: ts, known: false };
      i.restore([d]);
    }
    between?.(i);
    if (check) bad += check(i);
  }
  return { log, devices: i.devices(), bad };
}

/** memo answers against the Maps' (a text key goes around the memo), for every address */
const differ = (i: Inventory) => {
  let n = 0;
  for (const ip of IPS) if (i.deviceByIp(ip) !== i.deviceByIp(ip, ip)) n++;
  return n;
};

t.test('every answer of the memo is the Maps\' answer', async (t) => {
  for (const seed of [1, 2, 3]) {
    for (const conflicts of [false, true]) {
      const r = feed(seed, conflicts, null, differ);
      t.equal(r.bad, 0, `seed ${seed}, trafficConflicts ${conflicts}: no stale answer`);
      t.ok(r.log.length > 100, 'devices came, changed and went');
    }
  }
});

t.test('when the memo is filled changes nothing', async (t) => {
  for (const seed of [4, 5]) {
    const plain = feed(seed, false, null, null);
    const asked = feed(seed, false, (i) => { for (const ip of IPS) i.deviceByIp(ip); }, null);
    t.same(asked.devices, plain.devices, `seed ${seed}: same devices`);
    t.same(asked.log, plain.log, `seed ${seed}: same events`);
  }
});

t.test('a responder whose device was evicted is a new device at its next flow (the remembered responder is forgotten)', async (t) => {
  const log: string[] = [];
  const i = new Inventory({ maxDevices: 2 }, { onDevice: (d, change) => log.push(`${change} ${d.id}`) });
  const p = new PacketInfo();
  const flow = (id: number, ts: number, srcMac: string, src: string, dstMac: string): void => {
    i.observeFlowStart({ id, time: ts, proto: 'tcp', src, sport: 40000, dst: '203.0.113.9', dport: 443, srcMac,
      dstMac, vlan: 0, tcpFlags: 2, bytes: 60, origin: 'pcap', exporter: '', sureInitiator: false });
  };
  const [a, router, b] = MACS;
  const arp = (ts: number, mac: string, ip: string): void => {
    p.reset(); p.l3 = L3.ARP; p.ts = ts; p.arpOp = 2; p.srcMac = p.arpSenderMac = parseInt(mac.replace(/:/g, ''), 16); p.arpSenderIp = parseIp4(ip);
    i.observeArp(p);
  };
  // the router is a device before it answers the first flow (its ARP)
  arp(T0, router, '192.168.50.1');
  flow(1, T0 + 1, a, IPS[0], router);
  flow(2, T0 + 2, a, IPS[0], router);
  t.ok(i.deviceByMac(router), 'the router is a device');
  // two minutes on, a new device takes the router's place at the cap of 2 (the device that
  // entered first was seen a moment ago, so it stays)
  flow(3, T0 + 119_000, a, IPS[0], '');
  arp(T0 + 120_000, b, IPS[1]);
  t.equal(i.deviceByMac(router), undefined, 'the router was evicted');
  flow(4, T0 + 120_001, a, IPS[0], router);
  t.ok(i.deviceByMac(router), 'the router is a device again');
  t.equal(log.filter((l) => l === `new ${router}`).length, 2, 'and reported as new again');
});
