/**
 * LEWC (Ito et al. 2025; SCIENCE.md §6): at a layer of depth ℓ (linear layers on the longest path
 * from the input), the cosine distance d(f(θ(α)), (1−α)^ℓ·f_A + α^ℓ·f_B), beside LLFC's own
 * target (1−α)·f_A + α·f_B; the closer target says which regime the pair is in. LEWC predicts
 * LLFC's scale coefficient at α = ½ to be 2^−(ℓ−1). Derived for bias-free ReLU networks; a
 * heuristic elsewhere. Off by default (`lewc: true`, `llfc analyze --lewc`).
 *
 * Cosine distance ignores scale, and (1−α)^ℓ·f_A + α^ℓ·f_B = s·((1−β)·f_A + β·f_B) with
 * s = (1−α)^ℓ + α^ℓ and β = α^ℓ / s: the native LLFC kernel runs at β, and ⟨a, t⟩/‖t‖² is its
 * coefficient divided by s.
 */
import type { Checkpoint } from '../checkpoint.js';
import { ALIGNED, alphaText as chartAlpha, COLORS, exact, groupedBars, NAIVE, type BarRow, type Chart } from '../present/charts.js';
import { alphaText, both, figure, layerNameCell, numCell, table } from '../present/html.js';
import { layerLabels, type ReportSections } from '../present/sections.js';
import { fixed, formatTable } from '../present/text.js';
import type { LayerReport, LewcReport, PairAnalysis } from '../results.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from './check.js';
import { addLayerAt, CosineAccumulator } from './cosine.js';
import { linearLayers, type LayerSpec } from './layers.js';

/** Depth of every graph value in linear layers (Gemm, MatMul with a weight, Conv) on the longest path from the input. */
export function linearDepths(checkpoint: Checkpoint): Map<string, number> {
  const linear = new Set(linearLayers(checkpoint).map((l) => l.nodeIndex));
  const depth = new Map<string, number>([[checkpoint.input.name, 0]]);
  // ONNX nodes are in topological order; values not computed from the input (constants) have no depth.
  (checkpoint.model.graph!.node ?? []).forEach((node, i) => {
    const from = (node.input ?? []).filter((v) => depth.has(v)).map((v) => depth.get(v)!);
    if (from.length === 0) return;
    const d = Math.max(...from) + (linear.has(i) ? 1 : 0);
    for (const out of node.output ?? []) if (out) depth.set(out, d);
  });
  return depth;
}

/** The LLFC mix weight β on B whose target is proportional to LEWC's at α, and the scale s. */
export function lewcMix(alpha: number, depth: number): { beta: number; scale: number } {
  const wa = (1 - alpha) ** depth;
  const wb = alpha ** depth;
  return { beta: wb / (wa + wb), scale: wa + wb };
}

interface LewcLayer {
  readonly index: number;
  readonly spec: LayerSpec;
  readonly depth: number;
  readonly accumulator: CosineAccumulator;
}

class Lewc implements PairCheck {
  readonly needs;
  private readonly layers: LewcLayer[];

  constructor(private readonly setup: PairSetup) {
    const depths = linearDepths(setup.a);
    this.layers = setup.layers.flatMap((spec, index) => {
      const depth = depths.get(spec.name) ?? 0;
      return depth >= 1 ? [{ index, spec, depth, accumulator: new CosineAccumulator(setup.alphas.map((x) => lewcMix(x, depth).beta)) }] : [];
    });
    const names = this.layers.map((l) => l.spec.name);
    this.needs = { endpointValues: names, alphas: setup.alphas, interpolatedValues: names };
  }

  addAt(batch: PairBatch, alpha: number): void {
    const k = this.setup.alphas.indexOf(alpha);
    for (const { spec, accumulator } of this.layers) addLayerAt(accumulator, batch, spec, k, alpha);
  }

  result() {
    const layers: ({ lewc: LewcReport } | undefined)[] = this.setup.layers.map(() => undefined);
    for (const { index, depth, accumulator } of this.layers) {
      const points = this.setup.alphas.map((alpha, k) => {
        const s = accumulator.summary(k);
        return { alpha, distance: s.distance, distanceStd: s.distanceStd, coefficient: s.coefficient / lewcMix(alpha, depth).scale, skipped: s.skipped };
      });
      layers[index] = { lewc: { linearDepth: depth, predictedCoefficient: 2 ** -(depth - 1), points } };
    }
    return { layers };
  }

  accumulators() {
    return new Map(this.layers.map(({ spec, accumulator }) => [spec.name, accumulator.sums]));
  }

  async release(): Promise<void> {}
}

type WithLewc = LayerReport & { readonly lewc: LewcReport };
const withLewc = (layers: readonly LayerReport[]): WithLewc[] => layers.filter((l): l is WithLewc => l.lewc !== undefined);

/** LLFC's coefficient at α = ½ (null when ½ is not among the α). */
const coefficientAtHalf = (l: LayerReport): number | null => l.llfc.find((p) => p.alpha === 0.5)?.coefficient ?? null;

/** Which target is closer over the α away from ½ and the endpoints ('' when there is none; 'same' at ℓ = 1, where they coincide). */
function closer(l: WithLewc): string {
  const away = l.lewc.points.filter((p) => p.alpha > 0 && p.alpha < 1 && p.alpha !== 0.5);
  if (away.length === 0) return '';
  let llfc = 0;
  let lewc = 0;
  for (const p of away) {
    llfc += l.llfc.find((q) => q.alpha === p.alpha)?.distance ?? NaN;
    lewc += p.distance;
  }
  return lewc === llfc ? 'same' : lewc < llfc ? 'LEWC' : 'LLFC';
}

function lewcText(analysis: PairAnalysis): string {
  const layers = withLewc(analysis.layers);
  if (layers.length === 0) return '';
  const rows = layers.map((l) => {
    const half = coefficientAtHalf(l);
    return [
      l.module ?? l.name,
      String(l.lewc.linearDepth),
      ...l.lewc.points.flatMap((p) => [fixed(l.llfc.find((q) => q.alpha === p.alpha)?.distance ?? NaN), fixed(p.distance)]),
      half === null ? '' : fixed(half, 3),
      fixed(l.lewc.predictedCoefficient, 3),
      closer(l),
    ];
  });
  const header = ['layer', 'ℓ', ...analysis.alphas.flatMap((a) => [`LLFC α=${a}`, `LEWC α=${a}`]), 'coef α=0.5', 'LEWC 2^-(ℓ-1)', 'closer'];
  return `LEWC per layer (target (1-α)^ℓ·f_A + α^ℓ·f_B, ℓ: linear layers from the input) beside LLFC\n${formatTable(header, rows)}`;
}

function lewcTable(layers: readonly LayerReport[], caption?: string): string {
  const rows = withLewc(layers);
  const alphas = [...new Set(rows.flatMap((l) => l.lewc.points.map((p) => p.alpha)))].sort((x, y) => x - y);
  const labels = layerLabels(rows);
  const cells = rows.map((l, i) => {
    const half = coefficientAtHalf(l);
    return [
      layerNameCell(labels[i]!, l),
      `<td class="num">${l.lewc.linearDepth}</td>`,
      ...alphas.flatMap((a) => {
        const p = l.lewc.points.find((q) => q.alpha === a);
        const llfc = l.llfc.find((q) => q.alpha === a);
        return [llfc ? numCell(llfc.distance) : '<td class="num">—</td>', p ? numCell(p.distance) : '<td class="num">—</td>'];
      }),
      half === null ? '<td class="num">—</td>' : numCell(half, 3),
      numCell(l.lewc.predictedCoefficient, 3),
      `<td>${closer(l)}</td>`,
    ];
  });
  const head = ['layer', 'ℓ', ...alphas.flatMap((a) => [`LLFC α = ${alphaText(a)}`, `LEWC α = ${alphaText(a)}`]), 'coefficient α = ½', 'LEWC 2<sup>−(ℓ−1)</sup>', 'closer'];
  return table(head, cells, { numeric: (i) => i > 0 && i < head.length - 1, ...(caption ? { caption } : {}) });
}

function lewcHtml(s: ReportSections, svgs: ReadonlyMap<string, string>) {
  if (withLewc(s.layers).length === 0) return null;
  return {
    nav: [['lewc', 'LEWC']] as const,
    body: `<section id="lewc">
<h2>Layerwise exponentially weighted connectivity (LEWC)</h2>
<p class="explain">At a layer of depth ℓ (linear layers from the input), the cosine distance of f<sup>(ℓ)</sup>(θ(α)) from (1−α)<sup>ℓ</sup>·f<sup>(ℓ)</sup><sub>A</sub> + α<sup>ℓ</sup>·f<sup>(ℓ)</sup><sub>B</sub> (Ito et al. 2025), beside its distance from LLFC's target (1−α)·f<sup>(ℓ)</sup><sub>A</sub> + α·f<sup>(ℓ)</sup><sub>B</sub>; the closer target at α ≠ ½ says which regime the pair is in (at α = ½ the two are equal). LEWC predicts LLFC's scale coefficient at α = ½ to be 2<sup>−(ℓ−1)</sup>. Derived for bias-free ReLU networks; a heuristic elsewhere.</p>
<div class="charts">${figure(svgs.get('lewc'), 'lewc')}${figure(svgs.get('lewc-coefficient'), 'lewc-coefficient')}</div>
<h3>LLFC and LEWC distance per α</h3>
${both(s.layers, s.aligned && withLewc(s.aligned.layers).length > 0 ? s.aligned.layers : undefined, lewcTable)}
</section>`,
  };
}

/** The naive and (when present) aligned layers that have LEWC results. */
function runs(s: ReportSections) {
  const aligned = s.aligned ? withLewc(s.aligned.layers) : [];
  return [{ which: NAIVE, layers: withLewc(s.layers) }, ...(aligned.length > 0 ? [{ which: ALIGNED, layers: aligned }] : [])];
}

/** LLFC and LEWC distance per layer at the α farthest from ½ inside (0, 1). */
function lewcChart(s: ReportSections): Chart | null {
  const all = runs(s);
  const first = all[0]!.layers;
  const alpha = [...new Set(first.flatMap((l) => l.lewc.points.map((p) => p.alpha)))].filter((a) => a > 0 && a < 1 && a !== 0.5).sort((x, y) => Math.abs(y - 0.5) - Math.abs(x - 0.5))[0];
  if (alpha === undefined) return null;
  const labels = layerLabels(first);
  const series: { name: string; color: string }[] = [];
  const rows: BarRow[] = [];
  for (const { which, layers } of all) {
    const many = all.length > 1;
    const llfc = many ? `LLFC (${which})` : 'LLFC target';
    const lewc = many ? `LEWC (${which})` : 'LEWC target';
    series.push({ name: llfc, color: which === NAIVE ? COLORS.naiveLight : COLORS.alignedLight }, { name: lewc, color: which === NAIVE ? COLORS.naive : COLORS.aligned });
    layers.forEach((l, i) => {
      const label = labels[i] ?? l.name;
      const p = l.lewc.points.find((q) => q.alpha === alpha);
      const q = l.llfc.find((x) => x.alpha === alpha);
      if (q) rows.push({ label, series: llfc, value: q.distance, tip: `${label} · ${which} · α = ${exact(alpha)} · distance to the LLFC target ${exact(q.distance)}` });
      if (p) rows.push({ label, series: lewc, value: p.distance, tip: `${label} · ${which} · ℓ = ${l.lewc.linearDepth} · α = ${exact(alpha)} · distance to the LEWC target ${exact(p.distance)}` });
    });
  }
  return groupedBars('lewc', `Distance to the LLFC and the LEWC target at α = ${chartAlpha(alpha)}`, 'the shorter bar is the target the interpolated features follow', labels, series, rows, 'cosine distance');
}

/** LLFC's measured scale coefficient at α = ½ next to LEWC's prediction 2^−(ℓ−1). */
function coefficientChart(s: ReportSections): Chart | null {
  const all = runs(s);
  const labels = layerLabels(all[0]!.layers);
  const series: { name: string; color: string }[] = [{ name: 'LEWC prediction 2^−(ℓ−1)', color: COLORS.distW }];
  const rows: BarRow[] = all[0]!.layers.map((l, i) => ({ label: labels[i]!, series: series[0]!.name, value: l.lewc.predictedCoefficient, tip: `${labels[i]} · ℓ = ${l.lewc.linearDepth} · predicted ${exact(l.lewc.predictedCoefficient)}` }));
  for (const { which, layers } of all) {
    const name = all.length > 1 ? `measured (${which})` : 'measured coefficient';
    series.push({ name, color: which === NAIVE ? COLORS.naive : COLORS.aligned });
    layers.forEach((l, i) => {
      const c = coefficientAtHalf(l);
      if (c !== null) rows.push({ label: labels[i] ?? l.name, series: name, value: c, tip: `${labels[i] ?? l.name} · ${which} · LLFC scale coefficient at α = 0.5 ${exact(c)}` });
    });
  }
  if (rows.length === labels.length) return null;
  return groupedBars('lewc-coefficient', 'Scale coefficient at α = 0.5 vs the LEWC prediction', '⟨a, m⟩ / ‖m‖² of LLFC against 2^−(ℓ−1)', labels, series, rows, 'coefficient');
}

export const lewcCheck = {
  id: 'lewc',
  perLayer: true,
  option: { name: 'lewc', description: 'LEWC distances per layer beside LLFC (Ito et al. 2025)' } as const,
  create: async (setup): Promise<PairCheck> => new Lewc(setup),
  text: lewcText,
  html: lewcHtml,
  charts: (s) => (withLewc(s.layers).length > 0 ? [lewcChart(s), coefficientChart(s)] : []),
} satisfies CheckDefinition;
