// The text tables of `flows` and `devices`: columns padded to their widest cell, and a table
// of hundreds of thousands of rows (a flood's flows) printed, not a stack overflow.

import t from 'tap';
import { renderTable, tableLines } from '../../../collector/cli/table.js';

t.test('columns are as wide as their widest cell, header included', async (t) => {
  t.equal(renderTable(['A', 'LONG HEADER'], [['wide cell', 'x'], ['y', '']]),
    'A          LONG HEADER\nwide cell  x\ny\n');
});

t.test('a table of 500,000 rows', async (t) => {
  const rows: string[][] = [];
  for (let i = 0; i < 500_000; i++) rows.push([String(i), i === 123_456 ? 'the widest cell' : 'x']);
  const lines: string[] = [];
  tableLines(['N', 'V'], rows, (r) => r, (s) => lines.push(s));
  t.equal(lines.length, 500_001);
  t.equal(lines[0], 'N       V');
  t.equal(lines[123_457], '123456  the widest cell');
  t.equal(lines[500_000], '499999  x');
});
