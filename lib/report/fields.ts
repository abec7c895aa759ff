/**
 * The report fields of an `lmc` and an `analyze` run, from the result and the settings: one
 * builder each, used by the single run and by the reduction of a sharded one (lib/shard/), so
 * both write the same report.
 */
import type { AnalyzeOptions } from '../checks/analyze.js';
import { CHECKS } from '../checks/registry.js';
import type { OpenDatasetOptions } from '../dataset/index.js';
import type { CheckpointNotes } from '../folded-batchnorm.js';
import { optionDefault } from '../options.js';
import type { CalibratedLmcResult } from '../checks/lmc.js';
import type { AlignedAnalysis, LmcResult, PairAnalysis } from '../results.js';
import type { buildReport } from './json.js';

export type ReportFields = Parameters<typeof buildReport>[0];

/** The data files as the report names them. */
export function dataSourceOf(data: OpenDatasetOptions): string {
  if (data.tokens !== undefined) return data.tokens;
  if (data.inputs !== undefined) return Object.entries(data.inputs).map(([name, file]) => `${name}=${file}`).join(', ');
  return (Array.isArray(data.data) ? data.data : data.data !== undefined ? [data.data] : []).join(', ');
}

/** The settings an `lmc` report lists. */
export const lmcSettings = (options: { readonly batchSize: number; readonly feed: string; readonly calibrate?: boolean; readonly repair?: boolean; readonly repairSamples?: number }) => ({
  batchSize: options.batchSize,
  feed: options.feed,
  ...(options.calibrate ? { calibrate: true } : {}),
  ...(options.repair ? { repair: true, repairSamples: options.repairSamples } : {}),
});

/** The settings an `analyze` report lists: the layer selection, the alignment, and the checks that are off by default when switched on. */
/** `align`: the method, or the methods comma separated. */
export function analyzeSettings(options: AnalyzeOptions & { readonly batchSize: number }, align?: string): Record<string, unknown> {
  const switchable = CHECKS.flatMap((c) => ('option' in c ? [c.option.name] : []));
  return {
    batchSize: options.batchSize,
    feed: 'initializers',
    layers: options.layers?.join(',') ?? 'default',
    ...(align ? { align } : {}),
    ...Object.fromEntries(switchable.flatMap((name) => (!optionDefault(name) && options[name] ? [[name, true]] : []))),
    ...(options.repair ? { repairSamples: options.repairSamples ?? optionDefault('repairSamples') } : {}),
  };
}

/** What the report says besides the results: the files compared, the data, the settings. */
export interface RunDescription {
  readonly a: string;
  readonly b: string;
  readonly source: string;
  readonly settings: Record<string, unknown>;
}

/** `calibration`: the temperature-calibrated curve of `--calibrate` (single runs only: a sharded run refuses it). */
export function lmcReportFields(run: RunDescription, lmc: LmcResult, notes: CheckpointNotes, calibration?: CalibratedLmcResult['calibration'], repair?: CalibratedLmcResult['repair']): ReportFields {
  return {
    models: { a: run.a, b: run.b },
    data: { source: run.source, samples: lmc.samples, labels: true },
    settings: run.settings as ReportFields['settings'],
    lmc,
    ...(calibration ? { calibration } : {}),
    ...(repair ? { repair } : {}),
    ...(notes.foldedBatchNorm ? { foldedBatchNorm: notes.foldedBatchNorm } : {}),
  };
}

export function analysisReportFields(run: RunDescription, analysis: PairAnalysis, notes: CheckpointNotes, aligned?: AlignedAnalysis, alsoAligned?: AlignedAnalysis[]): ReportFields {
  const { lmc, alphas, samples: _, ...perLayer } = analysis;
  return {
    models: { a: run.a, b: run.b },
    data: { source: run.source, samples: analysis.samples, labels: analysis.lmc !== null },
    settings: run.settings as ReportFields['settings'],
    lmc,
    layerAlphas: alphas,
    ...perLayer,
    ...(aligned ? { aligned } : {}),
    ...(alsoAligned ? { alsoAligned } : {}),
    ...(notes.foldedBatchNorm ? { foldedBatchNorm: notes.foldedBatchNorm } : {}),
  };
}
