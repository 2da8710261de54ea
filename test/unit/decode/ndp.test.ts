// decodeNdp on real neighbour discovery compared with tshark.
import t from 'tap';
import { decodeNdp, NdpInfo } from '../../../collector/decode/ndp.js';
import { ip6String } from '../../../collector/decode/addr.js';
import { macString } from '../../../collector/types.js';
import { capture, eachPacket, tsharkFields } from './frames.js';

const F = ['frame.number', 'icmpv6.type', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address', 'icmpv6.opt.linkaddr',
  'icmpv6.opt.src_linkaddr', 'icmpv6.opt.target_linkaddr', 'icmpv6.nd.ra.router_lifetime', 'icmpv6.opt.prefix', 'icmpv6.opt.prefix.length', 'icmpv6.opt.mtu'];

for (const [rel, min] of [['proto/zeek-icmp_icmp6-nd-options.pcap', 10], ['proto/zeek-icmp_icmp6-router-advert.pcap', 1],
  ['iot/iotsentinel/HueBridge-Setup-A-1-STA.pcap', 2], ['iot/ndpi-alexa-app.pcapng', 2], ['decode/zeek-ipv6-http-atomic-frag.pcap', 1]] as const) {
  t.test(`${rel} matches tshark`, async (tt) => {
    const rows = tsharkFields(capture(rel), F, 'icmpv6.type >= 133 && icmpv6.type <= 137');
    const byFrame = new Map(rows.map((r) => [Number(r[0]), r]));
    const nd = new NdpInfo();
    let seen = 0;
    eachPacket(capture(rel), (p, n) => {
      const r = byFrame.get(n);
      if (!r) return;
      seen++;
      const w = `frame ${n}`;
      tt.equal(p.icmpType, Number(r[1]), `${w} type`);
      tt.equal(decodeNdp(p.buf, p.payloadOffset, p.payloadLength, p.icmpType, nd), true, `${w} decodes`);
      const target = r[2] || r[3];
      tt.equal(nd.hasTarget ? ip6String(p.buf, nd.targetOff) : '', target, `${w} target`);
      const ll = (p.icmpType === 136 || p.icmpType === 137 ? r[6] : r[5]) || '';
      tt.equal(macString(nd.lladdr), ll.split(',')[0], `${w} link-layer address`);
      if (p.icmpType === 134) {
        tt.equal(String(nd.routerLifetime), r[7], `${w} router lifetime`);
        tt.equal(nd.prefixOff >= 0 ? ip6String(p.buf, nd.prefixOff) : '', r[8].split(',')[0], `${w} prefix`);
        tt.equal(nd.prefixOff >= 0 ? String(nd.prefixLength) : '', r[9].split(',')[0], `${w} prefix length`);
        tt.equal(nd.mtu ? String(nd.mtu) : '', r[10], `${w} mtu`);
      }
    });
    tt.equal(seen, rows.length);
    tt.ok(seen >= min, `${seen} ND messages (want >= ${min})`);
  });
}

t.test('malformed options and other types', async (tt) => {
  const nd = new NdpInfo();
  const ns = new Uint8Array(40);
  ns.set([1, 0], 16); // option of length 0: malformed
  tt.equal(decodeNdp(ns, 4, 24, 135, nd), false);
  tt.equal(decodeNdp(ns, 4, 10, 135, nd), false, 'NS shorter than its target');
  tt.equal(decodeNdp(ns, 4, 20, 128, nd), false, 'echo request is not ND');
  const ok = new Uint8Array(40);
  ok.set([1, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff], 20);
  tt.equal(decodeNdp(ok, 4, 24, 135, nd), true);
  tt.equal(macString(nd.lladdr), 'aa:bb:cc:dd:ee:ff');
  tt.equal(nd.targetOff, 4);
});
