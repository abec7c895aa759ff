/**
 * The report's charts: one Vega-Lite spec per chart, compiled and rendered to static SVG in
 * Node (no canvas, no browser), and to PNG with resvg for `--plots`.
 *
 * Every data mark that carries a value gets an SVG <title> with the exact numbers, so hovering
 * it in a browser shows them; the same text is its aria-label.
 */
import { existsSync } from 'node:fs';
import { compile, type TopLevelSpec } from 'vega-lite';
import * as vega from 'vega';
import { ALIGNED, alphaText, COLORS, exact, groupedBars, heatmap, heatText, NAIVE, pct, spec, type BarRow, type Chart } from '../present/charts.js';
import { alphaNearestHalf, layerAlphas, layerLabels, linearLabels, reportSections, type ReportSections } from '../present/sections.js';
import type { LmcResult } from '../results.js';

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

export function lmcLossChart(sections: ReportSections): Chart | null {
  return lmcCurveChart(sections, 'loss');
}

export function lmcAccuracyChart(sections: ReportSections): Chart | null {
  return lmcCurveChart(sections, 'accuracy');
}

/** The largest LLFC distance or baseline over the naive and aligned layers: the shared color scale's top. */
function llfcColorTop(sections: ReportSections): number {
  const all = [...sections.layers, ...(sections.aligned?.layers ?? [])];
  const values = all.flatMap((l) => [l.baseline, ...l.llfc.map((p) => p.distance)]).filter(Number.isFinite);
  return Math.max(1e-12, ...values);
}

/** LLFC distance per layer (rows, shallow to deep) and α (columns); the color scale ends at the largest baseline, so pale cells are far below it. */
export function llfcHeatmapChart(sections: ReportSections, which: 'naive' | 'aligned' = 'naive'): Chart | null {
  const layers = which === 'naive' ? sections.layers : (sections.aligned?.layers ?? []);
  if (layers.length === 0) return null;
  const alphas = layerAlphas(layers);
  const labels = layerLabels(layers);
  const cells = layers.flatMap((layer, i) =>
    layer.llfc.map((p) => ({
      label: labels[i]!,
      alpha: alphaText(p.alpha),
      value: p.distance,
      text: heatText(p.distance),
      tip:
        `${labels[i]} (${layer.op}, tensor ${layer.name}) · α = ${exact(p.alpha)} · LLFC distance ${exact(p.distance)} ± ${exact(p.distanceStd)}` +
        ` · baseline d(f_A, f_B) ${exact(layer.baseline)} · ratio ${exact(layer.baseline > 0 ? p.distance / layer.baseline : NaN)}` +
        ` · scale coefficient ${exact(p.coefficient)}${p.skipped ? ` · ${p.skipped} samples skipped` : ''}`,
    })),
  );
  const top = llfcColorTop(sections);
  const title = which === 'naive' ? 'LLFC distance per layer and α' : 'LLFC distance per layer and α, aligned';
  return heatmap(
    which === 'naive' ? 'llfc-heatmap' : 'llfc-heatmap-aligned',
    title,
    'cosine distance; the color scale ends at the largest baseline',
    labels,
    alphas.map(alphaText),
    cells,
    { title: 'LLFC distance', scale: { scheme: 'orangered', domain: [0, top], clamp: true }, legend: { orient: 'right', direction: 'vertical', gradientLength: Math.min(180, Math.max(60, 24 * labels.length)) } },
    `datum.value > ${0.55 * top}`,
  );
}

/** The scale coefficient ⟨a, m⟩/‖m‖² per layer and α, on a diverging scale centered at 1. */
export function coefficientHeatmapChart(sections: ReportSections, which: 'naive' | 'aligned' = 'naive'): Chart | null {
  const layers = which === 'naive' ? sections.layers : (sections.aligned?.layers ?? []);
  if (layers.length === 0) return null;
  const all = [...sections.layers, ...(sections.aligned?.layers ?? [])];
  const spread = Math.max(0.05, ...all.flatMap((l) => l.llfc.map((p) => Math.abs(p.coefficient - 1))).filter(Number.isFinite));
  const labels = layerLabels(layers);
  const cells = layers.flatMap((layer, i) =>
    layer.llfc.map((p) => ({
      label: labels[i]!,
      alpha: alphaText(p.alpha),
      value: p.coefficient,
      text: heatText(p.coefficient),
      tip: `${labels[i]} (${layer.op}, tensor ${layer.name}) · α = ${exact(p.alpha)} · scale coefficient ${exact(p.coefficient)} · LLFC distance ${exact(p.distance)}`,
    })),
  );
  const title = which === 'naive' ? 'Scale coefficient per layer and α' : 'Scale coefficient per layer and α, aligned';
  return heatmap(
    which === 'naive' ? 'scale-coefficient' : 'scale-coefficient-aligned',
    title,
    '⟨a, m⟩ / ‖m‖², estimates 1/c; 1 is white',
    labels,
    layerAlphas(layers).map(alphaText),
    cells,
    { title: 'coefficient', scale: { scheme: 'redblue', domain: [1 - spread, 1 + spread], domainMid: 1, clamp: true }, legend: { orient: 'right', direction: 'vertical', gradientLength: Math.min(180, Math.max(60, 24 * labels.length)) } },
    `abs(datum.value - 1) > ${0.6 * spread}`,
  );
}

/** LLFC distance at the α closest to ½ next to the baseline d(f_A, f_B), per layer (naive, and aligned when present). */
export function llfcBarsChart(sections: ReportSections): Chart | null {
  if (sections.layers.length === 0) return null;
  const runs = [{ which: NAIVE, layers: sections.layers }, ...(sections.aligned ? [{ which: ALIGNED, layers: sections.aligned.layers }] : [])];
  const alpha = alphaNearestHalf(layerAlphas(sections.layers));
  if (alpha === null) return null;
  const labels = layerLabels(sections.layers);
  const many = runs.length > 1;
  const series: { name: string; color: string }[] = [];
  const rows: BarRow[] = [];
  for (const { which, layers } of runs) {
    const dist = many ? `LLFC distance (${which})` : 'LLFC distance';
    const base = many ? `baseline (${which})` : 'baseline d(f_A, f_B)';
    series.push({ name: dist, color: which === NAIVE ? COLORS.naive : COLORS.aligned }, { name: base, color: which === NAIVE ? COLORS.naiveLight : COLORS.alignedLight });
    const ownLabels = layerLabels(layers);
    layers.forEach((layer, i) => {
      const p = layer.llfc.find((q) => q.alpha === alpha);
      // Aligned layers are matched to naive rows by tensor name, else by position.
      const row = sections.layers.findIndex((l) => l.name === layer.name);
      const label = labels[row >= 0 ? row : i] ?? ownLabels[i]!;
      if (p) rows.push({ label, series: dist, value: p.distance, tip: `${label} · ${which} · α = ${exact(alpha)} · LLFC distance ${exact(p.distance)} ± ${exact(p.distanceStd)}` });
      rows.push({ label, series: base, value: layer.baseline, tip: `${label} · ${which} · baseline d(f_A, f_B) ${exact(layer.baseline)}` });
    });
  }
  return groupedBars('llfc-bars', `LLFC distance at α = ${alphaText(alpha)} vs baseline`, 'LLFC holds where the distance is far below the baseline', labels, series, rows, 'cosine distance');
}

/** Weak additivity of each activation at the α closest to ½ next to its baseline d(σ(h̃_A), σ(h̃_B)). */
export function weakAdditivityChart(sections: ReportSections): Chart | null {
  const runs = [{ which: NAIVE, layers: sections.layers }, ...(sections.aligned ? [{ which: ALIGNED, layers: sections.aligned.layers }] : [])].map((r) => ({
    ...r,
    layers: r.layers.filter((l) => l.weakAdditivity && l.weakAdditivity.length > 0),
  }));
  const first = runs[0]!;
  if (first.layers.length === 0) return null;
  const alpha = alphaNearestHalf([...new Set(first.layers.flatMap((l) => l.weakAdditivity!.map((p) => p.alpha)))]);
  if (alpha === null) return null;
  const labels = layerLabels(first.layers);
  const many = runs.length > 1;
  const series: { name: string; color: string }[] = [];
  const rows: BarRow[] = [];
  for (const { which, layers } of runs) {
    const dist = many ? `weak additivity (${which})` : 'weak additivity distance';
    const base = many ? `baseline (${which})` : 'baseline d(σ(h̃_A), σ(h̃_B))';
    series.push({ name: dist, color: which === NAIVE ? COLORS.naive : COLORS.aligned }, { name: base, color: which === NAIVE ? COLORS.naiveLight : COLORS.alignedLight });
    const ownLabels = layerLabels(layers);
    layers.forEach((layer, i) => {
      const row = first.layers.findIndex((l) => l.name === layer.name);
      const label = labels[row >= 0 ? row : i] ?? ownLabels[i]!;
      const p = layer.weakAdditivity!.find((q) => q.alpha === alpha);
      if (p) rows.push({ label, series: dist, value: p.distance, tip: `${label} · ${which} · α = ${exact(alpha)} · weak additivity distance ${exact(p.distance)}` });
      const b = layer.weakAdditivityBaseline;
      if (b !== undefined) rows.push({ label, series: base, value: b, tip: `${label} · ${which} · baseline d(σ(h̃_A), σ(h̃_B)) ${exact(b)}` });
    });
  }
  return groupedBars('weak-additivity', `Weak additivity of the activations at α = ${alphaText(alpha)}`, 'distance of σ of mixed pre-activations from the mix of activations, vs baseline', labels, series, rows, 'cosine distance');
}

/** dist_com next to its baselines dist_W and dist_H, per linear layer. */
export function commutativityChart(sections: ReportSections, which: 'naive' | 'aligned' = 'naive'): Chart | null {
  const layers = which === 'naive' ? sections.commutativity : (sections.aligned?.commutativity ?? []);
  if (layers.length === 0) return null;
  const labels = linearLabels(layers);
  const series = [
    { name: 'dist_com', color: COLORS.distCom },
    { name: 'dist_W', color: COLORS.distW },
    { name: 'dist_H', color: COLORS.distH },
  ];
  const rows: BarRow[] = layers.flatMap((c, i) => {
    const tip = `${labels[i]} (${c.op}, weight ${c.weight}) · dist_com ${exact(c.distCom)} · dist_W ${exact(c.distW)} · dist_H ${exact(c.distH)}`;
    return [
      { label: labels[i]!, series: 'dist_com', value: c.distCom, tip },
      { label: labels[i]!, series: 'dist_W', value: c.distW, tip },
      { label: labels[i]!, series: 'dist_H', value: c.distH, tip },
    ];
  });
  return groupedBars(
    which === 'naive' ? 'commutativity' : 'commutativity-aligned',
    which === 'naive' ? 'Commutativity per linear layer' : 'Commutativity per linear layer, aligned',
    'dist_com = ‖(W_A − W_B)(H_A − H_B)‖² / (‖X‖‖Y‖), small vs dist_W and dist_H',
    labels,
    series,
    rows,
    'normalized squared distance',
    // Naive and aligned charts share the x scale.
    Math.max(...[...sections.commutativity, ...(sections.aligned?.commutativity ?? [])].flatMap((c) => [c.distCom, c.distW, c.distH]).filter(Number.isFinite)),
  );
}

/** Weight matching's objective Σ⟨W_A, P W_B Pᵀ⟩ after each sweep. */
export function objectiveChart(sections: ReportSections): Chart | null {
  const objective = sections.aligned?.objective;
  if (!objective || objective.length === 0) return null;
  const values = objective.map((value, i) => ({ sweep: i + 1, value, tip: `sweep ${i + 1} · objective ${exact(value)}` }));
  const x = { field: 'sweep', type: 'quantitative', title: 'sweep', axis: { tickMinStep: 1, format: 'd' } };
  const y = { field: 'value', type: 'quantitative', title: 'Σ ⟨W_A, P W_B Pᵀ⟩', scale: { zero: false } };
  return {
    id: 'alignment-objective',
    title: 'Weight matching objective',
    spec: spec({
      title: { text: 'Weight matching objective', subtitle: 'after each coordinate-descent sweep' },
      data: { values },
      width: 360,
      height: 180,
      layer: [
        { mark: { type: 'line', color: COLORS.aligned, strokeWidth: 2, aria: false }, encoding: { x, y } },
        { mark: { type: 'point', filled: true, color: COLORS.aligned, size: 45 }, encoding: { x, y, description: { field: 'tip' } } },
      ],
    }),
  };
}

/** Every chart the report has data for, in page order. */
export function reportCharts(report: object): Chart[] {
  const s = reportSections(report);
  return [
    lmcLossChart(s),
    lmcAccuracyChart(s),
    llfcHeatmapChart(s, 'naive'),
    llfcHeatmapChart(s, 'aligned'),
    llfcBarsChart(s),
    coefficientHeatmapChart(s, 'naive'),
    coefficientHeatmapChart(s, 'aligned'),
    weakAdditivityChart(s),
    commutativityChart(s, 'naive'),
    commutativityChart(s, 'aligned'),
    objectiveChart(s),
  ].filter((c): c is Chart => c !== null);
}

/**
 * Adds a <title> child (the browser's tooltip) to every shape that has an aria-label, and
 * prefixes the SVG's ids so several charts can live in one HTML page.
 */
export function finishSvg(svg: string, idPrefix: string): string {
  let out = svg.replace(/<(path|rect|circle|ellipse|line|polygon|polyline)(\s(?:[^>]*?\s)?aria-label="([^"]*)"[^>]*?)\/>/g, '<$1$2><title>$3</title></$1>');
  if (idPrefix) {
    out = out.replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${idPrefix}${id}"`).replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${idPrefix}${id})`);
  }
  return out;
}

/** Advance widths (in em) of DejaVu Sans for the printable ASCII characters 32–126, read from the font. */
const DEJAVU_SANS_ADVANCE = [
  0.318, 0.401, 0.46, 0.838, 0.636, 0.95, 0.78, 0.275, 0.39, 0.39, 0.5, 0.838, 0.318, 0.361, 0.318, 0.337, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636, 0.636,
  0.636, 0.636, 0.337, 0.337, 0.838, 0.838, 0.838, 0.531, 1.0, 0.684, 0.686, 0.698, 0.77, 0.632, 0.575, 0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863, 0.748,
  0.787, 0.603, 0.787, 0.695, 0.635, 0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685, 0.39, 0.337, 0.39, 0.838, 0.5, 0.5, 0.613, 0.635, 0.55, 0.635, 0.615,
  0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974, 0.634, 0.612, 0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525, 0.636,
  0.337, 0.636, 0.838,
];

/**
 * Width of a text line in DejaVu Sans (bold about 10% wider; other characters 0.65 em).
 * Vega's own estimate without a canvas (0.8 em a character) is far too wide and leaves
 * charts with wide empty margins.
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    em += c >= 32 && c < 127 ? DEJAVU_SANS_ADVANCE[c - 32]! : 0.65;
  }
  return em * fontSize * (bold ? 1.1 : 1);
}

interface TextItem {
  text?: unknown;
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

/** Vega's hook for text measurement (`textMetrics.width`), as vl-convert uses it. */
function installTextMetrics(): void {
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text?: unknown) => number } }).textMetrics;
  metrics.width = (item, text) => {
    const value = text ?? item.text;
    const line = value == null ? '' : (Array.isArray(value) ? value.join(' ') : String(value)).trim();
    const weight = item.fontWeight;
    const bold = weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
    const w = textWidth(line, item.fontSize ?? 11, bold);
    return item.limit && item.limit > 0 ? Math.min(w, item.limit) : w;
  };
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string (headless, no canvas needed).
 * Vega and Vega-Lite warnings go to `warnings` (when given) instead of the console.
 */
export async function renderSvg(chart: TopLevelSpec, idPrefix = '', warnings?: string[]): Promise<string> {
  const logger = vega.logger(vega.Warn, undefined, (_method, level, args) => {
    warnings?.push(`${level} ${args.map(String).join(' ')}`);
  });
  installTextMetrics();
  const view = new vega.View(vega.parse(compile(chart, { logger }).spec), { renderer: 'none', logger });
  try {
    return finishSvg(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}

/** Width and height of an SVG string from its root element's attributes. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  const width = Number(/\swidth="([\d.]+)"/.exec(root)?.[1]);
  const height = Number(/\sheight="([\d.]+)"/.exec(root)?.[1]);
  return { width, height };
}

const DEJAVU = '/usr/share/fonts/truetype/dejavu';

/**
 * Rasterizes an SVG to PNG at `scale` times its size. Text uses the system fonts (DejaVu Sans
 * on Debian, package fonts-dejavu-core); without any font the text is left out, it does not
 * fail. `systemFonts: false` renders with no fonts at all.
 */
export async function svgToPng(svg: string, scale = 2, options: { systemFonts?: boolean } = {}): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const family = existsSync(`${DEJAVU}/DejaVuSans.ttf`) ? 'DejaVu Sans' : 'Arial';
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: options.systemFonts ?? true, defaultFontFamily: family, sansSerifFamily: family },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}
