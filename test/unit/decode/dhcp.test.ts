// decodeDhcp on real DHCP traffic compared with tshark, synthetic options, and caps.
import t from 'tap';
import { decodeDhcp } from '../../../collector/decode/dhcp.js';
import { capture, eachPacket, tsharkFields } from './frames.js';

const F = ['frame.number', 'dhcp.option.dhcp', 'dhcp.hw.mac_addr', 'dhcp.option.hostname', 'dhcp.option.vendor_class_id',
  'dhcp.option.request_list_item', 'dhcp.id', 'dhcp.option.requested_ip_address', 'dhcp.ip.your', 'dhcp.ip.client'];

function dhcpOf(rel: string) {
  const out = new Map<number, ReturnType<typeof decodeDhcp>>();
  eachPacket(capture(rel), (p, n) => {
    if (p.hasL4 && p.proto === 17 && (p.dport === 67 || p.dport === 68)) out.set(n, decodeDhcp(p.buf, p.payloadOffset, p.payloadLength));
  });
  return out;
}

for (const [rel, min] of [['mud/tcpdump-dhcp-mud.pcap', 2], ['proto/zeek-dhcp_dhcp_flood.pcap', 500], ['proto/zeek-dhcp_dhcp.pcap', 9],
  ['iot/iotsentinel/HueBridge-Setup-A-1-STA.pcap', 3], ['iot/iotsentinel/EdimaxCam1-Setup-A-1-STA.pcap', 2],
  ['iot/iotsentinel/WeMoLink-Setup-A-1-STA.pcap', 2], ['decode/pcapngtg-le-test001.pcapng', 1]] as const) {
  t.test(`${rel} matches tshark`, async (tt) => {
    const ours = dhcpOf(rel);
    const rows = tsharkFields(capture(rel), F, 'dhcp && !icmp');
    tt.ok(rows.length >= min, `${rows.length} DHCP messages (want >= ${min})`);
    for (const r of rows) {
      const m = ours.get(Number(r[0]));
      const w = `frame ${r[0]}`;
      if (!m) { tt.fail(`${w}: not decoded`); continue; }
      tt.equal(String(m.messageType || ''), r[1], `${w} message type`);
      tt.equal(m.chaddr, r[2].split(',')[0], `${w} chaddr`);
      tt.equal(m.hostname ?? '', r[3], `${w} hostname`);
      tt.equal(m.vendorClass ?? '', r[4], `${w} vendor class`);
      tt.equal((m.paramList ?? []).join(','), r[5], `${w} parameter request list`);
      tt.equal('0x' + m.xid.toString(16).padStart(8, '0'), r[6], `${w} xid`);
      tt.equal(m.requestedIp ?? '', r[7], `${w} requested ip`);
      tt.equal(m.yiaddr, r[8], `${w} yiaddr`);
      tt.equal(m.ciaddr, r[9], `${w} ciaddr`);
      tt.equal(m.incomplete, false, `${w} complete`);
    }
  });
}

t.test('MUD URL option 161', async (tt) => {
  const m = [...dhcpOf('mud/tcpdump-dhcp-mud.pcap').values()].find((x) => x?.messageType === 3);
  tt.equal(m?.mudUrl, 'https://mudctl.example.com/.well-known/mud/v1/rasbp101');
});

/** A real DHCP request with its options replaced by `opts`, at an offset inside a larger Uint8Array. */
function withOptions(opts: number[], pad = 7): { buf: Uint8Array; off: number; len: number } {
  let base: Uint8Array | null = null;
  eachPacket(capture('mud/tcpdump-dhcp-mud.pcap'), (p) => {
    if (!base && p.dport === 67) base = Uint8Array.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + 240));
  });
  const len = 240 + opts.length;
  const buf = new Uint8Array(pad + len + 9).fill(0xaa);
  buf.set(base!, pad);
  buf.set(opts, pad + 240);
  return { buf, off: pad, len };
}

t.test('client id, FQDN (wire and ASCII), and a Uint8Array view at an offset', async (tt) => {
  const wire = [81, 3 + 13, 0x04, 0, 0, 4, 0x43, 0x61, 0x6d, 0x31, 4, 0x68, 0x6f, 0x6d, 0x65, 0, 0];
  const m1 = withOptions([53, 1, 1, 61, 7, 1, 0xb8, 0x27, 0xeb, 0xb8, 0x53, 0xc8, ...wire.slice(0, 2 + 16), 255]);
  const d1 = decodeDhcp(m1.buf, m1.off, m1.len);
  tt.equal(d1?.chaddr, 'b8:27:eb:b8:53:c8');
  tt.equal(d1?.clientId, '01:b8:27:eb:b8:53:c8');
  tt.equal(d1?.fqdn, 'cam1.home');
  tt.equal(d1?.messageType, 1);
  const ascii = Array.from(Buffer.from('Plug-7.lan.'));
  const m2 = withOptions([81, 3 + ascii.length, 0, 0, 0, ...ascii, 255], 31);
  tt.equal(decodeDhcp(m2.buf, m2.off, m2.len)?.fqdn, 'plug-7.lan');
});

t.test('caps and malformed options', async (tt) => {
  const overrun = withOptions([53, 1, 3, 12, 200, 0x61]);
  const d = decodeDhcp(overrun.buf, overrun.off, overrun.len);
  tt.equal(d?.messageType, 3, 'options before the fault are kept');
  tt.equal(d?.hostname, undefined);
  tt.equal(d?.incomplete, true);
  const noEnd = withOptions([53, 1, 3]);
  tt.equal(decodeDhcp(noEnd.buf, noEnd.off, noEnd.len)?.incomplete, true);
  const overload = withOptions([52, 1, 3, 53, 1, 5, 255]);
  tt.equal(decodeDhcp(overload.buf, overload.off, overload.len)?.messageType, 5, 'overload is ignored');
  const nonPrintable = withOptions([12, 3, 0x61, 0x01, 0x62, 255]);
  tt.equal(decodeDhcp(nonPrintable.buf, nonPrintable.off, nonPrintable.len)?.hostname, undefined);
  tt.equal(decodeDhcp(new Uint8Array(235), 0, 235), null, 'shorter than BOOTP');
  const bootp = withOptions([]);
  bootp.buf[bootp.off + 236] = 0;
  tt.equal(decodeDhcp(bootp.buf, bootp.off, bootp.len)?.cookie, false);
  let n = 0;
  for (const rel of ['decode/ndpi-dhcp-fuzz.pcapng', 'decode/pcapngtg-be-test006.pcapng', 'decode/pcapngtg-le-test202.pcapng']) {
    eachPacket(capture(rel), (p) => { if (p.payloadLength > 0) { decodeDhcp(p.buf, p.payloadOffset, p.payloadLength); n++; } });
  }
  tt.ok(n >= 3, `${n} fuzz/odd payloads decoded without throwing`);
});

t.test('option 161: unreadable or cut MUD URLs are marked and skipped, never thrown', async (tt) => {
  const url = Array.from(Buffer.from('https://a.example/m'));
  const ctl = withOptions([53, 1, 3, 161, url.length + 1, ...url, 0x0a, 255]);
  const d1 = decodeDhcp(ctl.buf, ctl.off, ctl.len);
  tt.equal(d1?.mudUrl, undefined, 'a control byte');
  tt.equal(d1?.badOption, true);
  const cut = withOptions([53, 1, 3, 161, 200, ...url]);
  const d2 = decodeDhcp(cut.buf, cut.off, cut.len);
  tt.equal(d2?.mudUrl, undefined, 'length past the message');
  tt.equal(d2?.incomplete, true);
  const ok = withOptions([161, url.length, ...url, 255]);
  const d3 = decodeDhcp(ok.buf, ok.off, ok.len);
  tt.equal(d3?.mudUrl, 'https://a.example/m');
  tt.equal(d3?.badOption, undefined);
});
