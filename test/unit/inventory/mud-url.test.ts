// A device's MUD URL in the inventory: which announcements are kept, that a change is a device
// update, and who the device is for DHCPv4, DHCPv6 (relayed or not) and LLDP.
import t from 'tap';
import { Inventory } from '../../../collector/inventory/inventory.js';
import { validMudUrl, MUD_URL_MAX } from '../../../collector/inventory/mud-url.js';
import type { DhcpMessage } from '../../../collector/decode/dhcp.js';
import type { Dhcp6Message } from '../../../collector/decode/dhcp6.js';
import type { Device } from '../../../collector/types.js';

const T0 = 1_700_000_000_000;
const URL1 = 'https://mudctl.example.com/.well-known/mud/v1/rasbp101';
const URL2 = 'https://mudctl.example.com/.well-known/mud/v2/rasbp101';
const macNum = (m: string) => parseInt(m.replace(/:/g, ''), 16);

t.test('validMudUrl: https, a host, no credentials, printable, bounded', async (tt) => {
  tt.ok(validMudUrl(URL1));
  tt.ok(validMudUrl('HTTPS://Example.COM/x'));
  for (const bad of ['http://mudctl.example.com/x', 'ftp://a/b', 'https://', 'https:///path', 'https://user:pw@h.example/x',
    'https://h.example/a b', 'https://h.example/\u00e9', 'https://h.example/\t', 'mudctl.example.com/x', '',
    'https://h.example/' + 'a'.repeat(MUD_URL_MAX)]) {
    tt.notOk(validMudUrl(bad), JSON.stringify(bad.slice(0, 40)));
  }
  tt.ok(validMudUrl('https://h.example/' + 'a'.repeat(MUD_URL_MAX - 18)), 'exactly MUD_URL_MAX');
});

function inv() {
  const events: { d: Device; change: string }[] = [];
  const i = new Inventory({}, { onDevice: (d, change) => events.push({ d, change }) });
  return { i, events };
}

const dhcp = (mudUrl: string | undefined, op = 1): DhcpMessage => ({
  op, htype: 1, xid: 1, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
  chaddr: 'b8:27:eb:b8:53:c8', chaddrNum: 0, cookie: true, messageType: 3, incomplete: false, ...(mudUrl !== undefined ? { mudUrl } : {}),
});

t.test('DHCPv4: the client\'s MUD URL is kept; a change is an update; a bad one is counted and not kept', async (tt) => {
  const { i, events } = inv();
  i.observeDhcp(dhcp(URL1), T0);
  tt.equal(i.deviceByMac('b8:27:eb:b8:53:c8')?.mudUrl, URL1);
  tt.same(events.map((e) => [e.change, e.d.mudUrl]), [['new', URL1]]);
  i.observeDhcp(dhcp(URL1), T0 + 1000);
  tt.equal(events.length, 1, 'the same URL again: no update');
  i.observeDhcp(dhcp(URL2), T0 + 2000);
  tt.same(events.map((e) => [e.change, e.d.mudUrl]), [['new', URL1], ['updated', URL2]]);
  i.observeDhcp(dhcp('http://evil.example/x'), T0 + 3000);
  tt.equal(i.deviceByMac('b8:27:eb:b8:53:c8')?.mudUrl, URL2, 'a plain-http URL does not replace it');
  tt.equal(i.mudUrlsRejected, 1);
  i.observeDhcp(dhcp(URL1, 2), T0 + 4000);
  tt.equal(i.deviceByMac('b8:27:eb:b8:53:c8')?.mudUrl, URL2, 'a server\'s reply names no MUD URL of the client');
  i.observeDhcp(dhcp(undefined), T0 + 5000);
  tt.equal(i.deviceByMac('b8:27:eb:b8:53:c8')?.mudUrl, URL2, 'a message without option 161 keeps it');
});

const v6 = (over: Partial<Dhcp6Message>): Dhcp6Message => ({ msgType: 1, xid: 1, relays: 0, clientMac: -1, clientMacFrom: '', malformed: false, ...over });

t.test('DHCPv6: unrelayed by the frame\'s sender, relayed by the client MAC the relay or DUID names', async (tt) => {
  const { i } = inv();
  i.observeDhcp6(v6({ mudUrl: URL1, clientMac: macNum('02:00:00:00:00:09'), fqdn: 'lamp.home' }), macNum('00:11:22:33:44:55'), T0);
  tt.equal(i.deviceByMac('00:11:22:33:44:55')?.mudUrl, URL1, 'unrelayed: the sender');
  tt.equal(i.deviceByMac('00:11:22:33:44:55')?.hostname, 'lamp');
  tt.equal(i.deviceByMac('02:00:00:00:00:09'), undefined);
  i.observeDhcp6(v6({ mudUrl: URL2, relays: 1, clientMac: macNum('b8:27:eb:b8:53:c8') }), macNum('00:23:eb:10:2c:29'), T0);
  tt.equal(i.deviceByMac('b8:27:eb:b8:53:c8')?.mudUrl, URL2, 'relayed: the client, not the relay');
  tt.equal(i.deviceByMac('00:23:eb:10:2c:29'), undefined);
  i.observeDhcp6(v6({ mudUrl: URL2, relays: 1 }), macNum('00:23:eb:10:2c:29'), T0);
  tt.equal(i.devices().length, 2, 'a relayed message naming no client MAC teaches nothing');
});

t.test('LLDP: the sender; a multicast source is no station', async (tt) => {
  const { i, events } = inv();
  i.observeLldpMudUrl(macNum('00:23:54:c2:57:02'), URL1, T0);
  tt.equal(i.deviceByMac('00:23:54:c2:57:02')?.mudUrl, URL1);
  i.observeLldpMudUrl(macNum('01:80:c2:00:00:0e'), URL1, T0);
  tt.equal(i.devices().length, 1);
  i.observeLldpMudUrl(macNum('00:23:54:c2:57:02'), 'https://h.example/\u0000', T0);
  tt.equal(i.mudUrlsRejected, 1);
  tt.equal(events.length, 1);
});

t.test('restore keeps the MUD URL; a restored device announcing it again is no update', async (tt) => {
  const { i, events } = inv();
  i.restore([{ id: 'b8:27:eb:b8:53:c8', name: 'pi', mac: 'b8:27:eb:b8:53:c8', ips: [], vendor: '', hostname: '', profile: '', segment: '', firstSeen: T0, lastSeen: T0, known: false, mudUrl: URL1 }]);
  tt.equal(i.deviceByMac('b8:27:eb:b8:53:c8')?.mudUrl, URL1);
  const before = events.length;
  i.observeDhcp(dhcp(URL1), T0 + 1000);
  tt.equal(events.length, before);
});
