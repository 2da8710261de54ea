// ipWords: one address, one set of words, whatever the spelling; agrees with canonicalIp.
import t from 'tap';
import { ipWords, packetIpWords } from '../../../collector/inventory/ip-words.js';
import { canonicalIp } from '../../../collector/decode/addr.js';
import { PacketInfo, L3 } from '../../../collector/decode/packet.js';

const words = (s: string) => { const w = new Uint32Array(4); const f = ipWords(s, w, 0); return `${f}:${[...w].join('.')}`; };

t.test('same words exactly when canonicalIp gives the same text', async (tt) => {
  const texts = ['192.168.1.2', '010.1.1.1', '10.1.1.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fd00:50::1', 'FD00:50:0::1',
    'fd00:50::0:1', '::ffff:10.1.1.1', '::ffff:a01:101', '2001:db8::1', 'fe80::1%eth0', 'fe80::1', '', 'x', '1.2.3', '1.2.3.256', '::g', '1::2::3'];
  for (const a of texts) {
    const ca = canonicalIp(a);
    tt.equal(words(a).startsWith('0:'), ca === null, `${a}: an address exactly when canonicalIp says so`);
    for (const b of texts) {
      const cb = canonicalIp(b);
      if (ca === null || cb === null) continue;
      tt.equal(words(a) === words(b), ca === cb, `${a} vs ${b}`);
    }
  }
  const w = new Uint32Array(6).fill(9);
  tt.equal(ipWords('192.168.1.2', w, 2), 4);
  tt.same([...w], [9, 9, 0, 0, 0, 0xc0a80102], 'written at the offset, other words untouched');
});

t.test('a packet\'s addresses give the words of their text', async (tt) => {
  const p = new PacketInfo();
  p.l3 = L3.IPv4; p.src4 = 0xc0a80102; p.dst4 = 0x0a000001;
  const w = new Uint32Array(4);
  tt.equal(packetIpWords(p, true, w, 0), 4);
  tt.equal(`4:${[...w].join('.')}`, words('192.168.1.2'));
  tt.equal(packetIpWords(p, false, w, 0), 4);
  tt.equal(`4:${[...w].join('.')}`, words('10.0.0.1'));
  const buf = Buffer.alloc(40);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(buf, 8);
  Buffer.from('fd000050000000000000000000000010', 'hex').copy(buf, 24);
  p.l3 = L3.IPv6; p.buf = buf; p.srcOff = 8; p.dstOff = 24;
  tt.equal(packetIpWords(p, true, w, 0), 6);
  tt.equal(`6:${[...w].join('.')}`, words('2001:db8::1'));
  packetIpWords(p, false, w, 0);
  tt.equal(`6:${[...w].join('.')}`, words('fd00:50::10'));
});
