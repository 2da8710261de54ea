// Plain aligned text tables for the human formats of flows and devices.

/**
 * Each line of the table, header first, to `line` (no newline). The cells of an item are
 * made twice (once for the widths, once to print) rather than kept: a flood's million flows
 * as rows of strings would hold most of a gigabyte. Widths are found by a loop, not
 * Math.max(...column), which spreads a million arguments onto the stack and overflows it.
 */
export function tableLines<T>(headers: string[], items: readonly T[], cells: (item: T) => string[], line: (s: string) => void): void {
  const widths = headers.map((h) => h.length);
  for (const item of items) {
    const r = cells(item);
    for (let i = 0; i < widths.length; i++) {
      const n = (r[i] ?? '').length;
      if (n > widths[i]) widths[i] = n;
    }
  }
  const text = (r: string[]) => r.map((v, i) => (v ?? '').padEnd(widths[i])).join('  ').trimEnd();
  line(text(headers));
  for (const item of items) line(text(cells(item)));
}

export function renderTable(headers: string[], rows: string[][]): string {
  const out: string[] = [];
  tableLines(headers, rows, (r) => r, (s) => out.push(s));
  return out.join('\n') + '\n';
}
