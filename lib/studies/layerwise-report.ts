/**
 * How layer-wise barriers are shown: the printed tables, the HTML section, and the charts
 * (per-layer bars for both bases, cumulative curves per order).
 */
import type { HtmlPart } from '../checks/check.js';
import { COLORS, exact, groupedBars, pct, spec, type BarRow, type Chart } from '../present/charts.js';
import { esc, figure, numCell, pctCell, table } from '../present/html.js';
import type { ReportSections } from '../present/sections.js';
import { fixed, formatTable, percent } from '../present/text.js';
import type { CumulativeCurve, LayerwisePoint, LayerwiseResult } from '../results.js';

const BASES = [
  { key: 'a', name: 'base A', color: COLORS.naive },
  { key: 'b', name: 'base B', color: COLORS.aligned },
] as const;

/** A cumulative curve's name: its order, numbered for random draws. */
export function curveName(c: CumulativeCurve): string {
  return c.order === 'random' ? `random #${(c.draw ?? 0) + 1}` : c.order.replace(/-/g, ' ');
}

/** The printed report: endpoints, per-layer barriers, the cumulative barriers of each order. */
export function layerwiseText(r: LayerwiseResult): string {
  const ends = `A: loss ${fixed(r.endpoints.a.loss)}, accuracy ${percent(r.endpoints.a.accuracy)} · B: loss ${fixed(r.endpoints.b.loss)}, accuracy ${percent(r.endpoints.b.accuracy)}`;
  const middle = `all ${r.groups.length} groups at α = ½: loss barrier ${fixed(r.midpoint.lossBarrier)}, error barrier ${percent(r.midpoint.errorBarrier)}`;
  const layers = formatTable(
    ['group', 'loss barrier, base A', 'base B', 'error barrier, base A', 'base B'],
    r.layers.map((l) => [l.group, fixed(l.a.lossBarrier), fixed(l.b.lossBarrier), percent(l.a.errorBarrier), percent(l.b.errorBarrier)]),
  );
  const curves = r.cumulative.map((c) => {
    const rows = formatTable(
      ['added', 'loss barrier, base A', 'base B', 'error barrier, base A', 'base B'],
      c.groups.map((g, i) => [r.groups[g]!.name, fixed(c.a[i]!.lossBarrier), fixed(c.b[i]!.lossBarrier), percent(c.a[i]!.errorBarrier), percent(c.b[i]!.errorBarrier)]),
    );
    return `cumulative, ${curveName(c)}\n${rows}`;
  });
  const ungrouped = r.ungrouped.length > 0 ? [`${r.ungrouped.length} tensors in no group (always from the base): ${r.ungrouped.join(', ')}`] : [];
  return [ends, middle, ...ungrouped, `Layer-wise barriers (one group at α = ½, the rest from the base; ${r.passes} passes)\n${layers}`, ...curves].join('\n\n');
}

function perLayerChart(r: LayerwiseResult, metric: 'lossBarrier' | 'errorBarrier'): Chart {
  const labels = r.groups.map((g) => g.name);
  const rows: BarRow[] = r.layers.flatMap((l) =>
    BASES.map(({ key, name }) => {
      const p = l[key];
      return { label: l.group, series: name, value: p[metric], tip: `${l.group} · ${name} · loss ${exact(p.loss)} · loss barrier ${exact(p.lossBarrier)} · accuracy ${pct(p.accuracy)} · error barrier ${exact(p.errorBarrier)}` };
    }),
  );
  const loss = metric === 'lossBarrier';
  return groupedBars(
    `layerwise-${loss ? 'loss' : 'error'}`,
    `Layer-wise ${loss ? 'loss' : 'error'} barriers`,
    'one group at α = ½, every other tensor from the base model',
    labels,
    BASES.map((b) => ({ name: b.name, color: b.color })),
    rows,
    loss ? 'L(θ) − ½(L_A + L_B)' : 'Err(θ) − ½(Err_A + Err_B)',
  );
}

function cumulativeChart(r: LayerwiseResult, metric: 'lossBarrier' | 'errorBarrier'): Chart {
  const loss = metric === 'lossBarrier';
  const values = r.cumulative.flatMap((c) =>
    BASES.flatMap(({ key, name }) =>
      c[key].map((p: LayerwisePoint, i) => ({
        order: curveName(c),
        base: name,
        added: i + 1,
        value: p[metric],
        tip: `${curveName(c)} · ${name} · ${i + 1} groups (last: ${r.groups[c.groups[i]!]!.name}) · loss barrier ${exact(p.lossBarrier)} · error barrier ${exact(p.errorBarrier)}`,
      })),
    ),
  );
  const orders = r.cumulative.map(curveName);
  const x = { field: 'added', type: 'quantitative', title: 'groups interpolated', axis: { tickMinStep: 1, format: 'd' }, scale: { domain: [1, r.groups.length] } };
  const y = { field: 'value', type: 'quantitative', title: loss ? 'loss barrier' : 'error barrier', ...(loss ? {} : { axis: { format: '.0%' } }) };
  const color = { field: 'order', type: 'nominal', title: 'order', sort: orders, scale: { scheme: 'tableau10' } };
  const dash = { field: 'base', type: 'nominal', title: null, sort: BASES.map((b) => b.name) };
  const title = `Cumulative ${loss ? 'loss' : 'error'} barriers`;
  return {
    id: `layerwise-cumulative-${loss ? 'loss' : 'error'}`,
    title,
    spec: spec({
      title: { text: title, subtitle: 'groups added one at a time; solid: base A, dashed: base B' },
      data: { values },
      width: 440,
      height: 260,
      layer: [
        { mark: { type: 'line', strokeWidth: 2, aria: false }, encoding: { x, y, color, strokeDash: dash, detail: { field: 'base' } } },
        { mark: { type: 'point', filled: true, size: 40 }, encoding: { x, y, color, shape: { field: 'base', type: 'nominal', title: null }, description: { field: 'tip' } } },
      ],
    }),
  };
}

/** The layer-wise charts, in page order (none without layer-wise results). */
export function layerwiseCharts(s: ReportSections): Chart[] {
  const r = s.layerwise;
  if (!r) return [];
  return [perLayerChart(r, 'lossBarrier'), perLayerChart(r, 'errorBarrier'), cumulativeChart(r, 'lossBarrier'), cumulativeChart(r, 'errorBarrier')];
}

/** The layer-wise section of the HTML page, null without layer-wise results. */
export function layerwiseHtml(s: ReportSections, svgs: ReadonlyMap<string, string>): HtmlPart | null {
  const r = s.layerwise;
  if (!r) return null;
  const point = (p: LayerwisePoint): string[] => [numCell(p.lossBarrier), pctCell(p.errorBarrier)];
  const layers = table(
    ['group', 'tensors', 'loss barrier, base A', 'error barrier, base A', 'loss barrier, base B', 'error barrier, base B'],
    r.layers.map((l, i) => [`<td class="mono">${esc(l.group)}</td>`, `<td class="mono" title="${esc(r.groups[i]!.tensors.join(', '))}">${r.groups[i]!.tensors.length}</td>`, ...point(l.a), ...point(l.b)]),
    { caption: `${r.groups.length} groups (${r.groupBy === 'layer' ? 'one per layer' : 'by module prefix'}), shallow → deep` },
  );
  const curves = r.cumulative.map((c) =>
    table(
      ['added', 'loss barrier, base A', 'error barrier, base A', 'loss barrier, base B', 'error barrier, base B'],
      c.groups.map((g, i) => [`<td class="mono">${esc(r.groups[g]!.name)}</td>`, ...point(c.a[i]!), ...point(c.b[i]!)]),
      { caption: `cumulative, ${esc(curveName(c))}` },
    ),
  );
  const ungrouped = r.ungrouped.length > 0 ? `<p class="note">${r.ungrouped.length} tensors belong to no group and always come from the base model: <span class="mono">${esc(r.ungrouped.join(', '))}</span>.</p>` : '';
  return {
    nav: [['layerwise', 'Layer-wise barriers']],
    body: `<section id="layerwise">
<h2>Layer-wise and cumulative barriers</h2>
<p class="explain">θ<sub>S,k</sub> holds the tensors of the groups S at α = ½ and every other tensor from base model k (Adilova et al. 2024); its barrier is L(θ<sub>S,k</sub>) − ½(L<sub>A</sub> + L<sub>B</sub>), and the error barrier the same for the top-1 error. Cumulative barriers add one group at a time shallow → deep, deep → shallow and in ${r.draws} seeded random order${r.draws === 1 ? '' : 's'} (seed ${r.seed}); with every group added it is the LMC midpoint barrier, ${esc(exact(r.midpoint.lossBarrier))}.</p>
${ungrouped}
<div class="charts">${figure(svgs.get('layerwise-loss'), 'layerwise-loss')}${figure(svgs.get('layerwise-error'), 'layerwise-error')}</div>
${layers}
<div class="charts">${figure(svgs.get('layerwise-cumulative-loss'), 'layerwise-cumulative-loss')}${figure(svgs.get('layerwise-cumulative-error'), 'layerwise-cumulative-error')}</div>
<div class="pair">${curves.join('')}</div>
</section>`,
  };
}
