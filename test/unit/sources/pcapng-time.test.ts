// pcapng timestamp conversion against an exact BigInt reference, for every resolution.

import t from 'tap';
import fc from 'fast-check';
import { ifaceTime, makeInterface } from '../../../collector/sources/pcapng.js';

/** exact sec*1000 + frac*1000/units, rounded once at the end */
function reference(tsresol: number, hi: number, lo: number): number {
  const pow2 = (tsresol & 0x80) !== 0;
  const n = tsresol & 0x7f;
  const units = pow2 ? 1n << BigInt(n) : 10n ** BigInt(n);
  const total = (BigInt(hi) << 32n) | BigInt(lo);
  const sec = total / units;
  const rem = total % units;
  return Number(sec) * 1000 + Number(rem * 1000n) / Number(units);
}

t.test('power-of-10 and power-of-2 resolutions match the exact value', async (t) => {
  const resols = [0, 3, 6, 9, 0x80, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 32];
  fc.assert(fc.property(fc.constantFrom(...resols), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (r, hi, lo) => {
    const n = r & 0x7f;
    const pow2 = (r & 0x80) !== 0;
    // keep to timestamps up to the year ~2200 for the resolution
    const maxHi = Math.floor((7.3e9 * (pow2 ? 2 ** n : 10 ** n)) / 2 ** 32);
    hi = Math.min(hi, maxHi);
    const got = ifaceTime(makeInterface(1, 0, r), hi, lo);
    const want = reference(r, hi, lo);
    return Math.abs(got - want) <= Math.abs(want) * 2 ** -52 * 2;
  }), { numRuns: 20000, seed: 42 });
  t.pass('20000 random timestamps');
});

t.test('nanoseconds today and the microsecond default', async (t) => {
  const ns = 1721295318976755289n; // ndpi-nano.pcapng frame 1
  const f = makeInterface(1, 0, 9);
  t.equal(ifaceTime(f, Number(ns >> 32n), Number(ns & 0xffffffffn)), 1721295318000 + 976755289 / 1e6);
  const us = 1340954905298858n;
  t.equal(ifaceTime(makeInterface(1, 0), Number(us >> 32n), Number(us & 0xffffffffn)), 1340954905000 + 298858 / 1000);
  t.equal(ifaceTime(makeInterface(1, 0, 6, -3600), Number(us >> 32n), Number(us & 0xffffffffn)), 1340954905000 + 298858 / 1000 - 3600000, 'if_tsoffset');
});
