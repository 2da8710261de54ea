// isStationMac reads the first byte in place; it must answer as parseInt of the first two characters did.
// lowerText is toLowerCase without the copy.
import t from 'tap';
import { isStationMac, lowerText } from '../../../collector/inventory/addresses.js';

t.test('isStationMac agrees with parseInt of the first two characters', async (tt) => {
  const old = (mac: string) => {
    if (mac.length !== 17 || mac === '00:00:00:00:00:00') return false;
    const first = parseInt(mac.slice(0, 2), 16);
    return Number.isFinite(first) && (first & 1) === 0;
  };
  const chars = '0123456789abcdefABCDEFgGzZ :-+ \t.x\u00e9';
  let n = 0, stations = 0;
  const wrong: string[] = [];
  for (const a of chars) for (const b of chars) {
    const mac = `${a}${b}:11:22:33:44:55`;
    if (isStationMac(mac) !== old(mac)) wrong.push(mac);
    n++;
    if (old(mac)) stations++;
  }
  tt.same(wrong, []);
  tt.ok(stations > 100 && stations < n, `${stations} of ${n} are stations`);
  for (const mac of ['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:fb', '02:00:00:00:00:01', 'aa:bb:cc:dd:ee', '']) tt.equal(isStationMac(mac), old(mac), mac);
});

t.test('lowerText is toLowerCase', async (tt) => {
  for (const s of ['', 'aa:bb:cc:dd:ee:ff', 'AA:bb:CC:dd:EE:ff', '192.168.1.1', 'FD00::1', 'Z', '@[`{', '\u00c9cole', '\u0130', 'stra\u00dfe', 'ÅÄÖ']) {
    tt.equal(lowerText(s), s.toLowerCase(), JSON.stringify(s));
  }
  const mac = 'aa:bb:cc:dd:ee:ff';
  tt.equal(lowerText(mac), mac);
});
