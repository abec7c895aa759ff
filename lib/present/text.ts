/** Plain-text tables for the terminal: what the commands print. */

/**
 * "N samples", or for sequence data (token layers) "N samples (sequences; the per-layer
 * statistics count T tokens)": the data's samples are sequences, the per-layer samples tokens.
 */
export function samplesText(analysis: { readonly samples: number; readonly layers: readonly { readonly tokens?: number }[] }): string {
  const tokens = analysis.layers.find((l) => l.tokens !== undefined)?.tokens;
  return tokens === undefined ? `${analysis.samples} samples` : `${analysis.samples} samples (sequences; the per-layer statistics count ${tokens} tokens)`;
}

/** Formats rows as an aligned text table (first column left, the rest right aligned). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const percent = (x: number): string => `${(100 * x).toFixed(2)}%`;
export const fixed = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
