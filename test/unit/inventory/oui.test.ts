// The OUI registry read by line: every vendor as the parsed registry gives it, and any file
// not of the exact one-entry-a-line shape refused (so that it is parsed whole instead).
import t from 'tap';
import { createRequire } from 'node:module';
import { indexLines, literalAt, vendorOf } from '../../../collector/inventory/oui.js';

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
