// decodeDhcp6 on the relayed Solicits of tcpdump-dhcpv6-mud.pcap compared with tshark, then
// synthetic client messages: unrelayed, option 79, malformed and truncated input (never thrown).
import t from 'tap';
import { decodeDhcp6, DHCP6_MAX_RELAYS } from '../../../collector/decode/dhcp6.js';
import { macString } from '../../../collector/types.js';
import { capture, eachPacket, tsharkFields } from './frames.js';

const MUD = 'mud/tcpdump-dhcpv6-mud.pcap';

function payloads(rel: string): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  eachPacket(capture(rel), (p, n) => {
    if (p.hasL4 && p.proto === 17 && p.dport === 547) out.set(n, Uint8Array.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)));
  });
  return out;
}

t.test(`${MUD}: MUD URL, client MAC, FQDN as tshark reads them`, async (tt) => {
  const ours = payloads(MUD);
  const rows = tsharkFields(capture(MUD), ['frame.number', 'dhcpv6.mudurl', 'dhcpv6.duidllt.link_layer_addr', 'dhcpv6.client_domain', 'dhcpv6.xid'], 'dhcpv6');
  tt.equal(rows.length, 5);
  for (const r of rows) {
    const b = ours.get(Number(r[0]))!;
    const m = decodeDhcp6(b, 0, b.length);
    const w = `frame ${r[0]}`;
    tt.equal(m?.mudUrl, r[1], `${w} MUD URL`);
    tt.equal(m && macString(m.clientMac), r[2], `${w} client MAC from the DUID`);
    tt.equal(m?.clientMacFrom, 'duid');
    tt.equal(m?.fqdn, r[3], `${w} FQDN`);
    tt.equal('0x' + m!.xid.toString(16).padStart(6, '0'), r[4].replace(/^0x0*/, '0x').padEnd(8, '0').slice(0, 8), `${w} xid`);
    tt.equal(m?.msgType, 1, 'a Solicit inside the relay-forward');
    tt.equal(m?.relays, 1);
    tt.equal(m?.malformed, false);
  }
});

t.test('every prefix of a real relay-forward decodes without throwing; cut ones are malformed', async (tt) => {
  const b = [...payloads(MUD).values()][0];
  let malformed = 0;
  for (let n = 0; n < b.length; n++) {
    const m = decodeDhcp6(b, 0, n);
    if (m?.malformed) malformed++;
    // cut just before the trailing Interface-Id option (8 bytes) it is a whole message
    if (m && !m.malformed && n !== b.length - 8) tt.fail(`cut at ${n}: not marked malformed`);
  }
  tt.ok(malformed > 100, `${malformed} cut messages marked malformed`);
});

const opt = (code: number, value: number[]) => [code >> 8, code & 255, value.length >> 8, value.length & 255, ...value];
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];
const URL1 = 'https://things.example.com/mud/lamp.json';
const DUID_LL = [0, 3, 0, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

/** bytes at an offset inside a larger Uint8Array, with junk around them */
function at(bytes: number[], pad = 5): { buf: Uint8Array; off: number; len: number } {
  const buf = new Uint8Array(pad + bytes.length + 7).fill(0xee);
  buf.set(bytes, pad);
  return { buf, off: pad, len: bytes.length };
}

t.test('unrelayed Solicit in a Uint8Array view at an offset: DUID-LL, MUD URL', async (tt) => {
  const { buf, off, len } = at([1, 0xab, 0xcd, 0xef, ...opt(1, DUID_LL), ...opt(112, ascii(URL1)), ...opt(8, [0, 0])]);
  const m = decodeDhcp6(buf, off, len)!;
  tt.equal(m.mudUrl, URL1);
  tt.equal(macString(m.clientMac), '02:11:22:33:44:55');
  tt.equal(m.xid, 0xabcdef);
  tt.equal(m.relays, 0);
  tt.equal(m.malformed, false);
});

t.test('a relay\'s client link-layer address (option 79) wins over the DUID', async (tt) => {
  const inner = [3, 0, 0, 1, ...opt(1, DUID_LL), ...opt(112, ascii(URL1))];
  const relay = [12, 0, ...new Array(32).fill(0), ...opt(79, [0, 1, 0x0a, 0, 0, 0, 0, 0x07]), ...opt(9, inner)];
  const m = decodeDhcp6(Uint8Array.from(relay), 0, relay.length)!;
  tt.equal(macString(m.clientMac), '0a:00:00:00:00:07');
  tt.equal(m.clientMacFrom, 'relay');
  tt.equal(m.msgType, 3);
  tt.equal(m.mudUrl, URL1);
});

t.test('malformed and hostile input: counted as malformed, never thrown', async (tt) => {
  const d = (b: number[]) => decodeDhcp6(Uint8Array.from(b), 0, b.length);
  tt.equal(d([1, 0, 0]), null, 'shorter than a header');
  tt.equal(d([7, 0, 0, 1, ...opt(112, ascii(URL1))]), null, 'a server\'s REPLY names no client');
  tt.equal(d([2, 0, 0, 1]), null, 'ADVERTISE');
  const cut = d([1, 0, 0, 1, 0, 112, 0, 200, ...ascii(URL1)])!;
  tt.equal(cut.malformed, true, 'option length past the message');
  tt.equal(cut.mudUrl, undefined);
  const ctl = d([1, 0, 0, 1, ...opt(112, [...ascii('https://a.example/'), 0x07])])!;
  tt.equal(ctl.malformed, true, 'a control byte in the URL');
  tt.equal(ctl.mudUrl, undefined);
  const empty = d([1, 0, 0, 1, ...opt(112, [])])!;
  tt.equal(empty.malformed, true, 'an empty MUD URL option');
  const half = d([1, 0, 0, 1, 0, 112])!;
  tt.equal(half.malformed, true, 'half an option header');
  const noMsg = d([12, 0, ...new Array(32).fill(0), ...opt(18, [0, 0, 0, 8])])!;
  tt.equal(noMsg.malformed, true, 'a relay-forward without a relay message');
  // relays nested past the cap
  let msg = [1, 0, 0, 1, ...opt(112, ascii(URL1))];
  for (let i = 0; i <= DHCP6_MAX_RELAYS; i++) msg = [12, i, ...new Array(32).fill(0), ...opt(9, msg)];
  const deep = d(msg)!;
  tt.equal(deep.malformed, true, 'nested past DHCP6_MAX_RELAYS');
  tt.equal(deep.mudUrl, undefined);
  tt.equal(decodeDhcp6(Uint8Array.from([1, 0, 0, 1]), -1, 4), null, 'negative offset');
  tt.equal(decodeDhcp6(Uint8Array.from([1, 0, 0, 1]), 0, 400)?.malformed, false, 'length past the buffer is clamped');
});

t.test('random bytes never throw', async (tt) => {
  let seed = 13;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const b = new Uint8Array(300);
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(rnd() * 300);
    for (let k = 0; k < n; k++) b[k] = Math.floor(rnd() * 256);
    b[0] = [1, 3, 12, 12, 11][i % 5];
    decodeDhcp6(b, 0, n);
  }
  tt.pass('5000 random messages');
});
