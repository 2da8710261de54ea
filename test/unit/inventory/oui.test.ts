// The OUI registry read by line: every vendor as the parsed registry gives it, and any file
// not of the exact one-entry-a-line shape refused (so that it is parsed whole instead).
import t from 'tap';
import { createRequire } from 'node:module';
import { indexLines, literalAt, searchLines, vendorOf } from '../../../collector/inventory/oui.js';

t.test('every six-digit OUI gives the vendor the parsed registry gives', async (tt) => {
  const registry = createRequire(import.meta.url)('oui-data') as Record<string, string>;
  const wrong: string[] = [];
  let n = 0;
  for (const [k, entry] of Object.entries(registry)) {
    if (k.length !== 6) continue;
    n++;
    const mac = `${k.slice(0, 2)}:${k.slice(2, 4)}:${k.slice(4, 6)}:12:34:56`.toLowerCase();
    const nl = entry.indexOf('\n');
    const want = (parseInt(k.slice(0, 2), 16) & 2) !== 0 ? '' : (nl < 0 ? entry : entry.slice(0, nl)).trim();
    if (vendorOf(mac) !== want || vendorOf(mac.toUpperCase()) !== want) wrong.push(k);
  }
  tt.ok(n > 30_000, `${n} OUIs`);
  tt.same(wrong, []);
  tt.equal(vendorOf('00:17:88:24:76:ff'), 'Philips Lighting BV');
  tt.equal(vendorOf('zz:17:88:24:76:ff'), '');
  tt.equal(vendorOf('0g:17:88:24:76:ff'), '', 'not hex: no entry');
  tt.equal(vendorOf('00:17'), '');
});

t.test('the line index takes exactly the one-entry-a-line shape', async (tt) => {
  const ok = '{\n "00AA11": "First\\nline two",\n "BB": "short key",\n "00AA11": "Again \\"quoted\\" \\\\",\n "FFFFFF": "end"\n}\n';
  const idx = indexLines(Buffer.from(ok));
  tt.ok(idx, 'accepted');
  const parsed = JSON.parse(ok) as Record<string, string>;
  tt.equal(idx!.size, 2, 'six-digit keys only, a repeated key once');
  tt.equal(literalAt(Buffer.from(ok), idx!.get(0x00aa11)!), parsed['00AA11'], 'the later entry of a key wins, as in JSON.parse');
  tt.equal(literalAt(Buffer.from(ok), idx!.get(0xffffff)!), 'end');
  tt.ok(indexLines(Buffer.from('{\n}\n')), 'an empty object');
  tt.ok(indexLines(Buffer.from('{\n "AAAAAA": "x"\n}')), 'no final newline');
  for (const bad of [
    '{\r\n "AAAAAA": "x"\r\n}\r\n',
    '{\n "AAAAAA": "x", "BBBBBB": "y"\n}\n',
    '{\n "AAAAAA": "x",\n}\n',
    '{\n "AAAAAA": "x"\n "BBBBBB": "y"\n}\n',
    '{\n "aaaaaa": "x"\n}\n',
    '{\n "AAAAAA": "x"y"\n}\n',
    '{\n "AAAAAA": "x\\"\n}\n',
    '{\n "AAAAAA":"x"\n}\n',
    '{\n  "AAAAAA": "x"\n}\n',
    '{\n "AAAAAA": "x"\n}\n\n',
    '{\n "AAAAAA": "x"\n',
    '\ufeff{\n "AAAAAA": "x"\n}\n',
    '{"AAAAAA": "x"}',
    '',
  ]) tt.equal(indexLines(Buffer.from(bad)), null, JSON.stringify(bad));
});

t.test('the binary search over lines: every key of a sorted registry, the last of a repeat, misses', async (tt) => {
  const keys = [0x000000, 0x000001, 0x00aa11, 0x00aa11, 0x123456, 0xabcdef, 0xfffffe];
  const lines = keys.map((k, i) => ` "${k.toString(16).toUpperCase().padStart(6, '0')}": "v${i}\\nsecond line",`);
  lines.push(' "8C1F64FFC": "a longer MA-S key sorts last",', ' "0012345": "and an MA-M key",', ' "FFFFFF": "not found: after the long keys"');
  const b = Buffer.from(`{\n${lines.join('\n')}\n}\n`);
  const parsed = JSON.parse(b.toString()) as Record<string, string>;
  for (const k of new Set(keys)) {
    const hex = k.toString(16).toUpperCase().padStart(6, '0');
    const at = searchLines(b, k);
    tt.ok(at > 0 && literalAt(b, at) === parsed[hex], `${hex} found, as JSON.parse reads it`);
  }
  tt.equal(literalAt(b, searchLines(b, 0x00aa11)), 'v3\nsecond line', 'the later of a repeated key');
  for (const miss of [0x000002, 0x00aa10, 0x654321, 0xffffff]) tt.equal(searchLines(b, miss), -1, `${miss.toString(16)} not found`);
  // no newline at the end, one entry, none
  tt.equal(literalAt(Buffer.from('{\n "ABCDEF": "x"\n}'), searchLines(Buffer.from('{\n "ABCDEF": "x"\n}'), 0xabcdef)), 'x');
  tt.equal(searchLines(Buffer.from('{\n}\n'), 0), -1);
});

t.test('an OUI the registry lacks: the whole registry is indexed and still says none', async (tt) => {
  const registry = createRequire(import.meta.url)('oui-data') as Record<string, string>;
  // a universally administered OUI (bit 1 clear) with no entry
  let miss = -1;
  for (let k = 0x000000; k < 0x1000000 && miss < 0; k += 4) if (!registry[k.toString(16).toUpperCase().padStart(6, '0')]) miss = k;
  const hex = miss.toString(16).padStart(6, '0');
  tt.equal(vendorOf(`${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:00:00:01`), '', `${hex} has no vendor`);
  tt.equal(vendorOf('00:17:88:24:76:ff'), 'Philips Lighting BV', 'and a known one is still found');
});
