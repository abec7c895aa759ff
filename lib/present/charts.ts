/**
 * Vega-Lite chart specs of the report: the shared look, heatmaps and grouped bars. Pure data
 * (rendering to SVG/PNG is lib/report/charts.ts).
 */
import type { TopLevelSpec } from 'vega-lite';
import { layerLabels } from './sections.js';

export const NAIVE = 'naive';
export const ALIGNED = 'aligned';

export const COLORS = {
  naive: '#e8730c',
  naiveLight: '#f9c48f',
  aligned: '#2f6db5',
  alignedLight: '#a8c8ee',
  distCom: '#2f6db5',
  distW: '#b0689a',
  distH: '#3f9e8f',
} as const;

/** Fonts: DejaVu Sans first (what Debian has for PNG rendering), then common UI fonts. */
export const CHART_FONT = "'DejaVu Sans', 'Segoe UI', 'Helvetica Neue', Helvetica, Arial, sans-serif";

export const config = {
  font: CHART_FONT,
  background: 'white',
  padding: 10,
  view: { stroke: '#e3e6ea' },
  title: { fontSize: 14, fontWeight: 600, anchor: 'start', color: '#1f2328', offset: 10, subtitleColor: '#59636e', subtitleFontSize: 11 },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 500,
    labelColor: '#3d444d',
    titleColor: '#1f2328',
    gridColor: '#eef0f3',
    domainColor: '#9aa0a6',
    tickColor: '#9aa0a6',
    labelLimit: 260,
  },
  legend: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 500, orient: 'top', direction: 'horizontal', labelLimit: 280 },
  header: { labelFontSize: 12, labelFontWeight: 600 },
};

/** One chart: a stable id (file name of `--plots`), its title, and its Vega-Lite spec. */
export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
}

/** Exact number for tooltips (shortest round-trip form). */
export const exact = (x: number): string => String(x);
export const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
/** α as a short label ("0.25"), exact when 3 decimals would not say it. */
export const alphaText = (a: number): string => {
  const short = Number(a.toFixed(3));
  return Math.abs(short - a) < 1e-12 ? String(short) : exact(a);
};

export function spec(body: Record<string, unknown>): TopLevelSpec {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config, ...body } as unknown as TopLevelSpec;
}

export interface HeatCell {
  label: string;
  alpha: string;
  value: number;
  tip: string;
  text: string;
}

/** Rows `labels` × columns `alphas` (α by default; `xTitle` names other columns). */
export function heatmap(id: string, title: string, subtitle: string, labels: string[], alphas: string[], cells: HeatCell[], color: Record<string, unknown>, darkText: string, xTitle = 'α'): Chart {
  const cellWidth = Math.max(44, Math.min(64, Math.floor(300 / Math.max(1, alphas.length))));
  return {
    id,
    title,
    spec: spec({
      title: { text: title, subtitle },
      data: { values: cells },
      width: cellWidth * alphas.length,
      height: 24 * labels.length,
      encoding: {
        x: { field: 'alpha', type: 'ordinal', sort: alphas, title: xTitle, axis: { labelAngle: 0, orient: 'top', domain: false, ticks: false } },
        y: { field: 'label', type: 'nominal', sort: labels, title: null, axis: { domain: false, ticks: false } },
      },
      layer: [
        { name: `${id.replace(/[^a-z0-9]/gi, '_')}_cells`, mark: { type: 'rect', stroke: 'white', strokeWidth: 1.5 }, encoding: { color: { ...color, field: 'value', type: 'quantitative' }, description: { field: 'tip' } } },
        {
          mark: { type: 'text', fontSize: 10.5, aria: false },
          encoding: { text: { field: 'text' }, color: { condition: { test: darkText, value: 'white' }, value: '#1f2328' } },
        },
      ],
    }),
  };
}

/** Cell text: 3 decimals; rounding noise such as −2e−17 shows as 0.000 (the tooltip has the exact value). */
export const heatText = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) < 0.0005 ? '0.000' : x.toFixed(3)) : String(x));

export interface BarRow {
  label: string;
  series: string;
  value: number;
  tip: string;
}

export function groupedBars(id: string, title: string, subtitle: string, labels: string[], series: { name: string; color: string }[], rows: BarRow[], xTitle: string, xMax?: number): Chart {
  const names = series.map((s) => s.name);
  return {
    id,
    title,
    spec: spec({
      name: id.replace(/[^a-z0-9]/gi, '_'),
      title: { text: title, subtitle },
      data: { values: rows },
      width: 400,
      // With yOffset the step is one bar's band.
      height: { step: names.length > 3 ? 9 : 11 },
      mark: { type: 'bar', cornerRadiusEnd: 2 },
      encoding: {
        y: { field: 'label', type: 'nominal', sort: labels, title: null, axis: { ticks: false, domainColor: '#c8ccd1' } },
        yOffset: { field: 'series', type: 'nominal', sort: names, scale: { paddingInner: 0.08 } },
        x: { field: 'value', type: 'quantitative', title: xTitle, scale: xMax !== undefined && xMax > 0 ? { domain: [0, xMax], nice: true } : { zero: true } },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: series.map((s) => s.color) }, legend: { columns: names.length > 3 ? 2 : names.length, columnPadding: 18 } },
        description: { field: 'tip' },
      },
    }),
  };
}

/** A point of a per-layer distance at one α (LLFC, weak additivity). */
interface DistancePoint {
  readonly alpha: number;
  readonly distance: number;
  readonly distanceStd?: number;
}

/**
 * A per-layer distance at α next to its baseline, for the naive layers and the aligned ones when
 * given (aligned layers matched to the naive rows by tensor name, else by position). `names`:
 * the distance, its series beside an aligned one, and the baseline.
 */
export function distanceBars<L extends { name: string; module: string | null }>(
  chart: { readonly id: string; readonly title: string; readonly subtitle: string },
  runs: readonly { readonly which: string; readonly layers: readonly L[] }[],
  alpha: number,
  names: { readonly distance: string; readonly series: string; readonly baseline: string },
  points: (layer: L) => readonly DistancePoint[],
  baseline: (layer: L) => number | undefined,
): Chart {
  const first = runs[0]!.layers;
  const labels = layerLabels(first);
  const many = runs.length > 1;
  const series: { name: string; color: string }[] = [];
  const rows: BarRow[] = [];
  for (const { which, layers } of runs) {
    const dist = many ? `${names.series} (${which})` : names.distance;
    const base = many ? `baseline (${which})` : names.baseline;
    series.push({ name: dist, color: which === NAIVE ? COLORS.naive : COLORS.aligned }, { name: base, color: which === NAIVE ? COLORS.naiveLight : COLORS.alignedLight });
    const ownLabels = layerLabels(layers);
    layers.forEach((layer, i) => {
      const row = first.findIndex((l) => l.name === layer.name);
      const label = labels[row >= 0 ? row : i] ?? ownLabels[i]!;
      const p = points(layer).find((q) => q.alpha === alpha);
      const std = p?.distanceStd !== undefined ? ` ± ${exact(p.distanceStd)}` : '';
      if (p) rows.push({ label, series: dist, value: p.distance, tip: `${label} · ${which} · α = ${exact(alpha)} · ${names.distance} ${exact(p.distance)}${std}` });
      const b = baseline(layer);
      if (b !== undefined) rows.push({ label, series: base, value: b, tip: `${label} · ${which} · ${names.baseline} ${exact(b)}` });
    });
  }
  return groupedBars(chart.id, chart.title, chart.subtitle, labels, series, rows, 'cosine distance');
}
