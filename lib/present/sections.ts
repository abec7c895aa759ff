/** What a report holds, as the renderers read it: the naive results and the aligned ones. */
import type { AlignedAnalysis, CalibrationResult, RepairResult, CommutativityReport, LayerReport, LayerwiseResult, LmcResult } from '../results.js';

/** The parts of a report the charts and the HTML page read; each may be missing. */
export interface ReportSections {
  readonly lmc: LmcResult | null;
  /** α values of the per-layer checks (the report's layerAlphas, else from the layers' points). */
  readonly alphas: number[];
  readonly layers: readonly LayerReport[];
  readonly commutativity: readonly CommutativityReport[];
  readonly aligned: AlignedAnalysis | null;
  /** `analyze --align` with several methods: the alignments after the first. */
  readonly alsoAligned: readonly AlignedAnalysis[];
  /** `llfc layerwise` only. */
  readonly layerwise: LayerwiseResult | null;
  /** `--calibrate` only. */
  readonly calibration: CalibrationResult | null;
  /** `--repair` only. */
  readonly repair: RepairResult | null;
}

/**
 * Reads the result sections of a report. `lmc` may be null (no labels), and `layers`,
 * `commutativity` and `aligned` are only there when `llfc analyze` produced the report.
 */
export function reportSections(report: object): ReportSections {
  const r = report as { lmc?: LmcResult | null; layerAlphas?: number[]; alphas?: number[]; layers?: LayerReport[]; commutativity?: CommutativityReport[]; aligned?: AlignedAnalysis | null; alsoAligned?: AlignedAnalysis[]; layerwise?: LayerwiseResult; calibration?: CalibrationResult; repair?: RepairResult };
  const layers = Array.isArray(r.layers) ? r.layers : [];
  return {
    lmc: r.lmc ?? null,
    alphas: Array.isArray(r.layerAlphas) ? r.layerAlphas : Array.isArray(r.alphas) ? r.alphas : layerAlphas(layers),
    layers,
    commutativity: Array.isArray(r.commutativity) ? r.commutativity : [],
    aligned: r.aligned ?? null,
    alsoAligned: Array.isArray(r.alsoAligned) ? r.alsoAligned : [],
    layerwise: r.layerwise ?? null,
    calibration: r.calibration ?? null,
    repair: r.repair ?? null,
  };
}

/** The sorted distinct α values of the layers' LLFC points. */
export function layerAlphas(layers: readonly LayerReport[]): number[] {
  return [...new Set(layers.flatMap((l) => l.llfc.map((p) => p.alpha)))].sort((x, y) => x - y);
}

/** The α closest to ½ among `alphas` (null when there are none). */
export function alphaNearestHalf(alphas: readonly number[]): number | null {
  let best: number | null = null;
  for (const a of alphas) if (best === null || Math.abs(a - 0.5) < Math.abs(best - 0.5)) best = a;
  return best;
}

/**
 * Display names of layers: the PyTorch module path when the node name gives one, else the
 * ONNX tensor name; a module shared by several tapped tensors gets the tensor name added.
 */
export function layerLabels(layers: readonly { name: string; module: string | null }[]): string[] {
  const count = new Map<string, number>();
  for (const l of layers) if (l.module) count.set(l.module, (count.get(l.module) ?? 0) + 1);
  const labels = layers.map((l) => (l.module && count.get(l.module) === 1 ? l.module : l.module ? `${l.module} · ${l.name}` : l.name));
  // Still-equal labels (the same tensor twice) are numbered so rows never merge.
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label} #${n}`;
  });
}

/** The name shown for a linear layer: module path, else the weight's name, else the node. */
export function linearLabels(rows: readonly CommutativityReport[]): string[] {
  return layerLabels(rows.map((c) => ({ name: c.weight || c.node, module: c.module })));
}
