/**
 * Linear mode connectivity in the shared pass of analyze (SCIENCE.md §1): the loss and accuracy
 * of θ(α) on the LMC grid from the logits every run produces; and how an LMC result is printed
 * and shown (barrier cards, curves, tables), for `llfc lmc` reports too.
 */
import { ALIGNED, COLORS, exact, NAIVE, pct, spec, type Chart } from '../present/charts.js';
import { alphaText, esc, figure, formatNumber, formatPercent, numCell, pctCell, table } from '../present/html.js';
import type { ReportSections } from '../present/sections.js';
import { fixed, formatTable, percent } from '../present/text.js';
import type { LmcResult, PairAnalysis } from '../results.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from './check.js';
import { addBatchLoss, lmcResult, lossCount, lossMeans, lossSetup, lossSums, type LossSetup } from './loss.js';
import type { Sums } from '../sums.js';

/** Loss and hit sums per α of the LMC grid. */
class LmcLoss implements PairCheck {
  readonly needs;
  private readonly sums: Map<number, Sums>;
  private readonly logits: string;
  private readonly loss: LossSetup;

  constructor(private readonly setup: PairSetup) {
    this.loss = lossSetup(setup.a, setup.data);
    this.logits = setup.a.outputs[0]!.name;
    this.sums = new Map(setup.lmcAlphas.map((x) => [x, lossSums()]));
    this.needs = { endpointValues: [], alphas: setup.lmcAlphas, interpolatedValues: [] };
  }

  addAt(batch: PairBatch, alpha: number): void {
    if (!batch.covers([this.logits])) return;
    addBatchLoss(this.sums.get(alpha)!, this.loss, batch.value(this.logits, alpha, this.setup.a.file).data, batch.labels!);
  }

  result() {
    const alphas = [...this.setup.lmcAlphas];
    const means = alphas.map((x) => lossMeans(this.loss, this.sums.get(x)!));
    return { lmc: lmcResult(alphas, means.map((m) => m.loss), means.map((m) => m.accuracy), this.setup.data.length, lossCount(this.sums.get(alphas[0]!)!)) };
  }

  accumulators() {
    return new Map([...this.sums].map(([alpha, sums]) => [`α ${alpha}`, sums]));
  }

  async release(): Promise<void> {}
}

/** The printed LMC table and barriers. */
export function lmcTable(lmc: LmcResult): string {
  const rows = formatTable(
    ['α', 'loss', 'accuracy'],
    lmc.alphas.map((a, i) => [a.toFixed(3), fixed(lmc.loss[i]!), percent(lmc.accuracy[i]!)]),
  );
  const barriers = lmc.barriers
    ? `barriers: loss ${fixed(lmc.barriers.loss)} · loss vs midpoint ${fixed(lmc.barriers.lossMidpoint)} · accuracy ${percent(lmc.barriers.accuracy)}`
    : 'barriers: need α = 0 and α = 1';
  const tokens = lmc.tokens !== undefined ? `\nloss and accuracy per token: mean over ${lmc.tokens} labelled tokens of the ${lmc.samples} sequences` : '';
  return `${rows}\n${barriers}${tokens}`;
}

function barrierCards(s: ReportSections): string {
  const runs: { name: string; lmc: LmcResult }[] = [];
  if (s.lmc) runs.push({ name: 'naive', lmc: s.lmc });
  if (s.aligned?.lmc) runs.push({ name: 'aligned', lmc: s.aligned.lmc });
  if (runs.length === 0) return '';
  const card = (title: string, value: (l: LmcResult) => string | null, note: string): string => {
    const lines = runs.map((r) => {
      const v = value(r.lmc);
      return `<div class="card-value ${r.name}">${v ?? '—'}${runs.length > 1 ? `<span class="tag ${r.name}">${r.name}</span>` : ''}</div>`;
    });
    return `<div class="card"><div class="card-title">${title}</div>${lines.join('')}<div class="card-note">${note}</div></div>`;
  };
  // A permuted B computes what B computes, so the endpoints are the naive run's.
  const endpoints = runs[0]!.lmc;
  const endRow = (name: string, alpha: number): string => {
    const k = endpoints.alphas.indexOf(alpha);
    return k < 0
      ? `<tr><th>${name}</th><td colspan="2">—</td></tr>`
      : `<tr><th>${name}</th><td class="num" title="${esc(String(endpoints.loss[k]))}">${formatNumber(endpoints.loss[k]!)}</td><td class="num" title="${esc(String(endpoints.accuracy[k]))}">${formatPercent(endpoints.accuracy[k]!)}</td></tr>`;
  };
  const endCard = `<div class="card"><div class="card-title">Endpoints</div><table class="ends"><thead><tr><th></th><th class="num">loss</th><th class="num">accuracy</th></tr></thead><tbody>${endRow('A', 0)}${endRow('B', 1)}</tbody></table><div class="card-note">${endpoints.samples} samples</div></div>`;
  return `<div class="cards">
${card('Loss barrier', (l) => (l.barriers ? formatNumber(l.barriers.loss) : null), 'max<sub>α</sub> L(α) − [(1−α)L(0) + αL(1)]')}
${card('Loss barrier vs midpoint', (l) => (l.barriers ? formatNumber(l.barriers.lossMidpoint) : null), 'max<sub>α</sub> L(α) − ½[L(0) + L(1)]')}
${card('Accuracy barrier', (l) => (l.barriers ? formatPercent(l.barriers.accuracy) : null), 'largest drop below the line between the endpoint accuracies')}
${endCard}
</div>`;
}

function lmcHtmlTable(lmc: LmcResult, aligned: LmcResult | null): string {
  const same = aligned && aligned.alphas.length === lmc.alphas.length && aligned.alphas.every((a, i) => a === lmc.alphas[i]);
  if (same) {
    return table(
      ['α', 'loss, naive', 'accuracy, naive', 'loss, aligned', 'accuracy, aligned'],
      lmc.alphas.map((a, i) => [`<td class="num">${alphaText(a)}</td>`, numCell(lmc.loss[i]!), pctCell(lmc.accuracy[i]!), numCell(aligned.loss[i]!), pctCell(aligned.accuracy[i]!)]),
      { numeric: () => true, cls: 'lmc' },
    );
  }
  const one = (l: LmcResult, caption?: string): string =>
    table(['α', 'loss', 'accuracy'], l.alphas.map((a, i) => [`<td class="num">${alphaText(a)}</td>`, numCell(l.loss[i]!), pctCell(l.accuracy[i]!)]), { numeric: () => true, cls: 'lmc', ...(caption ? { caption } : {}) });
  return aligned ? `<div class="pair">${one(lmc, 'naive')}${one(aligned, 'aligned')}</div>` : one(lmc);
}

function barrierTable(s: ReportSections): string {
  const runs: [string, LmcResult][] = [];
  if (s.lmc) runs.push(['naive', s.lmc]);
  if (s.aligned?.lmc) runs.push(['aligned', s.aligned.lmc]);
  const rows = runs.map(([name, l]) =>
    l.barriers
      ? [`<td>${name}</td>`, numCell(l.barriers.loss), numCell(l.barriers.lossMidpoint), pctCell(l.barriers.accuracy), `<td class="num">${l.samples}</td>`]
      : [`<td>${name}</td>`, '<td class="num" colspan="3">barriers need α = 0 and α = 1</td>', `<td class="num">${l.samples}</td>`],
  );
  return table(['', 'loss barrier', 'loss barrier vs midpoint', 'accuracy barrier', 'samples'], rows, { cls: 'barriers' });
}

function lmcSection(s: ReportSections, svgs: ReadonlyMap<string, string>): string {
  if (!s.lmc && !s.aligned?.lmc) {
    return `<section id="lmc"><h2>Linear mode connectivity</h2><p class="note">Not measured: the data has no labels. The per-layer checks below do not need them.</p></section>`;
  }
  const lmc = s.lmc ?? s.aligned!.lmc!;
  return `<section id="lmc">
<h2>Linear mode connectivity</h2>
<p class="explain">Loss and top-1 accuracy of the interpolated weights θ(α) = (1−α)·θ<sub>A</sub> + α·θ<sub>B</sub>${s.aligned?.lmc ? ', before (naive) and after permuting B onto A (aligned)' : ''}; A and B are linearly connected when the barrier, the bump above the straight line between the endpoints, is ≈ 0.</p>
<div class="charts">${figure(svgs.get('lmc-loss'), 'lmc-loss')}${figure(svgs.get('lmc-accuracy'), 'lmc-accuracy')}</div>
<h3>Barriers</h3>
${barrierTable(s)}
<h3>Loss and accuracy per α</h3>
${s.lmc ? lmcHtmlTable(s.lmc, s.aligned?.lmc ?? null) : lmcHtmlTable(lmc, null)}
</section>`;
}

interface LmcSeries {
  readonly series: string;
  readonly lmc: LmcResult;
}

function lmcSeries(sections: ReportSections): LmcSeries[] {
  const out: LmcSeries[] = [];
  if (sections.lmc) out.push({ series: NAIVE, lmc: sections.lmc });
  if (sections.aligned?.lmc) out.push({ series: ALIGNED, lmc: sections.aligned.lmc });
  return out;
}

/** Loss (or accuracy) against α, one line with a point per α for each series, and the dashed chord between its endpoints. */
function lmcCurveChart(sections: ReportSections, metric: 'loss' | 'accuracy'): Chart | null {
  const series = lmcSeries(sections);
  if (series.length === 0) return null;
  const points = series.flatMap(({ series: name, lmc }) =>
    lmc.alphas.map((alpha, i) => {
      const loss = lmc.loss[i]!;
      const accuracy = lmc.accuracy[i]!;
      return {
        series: name,
        alpha,
        value: metric === 'loss' ? loss : accuracy,
        tip: `${name} · α = ${exact(alpha)} · loss ${exact(loss)} · accuracy ${exact(accuracy)} (${pct(accuracy)})`,
      };
    }),
  );
  const chords = series.flatMap(({ series: name, lmc }) => {
    const i0 = lmc.alphas.indexOf(0);
    const i1 = lmc.alphas.indexOf(1);
    if (i0 < 0 || i1 < 0) return [];
    const v = metric === 'loss' ? lmc.loss : lmc.accuracy;
    return [
      { series: name, alpha: 0, value: v[i0]! },
      { series: name, alpha: 1, value: v[i1]! },
    ];
  });
  const names = series.map((s) => s.series);
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: names, range: names.map((n) => (n === NAIVE ? COLORS.naive : COLORS.aligned)) },
    legend: names.length > 1 ? {} : null,
  };
  const x = { field: 'alpha', type: 'quantitative', title: 'α (weight on B)', scale: { nice: false, padding: 8 }, axis: { tickCount: 5 } };
  const y =
    metric === 'loss'
      ? { field: 'value', type: 'quantitative', title: 'loss (mean cross-entropy)', scale: { zero: false } }
      : { field: 'value', type: 'quantitative', title: 'accuracy (top-1)', axis: { format: '.0%' }, scale: { zero: false } };
  const title = metric === 'loss' ? 'Loss along the linear path' : 'Accuracy along the linear path';
  return {
    id: `lmc-${metric}`,
    title,
    spec: spec({
      title: { text: title, subtitle: 'dashed: the straight line between the endpoints' },
      width: 440,
      height: 260,
      layer: [
        { data: { values: chords }, mark: { type: 'line', strokeDash: [4, 4], strokeWidth: 1.5, opacity: 0.7, aria: false }, encoding: { x, y, color, detail: { field: 'series' } } },
        { data: { values: points }, mark: { type: 'line', strokeWidth: 2.25, aria: false }, encoding: { x, y, color } },
        {
          name: 'lmc_points',
          data: { values: points },
          mark: { type: 'point', filled: true, size: 55, opacity: 1, stroke: 'white', strokeWidth: 1 },
          encoding: { x, y, color, description: { field: 'tip' } },
        },
      ],
    }),
  };
}

export const lmcLossCheck = {
  id: 'lmc',
  perLayer: false,
  applies: (setup) => setup.data.labels !== undefined,
  create: async (setup): Promise<PairCheck> => new LmcLoss(setup),
  text: (analysis: PairAnalysis) => (analysis.lmc ? `Linear mode connectivity\n${lmcTable(analysis.lmc)}` : 'Linear mode connectivity: no labels given, skipped'),
  // A layer-wise report measures no LMC curve: no section rather than one saying the labels are missing.
  html: (s, svgs) => (!s.lmc && !s.aligned?.lmc && s.layerwise ? null : { nav: [['lmc', 'LMC']] as const, body: `${barrierCards(s)}\n${lmcSection(s, svgs)}` }),
  charts: (s) => [lmcCurveChart(s, 'loss'), lmcCurveChart(s, 'accuracy')],
} satisfies CheckDefinition;
