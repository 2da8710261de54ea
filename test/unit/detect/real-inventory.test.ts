// The engine with the real Inventory and real DNS answer bytes through the real decoder:
// names from DNS answers within TTL plus grace, SNI after the SYN, inventory events.

import t from 'tap';
import { Inventory } from '../../../collector/inventory/inventory.js';
import type { Placement } from '../../../collector/inventory/types.js';
import { decodeDns } from '../../../collector/decode/dns.js';
import { DetectEngine } from '../../../collector/detect/engine.js';
import type { Anomaly } from '../../../collector/types.js';
import { DOORBELL_IP, DOORBELL_MAC, T0, loadPolicy, start } from './helpers.js';

/** A DNS response: `qname` CNAME `target` A `addr`, TTL seconds, no name compression. */
function dnsResponse(qname: string, target: string, addr: string, ttl: number): Buffer {
  const name = (n: string) => Buffer.concat([...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const u16 = (v: number) => Buffer.from([v >> 8, v & 255]);
  const u32 = (v: number) => Buffer.from([v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255]);
  const rr = (owner: string, type: number, rdata: Buffer) => Buffer.concat([name(owner), u16(type), u16(1), u32(ttl), u16(rdata.length), rdata]);
  return Buffer.concat([
    u16(0x1234), u16(0x8180), u16(1), u16(2), u16(0), u16(0),
    name(qname), u16(1), u16(1),
    rr(qname, 5, name(target)),
    rr(target, 1, Buffer.from(addr.split('.').map(Number))),
  ]);
}

function answer(qname: string, target: string, addr: string, ttl: number) {
  const b = dnsResponse(qname, target, addr, ttl);
  const m = decodeDns(b, 0, b.length);
  if (!m) throw new Error('test DNS response did not decode');
  return m;
}

function rig(graceMs = 300_000) {
  const policy = loadPolicy();
  const out: Anomaly[] = [];
  let engine: DetectEngine | null = null;
  const inv = new Inventory({
    dnsGraceMs: graceMs,
    place: (facts): Placement => {
      const p = policy.place(facts);
      return { name: p.name, profile: p.profile, known: p.known, segment: policy.segmentOf(facts.ip) };
    },
  }, {
    onDevice: (d, change) => engine?.device(d, change),
    onConflict: (c) => engine?.conflict(c),
  });
  engine = new DetectEngine({ policy: () => policy, inventory: inv, emit: (ev, a) => { if (ev === 'closed') out.push(a); }, settings: { dnsGraceMs: graceMs } });
  inv.observeBinding(DOORBELL_IP, DOORBELL_MAC, T0 - 1000, 'arp');
  return { engine, inv, out };
}

t.test('a domain allowed through the DNS answer the device received (CNAME chain)', async (t) => {
  const { engine, inv, out } = rig();
  t.equal(inv.deviceByIp(DOORBELL_IP)?.profile, 'camera', 'placed by the policy through the inventory');
  inv.observeDns(DOORBELL_IP, answer('fw.ring.com', 'edge.cdn.example', '54.1.2.3', 60), T0);
  engine.flowStart(start({ dst: '54.1.2.3', dport: 443, time: T0 + 10_000 }));
  // TTL 60 s + grace 300 s: still valid at 359 s
  engine.flowStart(start({ dst: '54.1.2.3', dport: 443, time: T0 + 359_000 }));
  engine.flush();
  t.same(out, []);
});

t.test('near miss: the answer went to another client, or expired beyond TTL plus grace', async (t) => {
  const { engine, inv, out } = rig();
  inv.observeDns('192.168.50.11', answer('fw.ring.com', 'edge.cdn.example', '54.1.2.3', 60), T0);
  inv.observeDns(DOORBELL_IP, answer('fw.ring.com', 'edge.cdn.example', '54.9.9.9', 60), T0);
  engine.flowStart(start({ dst: '54.1.2.3', dport: 443, time: T0 + 1000 }));
  engine.flowStart(start({ dst: '54.9.9.9', dport: 443, time: T0 + 361_000 }));
  engine.flush();
  t.same(out.map((a) => [a.kind, a.peer, a.peerName]), [['policy.violation', '54.1.2.3', ''], ['policy.violation', '54.9.9.9', '']]);
});

t.test('the same domain through SNI after the SYN, with no DNS answer', async (t) => {
  const { engine, out } = rig();
  const s = start({ dst: '54.7.7.7', dport: 443, time: T0 + 1000 });
  engine.flowStart(s);
  engine.flowName(s.id, 'cam.ring.com');
  engine.flush();
  t.same(out, []);
});

t.test('inventory events: a stranger in the iot segment and a stolen address', async (t) => {
  const { engine, inv, out } = rig();
  inv.observeBinding('192.168.50.77', '02:de:ad:be:ef:01', T0, 'arp');
  inv.observeBinding(DOORBELL_IP, '02:66:66:66:66:66', T0 + 5000, 'arp');
  engine.flush();
  const k = out.map((a) => [a.kind, a.ip]).sort();
  t.same(k.filter(([kind]) => kind === 'device.spoof'), [['device.spoof', DOORBELL_IP]]);
  t.ok(k.some(([kind, ip]) => kind === 'device.new' && ip === '192.168.50.77'), 'the stranger is new');
  t.notOk(out.some((a) => a.kind === 'device.new' && a.mac === DOORBELL_MAC), 'the listed doorbell is not');
});
