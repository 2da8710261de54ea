// Plain aligned text tables for the human formats of flows and devices.

/**
 * Each line of the table, header first, to `line` (no newline). Widths are found by a loop,
 * not Math.max(...column): a capture of a million flows would spread a million arguments
 * onto the stack and overflow it.
 */
export function tableLines(headers: string[], rows: string[][], line: (s: string) => void): void {
  const widths = headers.map((h) => h.length);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) {
      const n = (r[i] ?? '').length;
      if (n > widths[i]) widths[i] = n;
    }
  }
  const text = (r: string[]) => r.map((v, i) => (v ?? '').padEnd(widths[i])).join('  ').trimEnd();
  line(text(headers));
  for (const r of rows) line(text(r));
}

export function renderTable(headers: string[], rows: string[][]): string {
  const out: string[] = [];
  tableLines(headers, rows, (s) => out.push(s));
  return out.join('\n') + '\n';
}
