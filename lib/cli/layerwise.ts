/** `llfc layerwise A.onnx B.onnx --data X --labels Y`: layer-wise and cumulative barriers. */
import { Command, Option } from 'commander';
import { layerwise } from '../api.js';
import { datasetFiles } from '../dataset/index.js';
import { warnings } from '../folded-batchnorm.js';
import { optionDefault, OPTIONS, resolveOptions } from '../options.js';
import { LAYERWISE_OPTIONS } from '../studies/layerwise.js';
import { layerwiseText } from '../studies/layerwise-report.js';
import { addDataOptions, datasetOptionsFromFlags, type DataFlags } from './data-options.js';
import { dataSourceOf } from '../report/fields.js';
import { parseList, parseNumber } from './parse.js';
import { addReportOptions, checkOutputs, feedOption, finishReport, withProgress, type ReportFlags } from './report-output.js';
import type { ParameterFeed } from '../session.js';

export interface LayerwiseFlags extends DataFlags, ReportFlags {
  groupBy?: 'layer' | 'module';
  modules?: string;
  draws?: string;
  seed?: string;
  feed?: ParameterFeed;
}

export async function runLayerwise(a: string, b: string, flags: LayerwiseFlags): Promise<void> {
  const options = resolveOptions('llfc layerwise', LAYERWISE_OPTIONS, {
    groupBy: flags.groupBy,
    modules: flags.modules !== undefined ? parseList(flags.modules, '--modules') : undefined,
    draws: parseNumber(flags.draws, '--draws'),
    seed: parseNumber(flags.seed, '--seed'),
    batchSize: parseNumber(flags.batchSize, '--batch-size'),
    feed: flags.feed,
  });
  const data = datasetOptionsFromFlags(flags);
  const outputs = await checkOutputs(flags, [a, b, ...datasetFiles(data)]);
  const { foldedBatchNorm, ...result } = await withProgress(flags, (control) => layerwise({ a, b, data }, { ...options, ...control }));
  const source = dataSourceOf(data);
  await finishReport(
    {
      models: { a, b },
      data: { source, samples: result.samples, labels: true },
      settings: { batchSize: options.batchSize, feed: options.feed, groupBy: result.groupBy, ...(options.modules ? { modules: options.modules } : {}), draws: options.draws, seed: options.seed },
      lmc: null,
      layerwise: result,
      ...(foldedBatchNorm ? { foldedBatchNorm } : {}),
    },
    flags,
    outputs,
    () => [`Layer-wise barriers of ${a} (A) and ${b} (B) on ${result.samples} samples of ${source}`, ...warnings(a, { foldedBatchNorm }), layerwiseText(result)].join('\n'),
  );
}

export function layerwiseCommand(): Command {
  const command = new Command('layerwise')
    .description('layer-wise barriers (one layer at α = ½, the rest from A or from B) and cumulative barriers shallow → deep, deep → shallow and in random orders')
    .argument('<a>', 'checkpoint A (ONNX)')
    .argument('<b>', 'checkpoint B (ONNX)')
    .addOption(new Option('--group-by <what>', `a group: the tensors of one layer, or of one top-level module (default ${optionDefault('groupBy')})`).choices(OPTIONS.groupBy.values))
    .option('--modules <prefixes>', 'groups by module prefix, comma separated (layer1,layer2: every layer1.* tensor is one group); other tensors stay from the base')
    .option('--draws <n>', `random orders of the cumulative barriers (default ${optionDefault('draws')})`)
    .option('--seed <n>', `seed of the random orders (default ${optionDefault('seed')})`)
    .addOption(feedOption());
  addDataOptions(command);
  addReportOptions(command);
  return command.action(async (a: string, b: string, flags: LayerwiseFlags) => runLayerwise(a, b, flags));
}
