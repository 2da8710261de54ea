import t from 'tap';
import { Oldest } from '../../collector/oldest.js';

t.test('the oldest live key of a Map, through deletions, re-insertions and clears', async (t) => {
  const m = new Map<string, number>();
  const o = new Oldest(m);
  t.equal(o.key(), undefined, 'empty');
  for (let i = 0; i < 5; i++) m.set(`k${i}`, i);
  t.equal(o.key(), 'k0');
  m.delete('k0');
  // k1 touched: deleted and set again, so it is now the newest
  m.delete('k1'); m.set('k1', 1);
  t.equal(o.key(), 'k2');
  m.delete('k2');
  m.delete('k3'); // removed by someone else meanwhile
  t.equal(o.key(), 'k4');
  m.delete('k4');
  t.equal(o.key(), 'k1', 'the touched key comes last');
  m.delete('k1');
  t.equal(o.key(), undefined, 'empty again');
  m.set('a', 1); m.set('b', 2);
  t.equal(o.key(), 'a', 'after the iterator ran out, new keys are found');
  m.clear();
  m.set('c', 3);
  t.equal(o.key(), 'c', 'after a clear');
});

t.test('an eviction loop keeps a bounded Map in insertion order, as keys().next() would', async (t) => {
  const m = new Map<number, number>();
  const o = new Oldest(m);
  const ref: number[] = [];
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const k = x % 3000;
    if (m.has(k)) { m.delete(k); ref.splice(ref.indexOf(k), 1); } // a touch moves it to the end
    m.set(k, i); ref.push(k);
    if (m.size > 500) {
      const want = m.keys().next().value;
      const got = o.key()!;
      if (got !== want) { t.fail(`step ${i}: ${got} != ${want}`); return; }
      m.delete(got); ref.shift();
    }
  }
  t.same([...m.keys()], ref);
});

t.test('works on a Set', async (t) => {
  const s = new Set([3, 1, 2]);
  const o = new Oldest(s);
  t.equal(o.key(), 3); s.delete(3);
  t.equal(o.key(), 1);
});
