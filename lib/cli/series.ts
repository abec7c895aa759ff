/** `llfc series CKPT… --data X --labels Y`: the pairwise barrier matrix and the instability curve. */
import { Command } from 'commander';
import { series } from '../api.js';
import { datasetFiles } from '../dataset/index.js';
import { resolveOptions } from '../options.js';
import { fixed, formatTable, percent } from '../present/text.js';
import { buildStudyReport, modelLabels, STUDY_PAGES, type StudyReport } from '../report/study.js';
import { SERIES_OPTIONS } from '../studies/series.js';
import { addDataOptions, datasetOptionsFromFlags, type DataFlags } from './data-options.js';
import { dataSourceOf } from '../report/fields.js';
import { alphasFromFlags } from './lmc.js';
import { parseNumber } from './parse.js';
import { addReportOptions, checkOutputs, publishReport, withProgress, type ReportFlags } from './report-output.js';

export interface SeriesFlags extends DataFlags, ReportFlags {
  manifest?: string;
  steps?: string;
  alphas?: string;
}

/** The printed matrix of loss barriers and the instability curve. */
export function seriesText(report: StudyReport): string {
  const s = report.series!;
  const labels = modelLabels(s.models);
  const index = labels.map((_, i) => String(i));
  const matrix = formatTable(['', ...index], s.matrix.loss.map((row, i) => [index[i]!, ...row.map((v) => fixed(v, 4))]));
  const models = formatTable(['#', 'checkpoint', 'step', 'loss', 'accuracy'], labels.map((l, i) => [index[i]!, l, s.steps[i] === null ? '—' : String(s.steps[i]), fixed(s.endpoints[i]!.loss), percent(s.endpoints[i]!.accuracy)]));
  const instability =
    s.instability.length > 0
      ? formatTable(['split step k', 'pairs', 'loss barrier', 'accuracy barrier'], s.instability.map((p) => [String(p.step), String(p.pairs.length), fixed(p.meanLoss, 4), percent(p.meanAccuracy)]))
      : 'no instability curve: no two checkpoints share a split step (…_k500_… in the names, or --manifest)';
  return [`series of ${s.models.length} checkpoints on ${s.samples} samples`, models, 'loss barrier of every pair', matrix, 'instability (mean over the pairs of each split step)', instability].join('\n');
}

export function seriesCommand(): Command {
  const command = new Command('series')
    .description('the LMC barrier of every pair of checkpoints (a matrix) and, for spawned children, the barrier against the split step (the instability curve)')
    .argument('<models...>', 'the checkpoints (ONNX), one architecture')
    .option('--manifest <file>', 'split steps: JSON {"children": [{"file": …, "step": k}, …]} (default: from the file names, …_k500_…)')
    .option('--steps <n>', 'an even α grid of n points from 0 to 1 (default 11)')
    .option('--alphas <list>', 'explicit α values, comma separated (must hold 0 and 1)');
  addDataOptions(command);
  addReportOptions(command);
  return command.action(async (models: string[], flags: SeriesFlags) => {
    const options = resolveOptions('llfc series', SERIES_OPTIONS, { alphas: alphasFromFlags(flags), batchSize: parseNumber(flags.batchSize, '--batch-size') });
    const data = datasetOptionsFromFlags(flags);
    const outputs = await checkOutputs(flags, [...models, ...datasetFiles(data), ...(flags.manifest ? [flags.manifest] : [])]);
    const result = await withProgress(flags, (control) => series({ models, data, ...(flags.manifest ? { manifest: flags.manifest } : {}) }, { ...options, ...control }));
    const report = buildStudyReport({
      kind: 'series',
      models,
      data: { source: dataSourceOf(data), samples: result.samples, labels: true },
      settings: { alphas: options.alphas, batchSize: options.batchSize, ...(flags.manifest ? { manifest: flags.manifest } : {}) },
      series: result,
    });
    await publishReport(report, flags, outputs, () => seriesText(report), STUDY_PAGES);
  });
}
