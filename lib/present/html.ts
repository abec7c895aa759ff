/** HTML building blocks of the report page: escaping, number formats, tables, chart figures. */

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export const esc = escapeHtml;

/** A number for tables: `digits` decimals, scientific below 1e-3 (0 below 1e-12). */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '∞' : '−∞';
  // Below 1e-12 is float64 rounding noise for these quantities (a distance at α = 0): show 0.
  if (Math.abs(x) < 1e-12) x = 0;
  if (x !== 0 && Math.abs(x) < 10 ** -Math.min(digits, 3)) return x.toExponential(2).replace('-', '−');
  return x.toFixed(digits).replace(/^-/, '−');
}

export function formatPercent(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : formatNumber(x);
}

/** A numeric table cell whose title holds the exact value. */
export const numCell = (x: number, digits = 4): string => `<td class="num" title="${esc(String(x))}">${formatNumber(x, digits)}</td>`;
export const pctCell = (x: number): string => `<td class="num" title="${esc(String(x))}">${formatPercent(x)}</td>`;
export const alphaText = (a: number): string => String(Number(a.toFixed(4)));

/** A table; `numeric(i)` says which columns hold numbers (right aligned; default all but the first). */
export function table(head: string[], rows: string[][], options: { caption?: string; numeric?: (column: number) => boolean; cls?: string } = {}): string {
  const numeric = options.numeric ?? ((i: number) => i > 0);
  const th = head.map((h, i) => `<th${numeric(i) ? ' class="num"' : ''}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.join('')}</tr>`).join('\n');
  const caption = options.caption ? `<caption>${options.caption}</caption>` : '';
  return `<div class="table-wrap"><table${options.cls ? ` class="${options.cls}"` : ''}>${caption}<thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

export function layerNameCell(label: string, layer: { name: string; module: string | null; op: string }): string {
  const sub = layer.module ? `<span class="sub mono">${esc(layer.name)}</span>` : '';
  return `<td class="layer"><span class="name${layer.module ? '' : ' mono'}">${esc(label)}</span>${sub}</td>`;
}

export function opCell(op: string, kind?: string): string {
  return `<td${kind ? ` title="${esc(kind)}"` : ''}><span class="op">${esc(op)}</span>${kind === 'logits' ? ' <span class="kind">logits</span>' : ''}</td>`;
}

export function figure(svg: string | undefined, id: string): string {
  if (!svg) return '';
  return `<figure class="chart" id="chart-${esc(id)}" data-chart="${esc(id)}">${svg}</figure>`;
}

/** Tables for the naive analysis and, when present, the aligned one. */
export function both<T>(naive: T, aligned: T | undefined, render: (x: T, caption?: string) => string): string {
  return aligned === undefined ? render(naive) : `${render(naive, 'naive')}${render(aligned, 'aligned')}`;
}
