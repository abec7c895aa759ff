/**
 * The report's charts: one Vega-Lite spec per chart, compiled and rendered to static SVG in
 * Node (no canvas, no browser), and to PNG with resvg for `--plots`.
 *
 * Every data mark that carries a value gets an SVG <title> with the exact numbers, so hovering
 * it in a browser shows them; the same text is its aria-label.
 */
import { existsSync } from 'node:fs';
import type { TopLevelSpec } from 'vega-lite';
import { CHECKS } from '../checks/registry.js';
import { COLORS, exact, spec, type Chart } from '../present/charts.js';
import { reportSections, type ReportSections } from '../present/sections.js';
import { layerwiseCharts } from '../studies/layerwise-report.js';

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

/** Every chart the report has data for, in page order: each check's (registry order), the layer-wise barriers', then the alignment's. */
export function reportCharts(report: object): Chart[] {
  const s = reportSections(report);
  return [...CHECKS.flatMap((check) => check.charts(s)), ...layerwiseCharts(s), objectiveChart(s)].filter((c): c is Chart => c !== null);
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
function installTextMetrics(vega: typeof import('vega')): void {
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
  // Loaded on the first chart only: Vega and Vega-Lite take about a second to import, which
  // every command without a report would otherwise pay at start-up.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const logger = vega.logger(vega.Warn, undefined, (_method, level, args) => {
    warnings?.push(`${level} ${args.map(String).join(' ')}`);
  });
  installTextMetrics(vega);
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
