/**
 * Layerwise linear feature connectivity (SCIENCE.md §2, Zhou et al. 2023): per layer and α,
 * the LLFC distance d(f(θ(α)), (1−α)f(θ_A) + αf(θ_B)), its std, the scale coefficient, and
 * the A-vs-B baseline d(f_A, f_B); printed as the per-layer table, shown as heatmaps and bars.
 */
import { alphaText as chartAlpha, ALIGNED, distanceBars, exact, heatmap, heatText, NAIVE, type Chart } from '../present/charts.js';
import { alphaText, both, esc, figure, formatNumber, layerNameCell, numCell, opCell, table } from '../present/html.js';
import { alphaNearestHalf, layerAlphas, layerLabels, type ReportSections } from '../present/sections.js';
import { fixed } from '../present/text.js';
import type { LayerReport, LlfcPoint, PairAnalysis } from '../results.js';
import type { Sums } from '../sums.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from './check.js';
import { addLayerAt, BaselineAccumulator, CosineAccumulator, layerWhere, sampleCount } from './cosine.js';

export class LlfcAccumulator {
  private readonly interpolated: CosineAccumulator;
  private readonly baseline = new BaselineAccumulator();

  constructor(readonly alphas: readonly number[]) {
    this.interpolated = new CosineAccumulator(alphas);
  }

  /** One batch of the baseline: features of A and B, for n samples. */
  addEndpoints(fa: Float32Array, fb: Float32Array, n: number): void {
    this.baseline.add(fa, fb, n);
  }

  /** One batch at alphas[k]: features of θ(α) there, and of A and B. */
  addAt(k: number, atAlpha: Float32Array, fa: Float32Array, fb: Float32Array, n: number): void {
    this.interpolated.addAt(k, atAlpha, fa, fb, n);
  }

  points(): LlfcPoint[] {
    return this.alphas.map((alpha, k) => ({ alpha, ...this.interpolated.summary(k) }));
  }

  /** The interpolated and the baseline sums, by name under `prefix`. */
  sums(prefix: string): [string, Sums][] {
    return [
      [`${prefix}`, this.interpolated.sums],
      [`${prefix} baseline`, this.baseline.inner.sums],
    ];
  }

  baselineSummary(): { baseline: number; baselineSkipped: number } {
    const s = this.baseline.summary();
    return { baseline: s.distance, baselineSkipped: s.skipped };
  }

  /** Samples the statistics averaged over (tokens where the layer's samples are tokens). */
  samples(): number {
    return this.baseline.samples();
  }
}

/** The LLFC distances of every reported layer at the per-layer α. */
class Llfc implements PairCheck {
  readonly needs;
  private readonly perLayer: LlfcAccumulator[];

  constructor(private readonly setup: PairSetup) {
    const names = setup.layers.map((l) => l.name);
    this.needs = { endpointValues: names, alphas: setup.alphas, interpolatedValues: names };
    this.perLayer = setup.layers.map(() => new LlfcAccumulator(setup.alphas));
  }

  add(batch: PairBatch): void {
    this.setup.layers.forEach((layer, i) => {
      if (!batch.covers([layer.name])) return;
      const where = layerWhere(layer);
      const fa = batch.value(layer.name, 0, where);
      this.perLayer[i]!.addEndpoints(fa.data, batch.value(layer.name, 1, where).data, sampleCount(fa, layer.tokens));
    });
  }

  addAt(batch: PairBatch, alpha: number): void {
    const k = this.setup.alphas.indexOf(alpha);
    this.setup.layers.forEach((layer, i) => addLayerAt(this.perLayer[i]!, batch, layer, k, alpha));
  }

  result() {
    // Where a layer's samples are tokens, how many: the data's samples are sequences (SCIENCE.md §7).
    const tokens = (acc: LlfcAccumulator) => (acc.samples() !== this.setup.data.length ? { tokens: acc.samples() } : {});
    return { layers: this.perLayer.map((acc) => ({ llfc: acc.points(), ...acc.baselineSummary(), ...tokens(acc) })) };
  }

  accumulators() {
    return new Map(this.perLayer.flatMap((acc, i) => acc.sums(this.setup.layers[i]!.name)));
  }

  async release(): Promise<void> {}
}

function llfcTable(layers: readonly LayerReport[], caption?: string): string {
  const alphas = layerAlphas(layers);
  const labels = layerLabels(layers);
  const rows = layers.map((l, i) => [
    layerNameCell(labels[i]!, l),
    opCell(l.op, l.kind),
    numCell(l.baseline),
    ...alphas.map((a) => {
      const p = l.llfc.find((q) => q.alpha === a);
      if (!p) return '<td class="num">—</td>';
      const ratio = l.baseline > 0 ? p.distance / l.baseline : NaN;
      return `<td class="num" title="distance ${esc(String(p.distance))} ± ${esc(String(p.distanceStd))}; ${esc(String(ratio))} of the baseline${p.skipped ? `; ${p.skipped} samples skipped` : ''}">${formatNumber(p.distance)} <span class="pm">± ${formatNumber(p.distanceStd, 3)}</span></td>`;
    }),
  ]);
  return table(['layer', 'op', 'baseline d(f<sub>A</sub>, f<sub>B</sub>)', ...alphas.map((a) => `α = ${alphaText(a)}`)], rows, { numeric: (i) => i > 1, ...(caption ? { caption } : {}) });
}

function coefficientTable(layers: readonly LayerReport[], caption?: string): string {
  const alphas = layerAlphas(layers);
  const labels = layerLabels(layers);
  const rows = layers.map((l, i) => [
    layerNameCell(labels[i]!, l),
    ...alphas.map((a) => {
      const p = l.llfc.find((q) => q.alpha === a);
      return p ? numCell(p.coefficient) : '<td class="num">—</td>';
    }),
    `<td class="num">${l.llfc.reduce((n, p) => n + p.skipped, 0) + l.baselineSkipped}</td>`,
  ]);
  return table(['layer', ...alphas.map((a) => `α = ${alphaText(a)}`), 'samples skipped'], rows, caption ? { caption } : {});
}

function llfcHtml(s: ReportSections, svgs: ReadonlyMap<string, string>) {
  if (s.layers.length === 0) return null;
  const aligned = s.aligned ?? undefined;
  return {
    nav: [['llfc', 'LLFC'], ['coefficient', 'Scale coefficient']] as const,
    body: `<section id="llfc">
<h2>Layerwise linear feature connectivity</h2>
<p class="explain">Cosine distance d(f<sup>(ℓ)</sup>(θ(α)), (1−α)·f<sup>(ℓ)</sup><sub>A</sub> + α·f<sup>(ℓ)</sup><sub>B</sub>) between the features of the interpolated model and the interpolation of the endpoint features, averaged over samples; LLFC holds at a layer when it is far below the baseline d(f<sub>A</sub>, f<sub>B</sub>).</p>
<div class="charts">${figure(svgs.get('llfc-heatmap'), 'llfc-heatmap')}${figure(svgs.get('llfc-heatmap-aligned'), 'llfc-heatmap-aligned')}${figure(svgs.get('llfc-bars'), 'llfc-bars')}</div>
<h3>LLFC distance (mean ± std over samples) per α</h3>
${both(s.layers, aligned?.layers, llfcTable)}
</section>
<section id="coefficient">
<h2>Scale coefficient</h2>
<p class="explain">LLFC allows c·f<sup>(ℓ)</sup>(θ(α)) = (1−α)·f<sup>(ℓ)</sup><sub>A</sub> + α·f<sup>(ℓ)</sup><sub>B</sub> for some c &gt; 0; the mean over samples of ⟨a, m⟩ / ‖m‖² estimates 1/c (≈ 1 in practice).</p>
<div class="charts">${figure(svgs.get('scale-coefficient'), 'scale-coefficient')}${figure(svgs.get('scale-coefficient-aligned'), 'scale-coefficient-aligned')}</div>
<h3>Scale coefficient per α</h3>
${both(s.layers, aligned?.layers, coefficientTable)}
</section>`,
  };
}

/** The largest LLFC distance or baseline over the naive and aligned layers: the shared color scale's top. */
function llfcColorTop(sections: ReportSections): number {
  const all = [...sections.layers, ...(sections.aligned?.layers ?? [])];
  const values = all.flatMap((l) => [l.baseline, ...l.llfc.map((p) => p.distance)]).filter(Number.isFinite);
  return Math.max(1e-12, ...values);
}

/**
 * One field of the layers' LLFC points per layer (rows, shallow to deep) and α (columns), for the
 * naive layers or the aligned ones; `chart.id` and `chart.title` are the naive chart's.
 */
function llfcPointsHeatmap(
  sections: ReportSections,
  which: 'naive' | 'aligned',
  chart: { readonly id: string; readonly title: string; readonly subtitle: string; readonly legend: string; readonly scale: Record<string, unknown>; readonly darkText: string },
  cell: (p: LlfcPoint, layer: LayerReport, label: string) => { value: number; tip: string },
): Chart | null {
  const layers = which === 'naive' ? sections.layers : (sections.aligned?.layers ?? []);
  if (layers.length === 0) return null;
  const labels = layerLabels(layers);
  const cells = layers.flatMap((layer, i) =>
    layer.llfc.map((p) => {
      const { value, tip } = cell(p, layer, labels[i]!);
      return { label: labels[i]!, alpha: chartAlpha(p.alpha), value, text: heatText(value), tip };
    }),
  );
  return heatmap(
    which === 'naive' ? chart.id : `${chart.id}-aligned`,
    which === 'naive' ? chart.title : `${chart.title}, aligned`,
    chart.subtitle,
    labels,
    layerAlphas(layers).map(alphaText),
    cells,
    { title: chart.legend, scale: chart.scale, legend: { orient: 'right', direction: 'vertical', gradientLength: Math.min(180, Math.max(60, 24 * labels.length)) } },
    chart.darkText,
  );
}

/** LLFC distance per layer and α; the color scale ends at the largest baseline, so pale cells are far below it. */
function llfcHeatmapChart(sections: ReportSections, which: 'naive' | 'aligned' = 'naive'): Chart | null {
  const top = llfcColorTop(sections);
  return llfcPointsHeatmap(
    sections,
    which,
    { id: 'llfc-heatmap', title: 'LLFC distance per layer and α', subtitle: 'cosine distance; the color scale ends at the largest baseline', legend: 'LLFC distance', scale: { scheme: 'orangered', domain: [0, top], clamp: true }, darkText: `datum.value > ${0.55 * top}` },
    (p, layer, label) => ({
      value: p.distance,
      tip:
        `${label} (${layer.op}, tensor ${layer.name}) · α = ${exact(p.alpha)} · LLFC distance ${exact(p.distance)} ± ${exact(p.distanceStd)}` +
        ` · baseline d(f_A, f_B) ${exact(layer.baseline)} · ratio ${exact(layer.baseline > 0 ? p.distance / layer.baseline : NaN)}` +
        ` · scale coefficient ${exact(p.coefficient)}${p.skipped ? ` · ${p.skipped} samples skipped` : ''}`,
    }),
  );
}

/** The scale coefficient ⟨a, m⟩/‖m‖² per layer and α, on a diverging scale centered at 1. */
function coefficientHeatmapChart(sections: ReportSections, which: 'naive' | 'aligned' = 'naive'): Chart | null {
  const all = [...sections.layers, ...(sections.aligned?.layers ?? [])];
  const spread = Math.max(0.05, ...all.flatMap((l) => l.llfc.map((p) => Math.abs(p.coefficient - 1))).filter(Number.isFinite));
  return llfcPointsHeatmap(
    sections,
    which,
    { id: 'scale-coefficient', title: 'Scale coefficient per layer and α', subtitle: '⟨a, m⟩ / ‖m‖², estimates 1/c; 1 is white', legend: 'coefficient', scale: { scheme: 'redblue', domain: [1 - spread, 1 + spread], domainMid: 1, clamp: true }, darkText: `abs(datum.value - 1) > ${0.6 * spread}` },
    (p, layer, label) => ({
      value: p.coefficient,
      tip: `${label} (${layer.op}, tensor ${layer.name}) · α = ${exact(p.alpha)} · scale coefficient ${exact(p.coefficient)} · LLFC distance ${exact(p.distance)}`,
    }),
  );
}

/** LLFC distance at the α closest to ½ next to the baseline d(f_A, f_B), per layer (naive, and aligned when present). */
function llfcBarsChart(sections: ReportSections): Chart | null {
  if (sections.layers.length === 0) return null;
  const runs = [{ which: NAIVE, layers: sections.layers }, ...(sections.aligned ? [{ which: ALIGNED, layers: sections.aligned.layers }] : [])];
  const alpha = alphaNearestHalf(layerAlphas(sections.layers));
  if (alpha === null) return null;
  return distanceBars(
    { id: 'llfc-bars', title: `LLFC distance at α = ${chartAlpha(alpha)} vs baseline`, subtitle: 'LLFC holds where the distance is far below the baseline' },
    runs,
    alpha,
    { distance: 'LLFC distance', series: 'LLFC distance', baseline: 'baseline d(f_A, f_B)' },
    (l) => l.llfc,
    (l) => l.baseline,
  );
}

/** The per-layer table's own columns: LLFC distance per α, the baseline, the coefficient at α = 0.5. */
function llfcColumns(analysis: PairAnalysis) {
  const half = analysis.alphas.indexOf(0.5);
  return {
    header: ['layer', 'kind', ...analysis.alphas.map((a) => `LLFC α=${a}`), 'baseline', 'coef α=0.5'],
    legend: 'baseline: A vs B',
    cells: (l: LayerReport) => [l.module ?? l.name, l.kind, ...l.llfc.map((p) => fixed(p.distance)), fixed(l.baseline), half >= 0 ? fixed(l.llfc[half]!.coefficient, 3) : ''],
  };
}

export const llfcCheck = {
  id: 'llfc',
  perLayer: true,
  create: async (setup): Promise<PairCheck> => new Llfc(setup),
  layerColumns: llfcColumns,
  html: llfcHtml,
  charts: (s) => [llfcHeatmapChart(s, 'naive'), llfcHeatmapChart(s, 'aligned'), llfcBarsChart(s), coefficientHeatmapChart(s, 'naive'), coefficientHeatmapChart(s, 'aligned')],
} satisfies CheckDefinition;
