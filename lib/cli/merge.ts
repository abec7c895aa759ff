/** `llfc merge M1 … Mn -o merged.onnx --method mean|mergemany|tree [--repair --data X]`: many models merged into one, optionally repaired. */
import { Command, Option } from 'commander';
import { merge } from '../api.js';
import { datasetFiles } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { optionDefault, OPTIONS, resolveOptions } from '../options.js';
import { checkOutputs as checkDeclaredOutputs } from '../outputs.js';
import { fixed, formatTable, percent } from '../present/text.js';
import { buildStudyReport, modelLabels, STUDY_PAGES, type StudyReport } from '../report/study.js';
import { MERGE_FILES_OPTIONS } from '../studies/merge-files.js';
import type { MergeMatch, MergeMethod } from '../studies/merge.js';
import { sibling } from './align.js';
import { addDataOptions, addRepairOptions, datasetOptionsFromFlags, repairOptionsFromFlags, repairSetFromFlags, type DataFlags, type RepairFlags } from './data-options.js';
import { dataSourceOf } from '../report/fields.js';
import { parseNumber } from './parse.js';
import { addReportOptions, checkOutputs, publishReport, withProgress, type ReportFlags } from './report-output.js';
import { parseInputShape } from './spec.js';

export interface MergeFlags extends DataFlags, ReportFlags, RepairFlags {
  output: string;
  safetensors?: string;
  method: MergeMethod;
  match?: MergeMatch;
  seed?: string;
  pad?: boolean;
  maxRounds?: string;
  maxSweeps?: string;
  inputShape?: string;
}

/** The printed summary: each model's weight and evaluation, the merge's, and how the search went. */
export function mergeText(report: StudyReport): string {
  const m = report.merge!;
  const labels = modelLabels(report.models);
  const e = m.evaluation;
  const rows = labels.map((label, i) => [label, fixed(m.weights[i]!, 4), ...(e ? [fixed(e.models[i]!.loss), percent(e.models[i]!.accuracy)] : [])]);
  if (e) rows.push(['merged', '1', fixed(e.merged.loss), percent(e.merged.accuracy)]);
  const course = m.rounds ? `${m.rounds.length} rounds, ${m.converged ? 'converged' : 'stopped at --max-rounds'}` : m.levels ? `${m.levels.length} levels` : 'no alignment';
  const r = m.repair;
  if (r?.merged) rows.push(['merged, repaired', '1', fixed(r.merged.loss), percent(r.merged.accuracy)]);
  const repair = r
    ? [
        `REPAIR of the merge: ${r.form === 'batchnorm' ? `BatchNorm statistics reset of ${r.layers.length} BatchNorm layers` : `${r.layers.length} hidden layers corrected, ε = ${r.epsilon}`}; statistics on ${r.statistics === 'repair' ? `the separate set ${r.source} (${r.samples} samples)` : `the first ${r.samples} samples of ${r.source}`}`,
      ]
    : [];
  return [
    `merge of ${report.models.length} models: ${m.method}, ${m.match} matching (${course})`,
    formatTable(['model', 'weight', ...(e ? ['loss', 'accuracy'] : [])], rows),
    `objective Σ_{i<j} ⟨π_i θ_i, π_j θ_j⟩ ${fixed(m.objective, 6)} (identities: ${fixed(m.initialObjective, 6)})`,
    ...repair,
    `${r ? 'repaired merged' : 'merged'} model written to ${m.outputs.onnx}; parameters (PyTorch names) to ${m.outputs.safetensors}`,
  ].join('\n');
}

export function mergeCommand(): Command {
  const command = new Command('merge')
    .description('merge many checkpoints of one architecture into one: the mean, MergeMany (Ainsworth et al.) or a binary tree (Franke et al.), units matched by weights or activations; writes ONNX and safetensors')
    .argument('<models...>', 'the checkpoints (ONNX); the merge keeps the first one’s graph and names')
    .addOption(new Option('--method <method>', 'mean, MergeMany, or the hierarchical binary tree').choices(OPTIONS.mergeMethod.values).makeOptionMandatory())
    .requiredOption('-o, --output <file>', 'the merged model as ONNX')
    .option('--safetensors <file>', 'the merged parameters under PyTorch names (default: <output>.safetensors)')
    .addOption(new Option('--match <kind>', `match units by weights or by activations on --data (default ${optionDefault('match')})`).choices(OPTIONS.match.values))
    .option('--seed <n>', `seed of the model and group orders (default ${optionDefault('seed')})`)
    .option('--pad', 'tree: allow a count that is not a power of two (a level’s odd model is carried up)')
    .option('--max-rounds <n>', `MergeMany: at most this many rounds (default ${optionDefault('maxRounds')})`)
    .option('--max-sweeps <n>', `weight matching: at most this many sweeps per matching (default ${optionDefault('maxSweeps')})`)
    .option('--input-shape <dims>', 'input shape to probe the graph with, batch included')
    .option('--repair', 'repair the merge (REPAIR, Jordan et al. 2023, for N models): its hidden layers’ statistics corrected to the weighted mean of the permuted models’, measured on --data; the files written are the repaired model');
  addRepairOptions(command);
  addDataOptions(command);
  addReportOptions(command);
  return command.action(async (models: string[], flags: MergeFlags) => {
    const options = resolveOptions('llfc merge', MERGE_FILES_OPTIONS, {
      ...repairOptionsFromFlags(flags),
      method: flags.method,
      match: flags.match,
      seed: parseNumber(flags.seed, '--seed'),
      pad: flags.pad,
      maxRounds: parseNumber(flags.maxRounds, '--max-rounds'),
      maxSweeps: parseNumber(flags.maxSweeps, '--max-sweeps'),
      batchSize: parseNumber(flags.batchSize, '--batch-size'),
      inputShape: parseInputShape(flags.inputShape),
    });
    const hasData = flags.data !== undefined || flags.input !== undefined || flags.tokens !== undefined;
    if (options.match === 'activation' && options.method !== 'mean' && !hasData) throw new InvalidArgumentError('--match activation needs data: give the inputs the models run on (--data)');
    if (options.repair && !hasData) throw new InvalidArgumentError('--repair measures the merged model’s statistics on data: give --data (the inputs; --repair-data for a separate statistics set)');
    const data = hasData ? datasetOptionsFromFlags(flags) : undefined;
    const repairSet = data ? repairSetFromFlags(flags, data) : undefined;
    const safetensors = flags.safetensors ?? sibling(flags.output, 'safetensors');
    const inputs = [...models, ...(data ? datasetFiles(data) : []), ...(repairSet ? datasetFiles(repairSet) : [])];
    // Checked here with every output, so that messages name the options and two outputs cannot be one file.
    await checkDeclaredOutputs(
      [
        { path: flags.output, label: '--output' },
        { path: safetensors, label: '--safetensors' },
        ...(flags.out !== undefined ? [{ path: flags.out, label: '--out' }] : []),
        ...(flags.html !== undefined ? [{ path: flags.html, label: '--html' }] : []),
        ...(flags.plots !== undefined ? [{ path: flags.plots, label: '--plots', directory: true }] : []),
      ],
      inputs,
    );
    const reportPlan = await checkOutputs(flags, inputs);
    const settings = options;
    const result = await withProgress(flags, (control) => merge({ models, ...(data ? { data } : {}), ...(repairSet ? { repairSet } : {}), outputs: { onnx: flags.output, safetensors } }, { ...settings, ...control }));
    const report = buildStudyReport({
      kind: 'merge',
      models,
      data: data && result.report.evaluation ? { source: dataSourceOf(data), samples: result.report.evaluation.samples, labels: true } : null,
      settings,
      merge: { ...result.report, outputs: { onnx: flags.output, safetensors } },
    });
    await publishReport(report, flags, reportPlan, () => mergeText(report), STUDY_PAGES);
  });
}
