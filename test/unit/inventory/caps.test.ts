// The inventory's caps (README "Limits"): devices (maxDevices) and DNS names (dnsMaxEntries),
// fed through the inventory's own entry points; what each cap pushed out is counted (capStats).
import t from 'tap';
import { Inventory, DEFAULT_MAX_DEVICES } from '../../../collector/inventory/inventory.js';
import type { DnsMessage } from '../../../collector/decode/dns.js';
import { DNS_A } from '../../../collector/decode/dns.js';

const T = 1_700_000_000_000;
const mac = (i: number) => `02:50:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const ip = (i: number) => `10.50.${(i >> 8) & 255}.${i & 255}`;

t.test('devices: cap 1,000, 10,000 devices fed: at most 1,000 held, 9,000 forgotten', async (t) => {
  const inv = new Inventory({ maxDevices: 1000 });
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    inv.observeBinding(ip(i), mac(i), T + i * 1000, 'arp');
    most = Math.max(most, inv.capStats().devices);
  }
  t.equal(most, 1000, 'never more than the cap');
  t.equal(inv.devices().length, 1000);
  t.equal(inv.capStats().devicesEvicted, 9000);
  t.equal(inv.deviceByIp(ip(0)), undefined, 'a forgotten device\'s binding went with it');
  t.equal(inv.deviceByIp(ip(9999))?.mac, mac(9999), 'the newest are held');
});

t.test('devices: one seen in the last minute is passed over for an older-seen one', async (t) => {
  const inv = new Inventory({ maxDevices: 3 });
  for (let i = 0; i < 3; i++) inv.observeBinding(ip(i), mac(i), T, 'arp');
  inv.observeBinding(ip(0), mac(0), T + 120_000, 'arp'); // device 0 still talking
  inv.observeBinding(ip(3), mac(3), T + 120_001, 'arp');
  t.ok(inv.deviceByMac(mac(0)), 'the first to enter, but seen just now, is kept');
  t.equal(inv.deviceByMac(mac(1)), undefined, 'the next, quiet for two minutes, goes');
  t.equal(inv.capStats().devicesEvicted, 1);
  t.equal(DEFAULT_MAX_DEVICES, 65_536);
});

function answer(name: string, addr: string): DnsMessage {
  return {
    id: 1, qr: true, opcode: 0, rcode: 0, aa: false, tc: false, incomplete: false,
    questions: [{ name, type: DNS_A, class: 1 }] as DnsMessage['questions'],
    answers: [{ name, type: DNS_A, class: 1, ttl: 300, data: addr }] as DnsMessage['answers'], authority: [], additional: [],
  };
}

t.test('DNS names: cap 1,000, 10,000 names fed: at most 1,000 held, 9,000 dropped', async (t) => {
  const inv = new Inventory({ dnsMaxEntries: 1000 });
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    inv.observeDns('10.50.0.9', answer(`h${i}.example.com`, `20.0.${(i >> 8) & 255}.${i & 255}`), T + i);
    most = Math.max(most, inv.capStats().dnsNames);
  }
  t.equal(most, 1000, 'never more than the cap');
  t.equal(inv.capStats().dnsNames, 1000);
  t.equal(inv.capStats().dnsNamesEvicted, 9000);
  t.same(inv.namesFor('10.50.0.9', '20.0.0.0', T + 10_000), [], 'the oldest went');
  t.same(inv.namesFor('10.50.0.9', '20.0.39.15', T + 10_000), ['h9999.example.com'], 'the newest are held');
});
