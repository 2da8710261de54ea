// addrKey: canonical dotted quads become integers, everything else stays text, and two texts
// share a key exactly when they are the same text.
import t from 'tap';
import { addrKey } from '../../../collector/inventory/addr-key.js';

t.test('canonical IPv4 as a 32-bit integer, the rest as text', async (tt) => {
  tt.equal(addrKey('0.0.0.0'), 0);
  tt.equal(addrKey('10.0.0.1'), 0x0a000001);
  tt.equal(addrKey('192.168.50.100'), 0xc0a83264 | 0);
  tt.equal(addrKey('255.255.255.255'), -1);
  for (const s of ['010.0.0.1', '10.0.0.01', '10.00.0.1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.1000', '1..2.3', '.1.2.3', '1.2.3.',
    '', 'fd00::1', '::ffff:1.2.3.4', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.a']) {
    tt.equal(addrKey(s), s, `"${s}" stays text`);
  }
});

t.test('one key per text', async (tt) => {
  const texts: string[] = [];
  for (const a of [0, 1, 9, 10, 99, 100, 127, 128, 199, 200, 255]) for (const b of [0, 1, 255]) texts.push(`${a}.${b}.${b}.${a}`, `${b}.${a}.${a}.${b}`);
  texts.push('01.1.1.1', '1.1.1.1', '::1', 'fd00::1', '');
  const seen = new Map<number | string, string>();
  for (const s of new Set(texts)) {
    const k = addrKey(s);
    tt.notOk(seen.has(k), `${s} and ${seen.get(k)} share a key`);
    seen.set(k, s);
  }
});
