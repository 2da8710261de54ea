// decodeLldp on tcpdump-lldp_mudurl.pcap compared with tshark, then malformed LLDPDUs: counted
// as malformed, never thrown; and the dispatch that hands LLDP frames over.
import t from 'tap';
import { decodeLldp } from '../../../collector/decode/lldp.js';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo, L3, LINKTYPE_ETHERNET } from '../../../collector/decode/packet.js';
import { capture, eachPacket, readFrames, tsharkFields } from './frames.js';

const LLDP = 'mud/tcpdump-lldp_mudurl.pcap';

t.test(`${LLDP}: the MUD URL TLV as tshark reads it`, async (tt) => {
  const rows = tsharkFields(capture(LLDP), ['frame.number', 'lldp.iana.mudurl'], 'lldp');
  tt.equal(rows.length, 2);
  const got = new Map<number, string | undefined>();
  eachPacket(capture(LLDP), (p, n) => {
    tt.equal(p.l3, L3.None, 'LLDP is no L3');
    tt.equal(p.etherType, 0x88cc);
    const info = decodeLldp(p.buf, p.l3Offset, p.frameOffset + p.caplen);
    tt.equal(info.malformed, false);
    got.set(n, info.mudUrl);
  });
  for (const r of rows) tt.equal(got.get(Number(r[0])), r[1], `frame ${r[0]}`);
});

t.test('LLDP behind a VLAN tag is dispatched with its LLDPDU offset', async (tt) => {
  const f = readFrames(capture(LLDP))[0];
  const frame = f.data.subarray(f.offset, f.offset + f.caplen);
  const tagged = Buffer.concat([frame.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x2a]), frame.subarray(12)]);
  const p = new PacketInfo();
  decodeFrame(tagged, 0, tagged.length, tagged.length, 0, LINKTYPE_ETHERNET, p);
  tt.equal(p.vlan, 42);
  tt.equal(decodeLldp(p.buf, p.l3Offset, p.frameOffset + p.caplen).mudUrl, 'https://imright.mud.example.com/.well-known/mud/v1/vomitv2.0');
});

t.test('every prefix of the real LLDPDU: no throw, cut ones malformed', async (tt) => {
  const f = readFrames(capture(LLDP))[0];
  const start = f.offset + 14, end = f.offset + f.caplen;
  let ok = 0;
  for (let e = start; e < end; e++) {
    const info = decodeLldp(f.data, start, e);
    if (!info.malformed) ok++;
  }
  tt.equal(ok, 0, 'no cut LLDPDU passes as whole');
});

const tlv = (type: number, value: number[]) => [(type << 1) | (value.length >> 8), value.length & 255, ...value];
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

t.test('synthetic LLDPDUs in a Uint8Array view at an offset', async (tt) => {
  const url = 'https://x.example.org/mud.json';
  const body = [...tlv(1, [4, 1, 2, 3, 4, 5, 6]), ...tlv(127, [0x00, 0x80, 0xc2, 0x01, 0, 1]), ...tlv(127, [0, 0, 0x5e, 1, ...ascii(url)]), ...tlv(0, [])];
  const buf = new Uint8Array(body.length + 20).fill(0xee);
  buf.set(body, 9);
  tt.same(decodeLldp(buf, 9, 9 + body.length), { malformed: false, mudUrl: url });
  // another IANA subtype, an empty MUD TLV, a control character, a TLV past the frame
  tt.same(decodeLldp(Uint8Array.from([...tlv(127, [0, 0, 0x5e, 2, 65]), ...tlv(0, [])]), 0, 9), { malformed: false });
  tt.same(decodeLldp(Uint8Array.from([...tlv(127, [0, 0, 0x5e, 1]), ...tlv(0, [])]), 0, 8), { malformed: true });
  tt.same(decodeLldp(Uint8Array.from([...tlv(127, [0, 0, 0x5e, 1, 0x68, 0x0a]), ...tlv(0, [])]), 0, 10), { malformed: true });
  const long = Uint8Array.from([0xfe, 0xff, 0, 0, 0x5e, 1, 0x68]);
  tt.same(decodeLldp(long, 0, long.length), { malformed: true }, 'length 511 past the frame');
  tt.same(decodeLldp(long, -3, long.length), { malformed: true }, 'negative offset');
});

t.test('random bytes never throw', async (tt) => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const b = new Uint8Array(600);
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(rnd() * 600);
    for (let k = 0; k < n; k++) b[k] = rnd() < 0.3 ? 0xfe : Math.floor(rnd() * 256);
    decodeLldp(b, 0, n);
  }
  tt.pass('5000 random LLDPDUs');
});

t.test('proto/zeek-lldp.pcap: an LLDPDU without a MUD TLV reads whole, with no URL', async (tt) => {
  let n = 0;
  eachPacket(capture('proto/zeek-lldp.pcap'), (p) => {
    if (p.etherType !== 0x88cc) return;
    n++;
    tt.same(decodeLldp(p.buf, p.l3Offset, p.frameOffset + p.caplen), { malformed: false });
  });
  tt.equal(n, 1);
});
