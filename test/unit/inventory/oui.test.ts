// The OUI registry parsed once into a table: every vendor as the parsed registry gives it,
// misses and unassigned OUIs give none, and a file not of the one-entry-a-line shape is read
// with JSON.parse into the same answers.
import t from 'tap';
import { createRequire } from 'node:module';
import { parseRegistry, vendorOf } from '../../../collector/inventory/oui.js';

const registry = createRequire(import.meta.url)('oui-data') as Record<string, string>;

function firstLine(entry: string): string {
  const nl = entry.indexOf('\n');
  return (nl < 0 ? entry : entry.slice(0, nl)).trim();
}

t.test('every six-digit OUI gives the vendor the parsed registry gives', async (tt) => {
  const wrong: string[] = [];
  let n = 0;
  for (const [k, entry] of Object.entries(registry)) {
    if (k.length !== 6) continue;
    n++;
    const mac = `${k.slice(0, 2)}:${k.slice(2, 4)}:${k.slice(4, 6)}:12:34:56`.toLowerCase();
    const want = (parseInt(k.slice(0, 2), 16) & 2) !== 0 ? '' : firstLine(entry);
    if (vendorOf(mac) !== want || vendorOf(mac.toUpperCase()) !== want) wrong.push(k);
  }
  tt.ok(n > 30_000, `${n} OUIs`);
  tt.same(wrong, []);
  tt.equal(vendorOf('00:17:88:24:76:ff'), 'Philips Lighting BV');
  tt.equal(vendorOf('00-17-88-24-76-ff'), 'Philips Lighting BV', 'any separator');
});

t.test('misses: not a MAC, locally administered, an OUI the registry lacks', async (tt) => {
  tt.equal(vendorOf('zz:17:88:24:76:ff'), '');
  tt.equal(vendorOf('0g:17:88:24:76:ff'), '', 'not hex: no entry');
  tt.equal(vendorOf('00:17'), '');
  tt.equal(vendorOf(''), '');
  // 02:17:88 is 00:17:88 (Philips) with the locally-administered bit set
  tt.equal(vendorOf('02:17:88:24:76:ff'), '', 'locally administered: no vendor');
  // universally administered OUIs (bit 1 clear) with no entry: the lowest and the highest
  const unassigned: number[] = [];
  for (let k = 0x000000; k < 0x1000000 && unassigned.length < 1; k += 4) if (!registry[hex6(k)]) unassigned.push(k);
  for (let k = 0xfffffc; k >= 0 && unassigned.length < 2; k -= 4) if (!registry[hex6(k)]) unassigned.push(k);
  tt.equal(unassigned.length, 2);
  for (const k of unassigned) {
    const h = hex6(k).toLowerCase();
    tt.equal(vendorOf(`${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:00:00:01`), '', `${h} has no vendor`);
  }
  tt.equal(vendorOf('00:17:88:24:76:ff'), 'Philips Lighting BV', 'and a known one is still found');
});

function hex6(k: number): string {
  return k.toString(16).toUpperCase().padStart(6, '0');
}

t.test('a registry of the one-entry-a-line shape: six-digit keys, first lines, misses', async (tt) => {
  const text = '{\n "00AA11": "First\\nline two",\n "00AA12": " Spaced \\"quoted\\" \\\\ caf\u00e9 \\u00e9 ",\n "0055DA0": "an MA-M key",\n "8C1F64FFC": "an MA-S key",\n "FFFFFF": "end"\n}\n';
  const table = parseRegistry(Buffer.from(text));
  tt.equal(table.size, 3, 'six-digit keys only');
  tt.equal(table.vendor(0x00aa11), 'First');
  tt.equal(table.vendor(0x00aa12), 'Spaced "quoted" \\ caf\u00e9 \u00e9', 'escapes and UTF-8 as JSON.parse reads them, trimmed');
  tt.equal(table.vendor(0xffffff), 'end');
  for (const miss of [0x000000, 0x00aa10, 0x00aa13, 0x0055da, 0xfffffe]) tt.equal(table.vendor(miss), undefined, hex6(miss));
  // the first line is cut at the newline escape only: an escaped backslash before an n is text
  const t2 = parseRegistry(Buffer.from('{\n "00AA11": "A\\\\nB\\nC",\n "00AA12": "\\t tab\\r\\nX"\n}\n'));
  tt.equal(t2.vendor(0x00aa11), 'A\\nB', 'backslash, n: not a newline');
  tt.equal(t2.vendor(0x00aa12), 'tab', 'trimmed as the first line of what JSON.parse gives');
});

t.test('any other shape is read as JSON.parse reads it', async (tt) => {
  const same = (text: string, want: Record<number, string | undefined>, name: string) => {
    const table = parseRegistry(Buffer.from(text));
    for (const [k, v] of Object.entries(want)) tt.equal(table.vendor(Number(k)), v, `${name}: ${hex6(Number(k))}`);
  };
  same('{"AAAAAA": "x", "BBBBBB": "y\\nz"}', { 0xaaaaaa: 'x', 0xbbbbbb: 'y', 0xcccccc: undefined }, 'one line');
  same('{\r\n "AAAAAA": "x"\r\n}\r\n', { 0xaaaaaa: 'x' }, 'CRLF');
  same('\ufeff{\n "AAAAAA": "x"\n}\n', { 0xaaaaaa: 'x' }, 'a BOM');
  same('{\n "BBBBBB": "b",\n "AAAAAA": "a"\n}\n', { 0xaaaaaa: 'a', 0xbbbbbb: 'b' }, 'keys out of order');
  same('{\n "AAAAAA": "first",\n "AAAAAA": "second"\n}\n', { 0xaaaaaa: 'second' }, 'a repeated key: the later wins');
  same('{\n "aaaaaa": "lower-case key"\n}\n', { 0xaaaaaa: undefined }, 'a lower-case key is not an OUI');
  same('{\n "AAAAAA": "\\x"\n}\n', { 0xaaaaaa: undefined }, 'a bad escape: not JSON, no vendors');
  same('{\n "AAAAAA": "x",\n}\n', { 0xaaaaaa: undefined }, 'a trailing comma: not JSON');
  same('{\n "AAAAAA": "x"\n "BBBBBB": "y"\n}\n', { 0xaaaaaa: undefined }, 'a missing comma: not JSON');
  same('{\n "AAAAAA": "x"y"\n}\n', { 0xaaaaaa: undefined }, 'a stray quote: not JSON');
  same('{\n "AAAAAA": 5\n}\n', { 0xaaaaaa: undefined }, 'not a string');
  same('["AAAAAA"]', { 0xaaaaaa: undefined }, 'not an object');
  same('', { 0 : undefined }, 'empty');
  tt.equal(parseRegistry(Buffer.from('{\n}\n')).size, 0, 'an empty object');
  tt.equal(parseRegistry(Buffer.from('{\n "AAAAAA": "x"\n}')).vendor(0xaaaaaa), 'x', 'no final newline');
});
