// ip4String: the dotted quad of every octet value, from a uint32 or the same bits as an int32
// (the flow table hands addresses over as int32), checked against node:net's own reading.

import t from 'tap';
import { isIPv4 } from 'node:net';
import { ip4String } from '../../../collector/decode/addr.js';

t.test('every octet value in every position', async (t) => {
  let bad = 0;
  for (let pos = 0; pos < 4; pos++) {
    for (let v = 0; v < 256; v++) {
      const n = (v << (8 * (3 - pos))) >>> 0;
      const want = [0, 0, 0, 0].map((_, i) => (i === pos ? v : 0)).join('.');
      if (ip4String(n) !== want || ip4String(n | 0) !== want || !isIPv4(want)) bad++;
    }
  }
  t.equal(bad, 0);
  t.equal(ip4String(0xc0a80115), '192.168.1.21');
  t.equal(ip4String(0xffffffff | 0), '255.255.255.255');
  t.equal(ip4String(0x0a00fe01), '10.0.254.1');
});
