/** Plain-text tables for the terminal: what the commands print. */

/** Formats rows as an aligned text table (first column left, the rest right aligned). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const percent = (x: number): string => `${(100 * x).toFixed(2)}%`;
export const fixed = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
