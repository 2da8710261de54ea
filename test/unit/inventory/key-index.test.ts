// KeyIndex against a Map of the same keys: adds, finds and removes in random order through growth.
import t from 'tap';
import { KeyIndex } from '../../../collector/inventory/key-index.js';
import { Prng } from '../../fixtures/synth/prng.js';

t.test('finds what was added and only that, through growth and removals', async (tt) => {
  const rnd = new Prng(7);
  const idx = new KeyIndex(3, 4);
  const model = new Map<string, number>();
  const set = (a: number, b: number, c: number) => { idx.probe[0] = a; idx.probe[1] = b; idx.probe[2] = c; return `${a},${b},${c}`; };
  let bad = 0, hits = 0;
  for (let i = 0; i < 50_000; i++) {
    // small word ranges so keys repeat and differ in one word only
    const k = set(rnd.int(0, 40), rnd.int(0, 15) * 0x10000000, rnd.pick([0, 1, 0xffffffff]));
    const id = idx.find();
    const want = model.get(k);
    if ((want ?? -1) !== id) bad++;
    if (id >= 0) {
      hits++;
      for (let w = 0; w < 3; w++) if (idx.word(id, w) !== idx.probe[w]) bad++;
      if (rnd.float() < 0.4) { idx.remove(id); model.delete(k); }
    } else if (rnd.float() < 0.7) {
      const n = idx.add();
      for (const v of model.values()) if (v === n) bad++;
      model.set(k, n);
    }
    if (idx.size !== model.size) bad++;
  }
  tt.equal(bad, 0);
  tt.ok(hits > 10_000 && model.size > 100, `${hits} hits, ${model.size} keys held`);
});

t.test('ids are dense and reused after removal', async (tt) => {
  const idx = new KeyIndex(1);
  const ids = [];
  for (let i = 0; i < 100; i++) { idx.probe[0] = i; tt.equal(idx.find(), -1); ids.push(idx.add()); }
  tt.same(ids, Array.from({ length: 100 }, (_, i) => i));
  idx.probe[0] = 42;
  idx.remove(idx.find());
  tt.equal(idx.find(), -1);
  idx.probe[0] = 1000;
  idx.find();
  tt.equal(idx.add(), 42, 'the freed id');
  tt.equal(idx.size, 100);
});
