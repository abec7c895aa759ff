/** The dataset options shared by commands that read data. */
import type { Command } from 'commander';
import type { OpenDatasetOptions } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { optionDefault } from '../options.js';
import { parseNumber, parseNumberList } from './parse.js';

export interface DataFlags {
  data: string[];
  labels?: string;
  dataKey?: string;
  labelsKey?: string;
  mean?: string;
  std?: string;
  limit?: string;
  batchSize?: string;
  allowNonfinite?: boolean;
}

export function addDataOptions(command: Command): Command {
  return command
    .requiredOption('--data <files...>', 'inputs: .npy, .npz, IDX (.gz) or CIFAR-10 .bin batches, as the model takes them (e.g. N×1×28×28)')
    .option('--labels <file>', 'integer labels: .npy, .npz or IDX (.gz)')
    .option('--data-key <name>', 'array name inside an .npz data file')
    .option('--labels-key <name>', 'array name of the labels inside an .npz file')
    .option('--mean <values>', 'normalize: per-channel mean, comma separated (after uint8 → x/255)')
    .option('--std <values>', 'normalize: per-channel std, comma separated')
    .option('--limit <n>', 'use only the first n samples')
    .option('--allow-nonfinite', 'measure even when the data holds NaN or ±Inf (by default an error naming the sample)')
    .option('--batch-size <n>', `samples per onnxruntime run (default ${optionDefault('batchSize')})`);
}

/** The dataset options the flags describe (the dataset is opened where the work runs). */
export function datasetOptionsFromFlags(flags: DataFlags): OpenDatasetOptions {
  if ((flags.mean === undefined) !== (flags.std === undefined)) throw new InvalidArgumentError('--mean and --std go together');
  return {
    data: flags.data.length === 1 ? flags.data[0]! : flags.data,
    ...(flags.labels !== undefined ? { labels: flags.labels } : {}),
    ...(flags.dataKey !== undefined ? { key: flags.dataKey } : {}),
    ...(flags.labelsKey !== undefined ? { labelsKey: flags.labelsKey } : {}),
    ...(flags.mean !== undefined && flags.std !== undefined
      ? { normalize: { mean: parseNumberList(flags.mean, '--mean'), std: parseNumberList(flags.std, '--std') } }
      : {}),
    ...(flags.limit !== undefined ? { limit: parseNumber(flags.limit, '--limit') } : {}),
    ...(flags.allowNonfinite ? { allowNonfinite: true } : {}),
  };
}

/** Every input file the flags name (never to be overwritten by an output). */
export function dataInputs(flags: DataFlags): string[] {
  return [...flags.data, ...(flags.labels ? [flags.labels] : [])];
}
