import t from 'tap';
import { macString, protoName } from '../../../collector/types.js';
import { ip4String, ip6String, parseIp6, canonicalIp } from '../../../collector/decode/addr.js';

t.test('macString', async (t) => {
  t.equal(macString(0xaabbcc000001), 'aa:bb:cc:00:00:01');
  t.equal(macString(-1), '');
});
t.test('protoName', async (t) => {
  t.equal(protoName(6), 'tcp');
  t.equal(protoName(47), 47);
});
t.test('address text', async (t) => {
  t.equal(ip4String(0xc0a83201), '192.168.50.1');
  t.equal(ip6String(parseIp6('fd00:50::1')!, 0), 'fd00:50::1');
  t.equal(canonicalIp('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  t.equal(canonicalIp('::ffff:10.0.0.1'), '::ffff:10.0.0.1');
  t.equal(canonicalIp('1::2::3'), null);
  t.equal(canonicalIp('300.1.1.1'), null);
});
