/** The dataset options shared by commands that read data. */
import { Option, type Command } from 'commander';
import type { OpenDatasetOptions } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { OPTIONS, optionDefault } from '../options.js';
import type { TokenDTypeName } from '../dataset/dtype.js';
import { parseNumber, parseNumberList } from './parse.js';

export interface DataFlags {
  data?: string[];
  input?: string[];
  tokens?: string;
  dtype?: TokenDTypeName;
  context?: string;
  labels?: string;
  ignoreIndex?: string;
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
    .option('--data <files...>', 'inputs: .npy, .npz, IDX (.gz) or CIFAR-10 .bin batches, as the model takes them (e.g. N×1×28×28); integer .npy/.npz (int64, int32, uint16) N×T are token ids')
    .option('--input <name=file...>', 'one model input by name (repeat for each: --input input_ids=ids.npy --input attention_mask=mask.npy); .npz archives are read at the array of that name')
    .option('--tokens <file>', 'a flat token file as LM training code writes it (e.g. val.bin): windows of --context + 1 tokens, inputs and next-token labels')
    .addOption(new Option('--dtype <type>', 'element type of the --tokens file').choices(OPTIONS.tokenDType.values))
    .option('--context <T>', 'tokens per sample of the --tokens file')
    .option('--labels <file>', "integer labels: .npy, .npz or IDX (.gz); N×T token labels for token data; 'next-token': the token inputs shifted by one")
    .option('--ignore-index <n>', `token label left out of the loss and accuracy (default ${optionDefault('ignoreIndex')})`)
    .option('--data-key <name>', 'array name inside an .npz data file')
    .option('--labels-key <name>', 'array name of the labels inside an .npz file')
    .option('--mean <values>', 'normalize: per-channel mean, comma separated (after uint8 → x/255)')
    .option('--std <values>', 'normalize: per-channel std, comma separated')
    .option('--limit <n>', 'use only the first n samples (windows of a --tokens file)')
    .option('--allow-nonfinite', 'measure even when the data holds NaN or ±Inf (by default an error naming the sample)')
    .option('--batch-size <n>', `samples per onnxruntime run (default ${optionDefault('batchSize')})`);
}

/** The dataset options the flags describe (the dataset is opened where the work runs). */
export function datasetOptionsFromFlags(flags: DataFlags): OpenDatasetOptions {
  const given = [flags.data, flags.input, flags.tokens].filter((f) => f !== undefined).length;
  if (given !== 1) throw new InvalidArgumentError('give the data: --data, --input name=file or --tokens (one of them)');
  if ((flags.mean === undefined) !== (flags.std === undefined)) throw new InvalidArgumentError('--mean and --std go together');
  return {
    ...(flags.data !== undefined ? { data: flags.data.length === 1 ? flags.data[0]! : flags.data } : {}),
    ...(flags.input !== undefined ? { inputs: namedInputs(flags.input) } : {}),
    ...(flags.tokens !== undefined ? { tokens: flags.tokens } : {}),
    ...(flags.dtype !== undefined ? { dtype: flags.dtype } : {}),
    ...(flags.context !== undefined ? { context: parseNumber(flags.context, '--context') } : {}),
    ...(flags.labels !== undefined ? { labels: flags.labels } : {}),
    ...(flags.ignoreIndex !== undefined ? { ignoreIndex: parseNumber(flags.ignoreIndex, '--ignore-index') } : {}),
    ...(flags.dataKey !== undefined ? { key: flags.dataKey } : {}),
    ...(flags.labelsKey !== undefined ? { labelsKey: flags.labelsKey } : {}),
    ...(flags.mean !== undefined && flags.std !== undefined
      ? { normalize: { mean: parseNumberList(flags.mean, '--mean'), std: parseNumberList(flags.std, '--std') } }
      : {}),
    ...(flags.limit !== undefined ? { limit: parseNumber(flags.limit, '--limit') } : {}),
    ...(flags.allowNonfinite ? { allowNonfinite: true } : {}),
  };
}

/** `--input name=file` flags as a map from input name to file; a name given twice is an error. */
function namedInputs(items: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0 || at === item.length - 1) throw new InvalidArgumentError(`--input: '${item}' is not name=file`);
    const name = item.slice(0, at);
    if (name in inputs) throw new InvalidArgumentError(`--input: '${name}' is given twice`);
    inputs[name] = item.slice(at + 1);
  }
  return inputs;
}

/** The calibration-set flags of `lmc` and `analyze`. */
export interface CalibrationFlags {
  calibrate?: boolean;
  calibrationData?: string[];
  calibrationLabels?: string;
}

export function addCalibrationOptions(command: Command): Command {
  return command
    .option('--calibration-data <files...>', 'with --calibrate: fit the temperatures on this separate set (as --data; same --mean/--std) instead of on the data the loss is reported on')
    .option('--calibration-labels <file>', 'labels of the --calibration-data set');
}

/**
 * The calibration set the flags describe: the data's reading options (normalization, keys) with
 * its own files and no --limit; undefined without --calibration-data.
 */
export function calibrationFromFlags(flags: DataFlags & CalibrationFlags, data: OpenDatasetOptions): OpenDatasetOptions | undefined {
  if (flags.calibrationData === undefined) {
    if (flags.calibrationLabels !== undefined) throw new InvalidArgumentError('--calibration-labels needs --calibration-data');
    return undefined;
  }
  if (!flags.calibrate) throw new InvalidArgumentError('--calibration-data fits the temperatures of --calibrate; give --calibrate too');
  if (flags.calibrationLabels === undefined) throw new InvalidArgumentError('--calibration-data needs --calibration-labels');
  if (data.data === undefined) throw new InvalidArgumentError('--calibration-data goes with --data (not --input or --tokens)');
  const { limit: _, ...reading } = data;
  const files = flags.calibrationData;
  return { ...reading, data: files.length === 1 ? files[0]! : files, labels: flags.calibrationLabels };
}

/** REPAIR's flags of `lmc`, `analyze` and `interpolate` (--repair itself is each command's). */
export interface RepairFlags {
  repair?: boolean;
  repairSamples?: string;
  repairData?: string[];
}

export function addRepairOptions(command: Command): Command {
  return command
    .option('--repair-samples <n>', `with --repair: samples of the statistics set REPAIR measures on (default ${optionDefault('repairSamples')}; the first ones)`)
    .option('--repair-data <files...>', 'with --repair: measure the statistics on this separate set (as --data; same --mean/--std; no labels needed) instead of the first samples of the data');
}

/** The REPAIR options the flags give (repairSamples parsed; validated where the work starts). */
export function repairOptionsFromFlags(flags: RepairFlags): { repair?: boolean; repairSamples?: number } {
  if (!flags.repair && (flags.repairSamples !== undefined || flags.repairData !== undefined)) throw new InvalidArgumentError(`${flags.repairSamples !== undefined ? '--repair-samples' : '--repair-data'} sets up REPAIR; give --repair too`);
  return { ...(flags.repair ? { repair: true } : {}), ...(flags.repairSamples !== undefined ? { repairSamples: parseNumber(flags.repairSamples, '--repair-samples') } : {}) };
}

/** REPAIR's separate statistics set the flags describe: the data's reading options with its own files, no labels and no --limit; undefined without --repair-data. */
export function repairSetFromFlags(flags: RepairFlags, data: OpenDatasetOptions): OpenDatasetOptions | undefined {
  if (flags.repairData === undefined) return undefined;
  if (data.data === undefined) throw new InvalidArgumentError('--repair-data goes with --data (not --input or --tokens)');
  const { limit: _, labels: __, labelsKey: ___, ...reading } = data;
  const files = flags.repairData;
  return { ...reading, data: files.length === 1 ? files[0]! : files };
}
