/** The dataset options shared by commands that read data. */
import { Option, type Command } from 'commander';
import type { OpenDatasetOptions } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';

export interface DataFlags {
  data: string[];
  labels?: string;
  dataKey?: string;
  labelsKey?: string;
  mean?: string;
  std?: string;
  limit?: string;
  batchSize: string;
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
    .addOption(new Option('--batch-size <n>', 'samples per onnxruntime run').default('256'));
}

export function parseNumberList(text: string, what: string): number[] {
  const values = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new InvalidArgumentError(`${what}: '${text}' is not a comma-separated list of numbers`);
  return values;
}

export function parsePositiveInteger(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got '${text}'`);
  return n;
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
    ...(flags.limit !== undefined ? { limit: parsePositiveInteger(flags.limit, '--limit') } : {}),
  };
}

/** Every input file the flags name (never to be overwritten by an output). */
export function dataInputs(flags: DataFlags): string[] {
  return [...flags.data, ...(flags.labels ? [flags.labels] : [])];
}
