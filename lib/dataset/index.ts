/**
 * The dataset layer: opens `.npy`, `.npz`, IDX (MNIST / Fashion-MNIST, optionally gzipped) and
 * CIFAR-10 binary files as streaming {@link Dataset}s of float32 model inputs plus int32 labels.
 *
 * Memory does not grow with the dataset: inputs are read batch by batch (positioned reads for
 * plain files and stored `.npz` entries, sequential stream decompression for gzipped IDX files
 * and deflated `.npz` entries); only the labels are held in memory.
 *
 * Conversions (float32 arithmetic, bit-identical to numpy on float32 arrays), with `f = Math.fround`:
 * - float32 inputs are kept; float64 inputs become `f(x)`; uint8 inputs become `f(f(x) / 255)`;
 * - then, with `normalize`, per channel `c` (axis 1 of a batch):
 *   `f(f(v - f(mean[c])) / f(std[c]))`, which equals numpy's
 *   `(x.astype(np.float32) / 255 - np.float32(mean)) / np.float32(std)` for uint8 `x`.
 *
 * @example
 * ```ts
 * const ds = await openDataset({
 *   data: 'fashion/t10k-images-idx3-ubyte.gz',
 *   labels: 'fashion/t10k-labels-idx1-ubyte.gz',
 *   normalize: { mean: [0.2860], std: [0.3530] },
 * });
 * for await (const batch of ds.batches(256)) {
 *   // batch.inputs: Float32Array of batch.size × 1 × 28 × 28, batch.labels: Int32Array
 * }
 * ```
 */
import { DatasetError, InvalidArgumentError, LabelError } from '../errors.js';
import { checkKnownKeys, checkOption, optionDefault } from '../options.js';
import { channelCount, channelNorm, RecordDataset, validateNormalizationShape } from './batching.js';
import { CIFAR_PIXEL_BYTES, CIFAR_RECORD_BYTES, CIFAR_SAMPLE_SHAPE, openCifar } from './cifar.js';
import { isTokenDType, requireInputDType, TOKEN_DTYPES } from './dtype.js';
import { isGzip, isIdx, openIdx } from './idx.js';
import { nextTokenLabels, openLabelsFile, readLabels, type LabelArray } from './labels.js';
import { isNpy, openNpyFile, requireSamples } from './npy.js';
import { isZip, openNpzArray } from './npz.js';
import { readArrayBytes, readHead, type ArraySource } from './readers.js';
import { NamedInputsDataset } from './named.js';
import { openTokenWindows } from './tokens.js';
import type { DataFormat, Dataset, OpenDatasetOptions } from './types.js';

export type { Batch, BatchOptions, DataFormat, Dataset, NamedInput, Normalization, OpenDatasetOptions } from './types.js';
export type { TokenDTypeName } from './dtype.js';
export { checkLabels } from './labels.js';

/** Detects a data file's format: `*.bin` is CIFAR-10, otherwise the file's first bytes decide. */
async function detectFormat(file: string): Promise<DataFormat> {
  if (file.toLowerCase().endsWith('.bin')) return 'cifar10';
  const head = await readHead(file, 8);
  if (isNpy(head)) return 'npy';
  if (isZip(head)) return 'npz';
  if (isGzip(head) || isIdx(head)) return 'idx';
  if (head.length === 0) throw new DatasetError(file, 'empty file');
  throw new DatasetError(
    file,
    'unrecognised data format (expected .npy, .npz, an IDX file (optionally gzipped), or CIFAR-10 .bin batches)',
  );
}

const DATASET_OPTION_KEYS: readonly (keyof OpenDatasetOptions)[] = [
  'data', 'inputs', 'tokens', 'dtype', 'context', 'labels', 'ignoreIndex', 'normalize', 'key', 'labelsKey', 'limit', 'format', 'allowNonfinite',
];

/** The `labels` value asking for next-token labels of token data. */
export const NEXT_TOKEN_LABELS = 'next-token';

/** The files a dataset reads (never to be overwritten by an output). */
export function datasetFiles(options: OpenDatasetOptions): string[] {
  const inputs =
    options.tokens !== undefined ? [options.tokens] : options.inputs !== undefined ? Object.values(options.inputs) : Array.isArray(options.data) ? options.data : options.data !== undefined ? [options.data] : [];
  return [...inputs, ...(options.labels !== undefined && options.labels !== NEXT_TOKEN_LABELS ? [options.labels] : [])];
}

/** Checks the options of a flat token file (`tokens`); the options that do not apply to it are refused by name. */
function validateTokenOptions(options: OpenDatasetOptions): void {
  if (options.data !== undefined) throw new InvalidArgumentError('give data or tokens, not both');
  if (typeof options.tokens !== 'string' || options.tokens.length === 0) throw new InvalidArgumentError(`tokens: expected a file path, got ${JSON.stringify(options.tokens)}`);
  if (options.dtype === undefined) throw new InvalidArgumentError(`tokens ${options.tokens}: give its dtype (${TOKEN_DTYPES.join(', ')})`);
  if (options.context === undefined) throw new InvalidArgumentError(`tokens ${options.tokens}: give the context (tokens per sample)`);
  checkOption('tokenDType', options.dtype, 'dtype');
  checkOption('context', options.context);
  const refused = (['labels', 'normalize', 'key', 'labelsKey', 'format'] as const).filter((k) => options[k] !== undefined && !(k === 'labels' && options.labels === NEXT_TOKEN_LABELS));
  if (refused.length > 0) {
    throw new InvalidArgumentError(`${refused.join(', ')} ${refused.length === 1 ? 'does' : 'do'} not apply to a flat token file (${options.tokens}): its labels are each window's next tokens, its ids are not normalized`);
  }
}

function validateOptions(options: OpenDatasetOptions): string[] {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('openDataset needs an options object');
  checkKnownKeys('openDataset()', options, DATASET_OPTION_KEYS);
  if (options.ignoreIndex !== undefined) checkOption('ignoreIndex', options.ignoreIndex);
  if (options.limit !== undefined) checkOption('limit', options.limit);
  if (options.tokens !== undefined) {
    validateTokenOptions(options);
    return [options.tokens];
  }
  if (options.inputs !== undefined) {
    if (options.data !== undefined) throw new InvalidArgumentError('give data or inputs (named inputs), not both');
    const entries = typeof options.inputs === 'object' && options.inputs !== null ? Object.entries(options.inputs) : [];
    if (entries.length === 0) throw new InvalidArgumentError('inputs must map model input names to files, e.g. { input_ids: "ids.npy" }');
    for (const [name, file] of entries) {
      if (typeof file !== 'string' || file.length === 0) throw new InvalidArgumentError(`inputs.${name}: expected a file path, got ${JSON.stringify(file)}`);
    }
    if (options.key !== undefined) throw new InvalidArgumentError('key does not apply to named inputs: an .npz archive is read at the array of the input\'s name');
    return entries.map(([, file]) => file);
  }
  for (const k of ['dtype', 'context'] as const) {
    if (options[k] !== undefined) throw new InvalidArgumentError(`${k} applies only to a flat token file (tokens)`);
  }
  if (options.data === undefined) throw new InvalidArgumentError('give data (or tokens): no data file given');
  const files = Array.isArray(options.data) ? options.data : [options.data];
  if (files.length === 0) throw new InvalidArgumentError('data: no file given');
  files.forEach((f) => {
    if (typeof f !== 'string' || f.length === 0) throw new InvalidArgumentError(`data: expected file paths, got ${JSON.stringify(f)}`);
  });
  if (options.labels !== undefined && (typeof options.labels !== 'string' || options.labels.length === 0)) {
    throw new InvalidArgumentError(`labels: expected a file path, got ${JSON.stringify(options.labels)}`);
  }
  if (options.allowNonfinite !== undefined) checkOption('allowNonfinite', options.allowNonfinite);
  for (const k of ['key', 'labelsKey'] as const) {
    const v = options[k];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw new InvalidArgumentError(`${k} must be a non-empty string, got ${JSON.stringify(v)}`);
    }
  }
  if (options.normalize !== undefined) validateNormalizationShape(options.normalize);
  const formats: (DataFormat | undefined)[] = ['npy', 'npz', 'idx', 'cifar10', undefined];
  if (!formats.includes(options.format)) {
    throw new InvalidArgumentError(`format must be one of npy, npz, idx, cifar10, got ${String(options.format)}`);
  }
  return files;
}

/** Several named inputs read in lockstep; the first carries the labels and the options. */
async function openNamedInputs(inputs: Record<string, string>, options: OpenDatasetOptions): Promise<Dataset> {
  const { inputs: _, limit, ...shared } = options;
  const parts = [];
  for (const [i, [name, file]] of Object.entries(inputs).entries()) {
    const own = (await detectFormat(file)) === 'npz' ? { key: name } : {};
    const rest = i === 0 ? shared : shared.allowNonfinite ? { allowNonfinite: true } : {};
    parts.push({ name, dataset: await openDataset({ ...rest, ...own, data: file }) });
  }
  return new NamedInputsDataset(parts, limit);
}

/**
 * Opens a dataset for streaming batches.
 *
 * The data format is detected from the file (see {@link OpenDatasetOptions.format}). IDX image
 * files of 3 dimensions (N × H × W) get a channel axis: samples are `[1, H, W]`. Labels, when
 * given (or implicit, as in CIFAR-10), are read whole, must be integers ≥ 0 and as many as the
 * samples; `limit` then keeps the first samples and labels.
 *
 * @throws InvalidArgumentError for invalid options (limit, keys, normalization shape, several
 *   data files for a format other than CIFAR-10, …).
 * @throws DatasetError naming the file: missing or unreadable file, bad magic or header,
 *   unsupported dtype, Fortran order, truncated file, ambiguous or missing `.npz` key.
 * @throws EmptyDatasetError (a DatasetError) when the data holds 0 samples.
 * @throws LabelError for negative labels or a labels count different from the samples count.
 */
export async function openDataset(options: OpenDatasetOptions): Promise<Dataset> {
  const files = validateOptions(options);
  const ignoreIndex = options.ignoreIndex ?? optionDefault('ignoreIndex');
  if (options.tokens !== undefined) {
    return openTokenWindows({ file: options.tokens, dtype: options.dtype!, context: options.context!, ignoreIndex, ...(options.limit ? { limit: options.limit } : {}) });
  }
  if (options.inputs !== undefined) return openNamedInputs(options.inputs, options);
  const first = files[0]!;
  const format = options.format ?? (await detectFormat(first));
  if (files.length > 1 && format !== 'cifar10') {
    throw new InvalidArgumentError(`several data files are only read as CIFAR-10 batches; ${first} is ${format}`);
  }
  if (options.key !== undefined && format !== 'npz') {
    throw new InvalidArgumentError(`key '${options.key}' applies only to .npz data, and ${first} is ${format}`);
  }
  const source = files.join(', ');
  const limit = options.limit;

  if (format === 'cifar10') {
    if (options.labels !== undefined) {
      throw new InvalidArgumentError(`CIFAR-10 batches carry their own labels; drop the labels option (${options.labels})`);
    }
    if (options.labelsKey !== undefined) throw new InvalidArgumentError('labelsKey does not apply to CIFAR-10 batches');
    if (options.ignoreIndex !== undefined) throw new InvalidArgumentError('ignoreIndex applies to token labels, not to CIFAR-10 batches');
    const cifar = await openCifar(files, limit);
    return new RecordDataset({
      source,
      length: cifar.labels.length,
      sampleShape: [...CIFAR_SAMPLE_SHAPE],
      dtype: { name: 'uint8', size: 1, kind: 'uint', littleEndian: true },
      recordBytes: CIFAR_RECORD_BYTES,
      sampleOffset: CIFAR_RECORD_BYTES - CIFAR_PIXEL_BYTES,
      reader: cifar.reader,
      labels: cifar.labels,
      ...(options.normalize ? { normalize: options.normalize } : {}),
      ...(options.allowNonfinite ? { allowNonfinite: true } : {}),
    });
  }

  let array: ArraySource;
  let sampleShape: number[];
  if (format === 'npy') {
    const npy = await openNpyFile(first);
    array = { where: first, dtype: npy.header.dtype, shape: npy.header.shape, reader: npy.reader };
    sampleShape = array.shape.slice(1);
  } else if (format === 'npz') {
    const npz = await openNpzArray(first, options.key, 'key');
    array = { where: npz.where, dtype: npz.header.dtype, shape: npz.header.shape, reader: npz.reader };
    sampleShape = array.shape.slice(1);
  } else {
    array = await openIdx(first);
    sampleShape = array.shape.length === 3 ? [1, ...array.shape.slice(1)] : array.shape.slice(1);
  }
  requireInputDType(array.dtype, array.where);
  const inputDType = array.dtype;
  requireSamples(array.shape, array.where);
  const total = array.shape[0]!;
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  if (sampleSize === 0) throw new DatasetError(array.where, `samples hold no values (shape (${array.shape.join(', ')}))`);
  const tokens = isTokenDType(inputDType);
  // Fail on a bad normalization before reading labels.
  if (options.normalize && tokens) {
    throw new InvalidArgumentError(`${array.where} holds token ids (${inputDType.name}), which are fed unchanged: drop the normalization (mean/std)`);
  }
  if (options.normalize) channelNorm(options.normalize, channelCount(sampleShape), array.where);
  if (tokens && sampleShape.length !== 1) {
    throw new DatasetError(array.where, `token ids must be an N×T array, got shape (${array.shape.join(', ')})`);
  }
  const length = Math.min(total, limit ?? total);

  let labels: LabelArray | undefined;
  let labelsWhere: string | undefined;
  const sequence = tokens ? { sampleShape, ignoreIndex, data: array.where } : undefined;
  if (options.labels === NEXT_TOKEN_LABELS) {
    if (!tokens) throw new InvalidArgumentError(`next-token labels need token ids, but ${array.where} holds ${inputDType.name} values`);
    if (options.labelsKey !== undefined) throw new InvalidArgumentError('labelsKey does not apply to next-token labels');
    const bytes = await readArrayBytes(array, length);
    labels = { values: nextTokenLabels(bytes, inputDType, length, sampleShape[0]!, ignoreIndex, array.where), rows: total, labelShape: [...sampleShape] };
    labelsWhere = array.where;
  } else if (options.labels !== undefined) {
    const src = await openLabelsFile(options.labels, options.labelsKey);
    labelsWhere = src.where;
    labels = await readLabels(src, sequence);
  } else if (options.labelsKey !== undefined) {
    if (format !== 'npz') {
      throw new InvalidArgumentError(`labelsKey '${options.labelsKey}' needs a labels .npz file or .npz data; ${first} is ${format}`);
    }
    const src = await openLabelsFile(first, options.labelsKey);
    labelsWhere = src.where;
    labels = await readLabels(src, sequence);
  }
  if (labels && labels.rows !== total) {
    throw new LabelError(
      `${labels.rows} labels in ${labelsWhere} but ${total} samples in ${array.where}: the counts must match`,
    );
  }
  const perSample = labels ? labels.labelShape.reduce((a, b) => a * b, 1) : 1;
  const kept = labels && length * perSample < labels.values.length ? labels.values.slice(0, length * perSample) : labels?.values;
  const recordBytes = sampleSize * inputDType.size;
  return new RecordDataset({
    source: array.where,
    length,
    sampleShape,
    dtype: inputDType,
    recordBytes,
    sampleOffset: 0,
    reader: array.reader,
    ...(labels ? { labels: kept!, labelsSource: labelsWhere ?? array.where, labelShape: labels.labelShape } : {}),
    ...(tokens ? { ignoreIndex } : {}),
    ...(options.normalize ? { normalize: options.normalize } : {}),
    ...(options.allowNonfinite ? { allowNonfinite: true } : {}),
  });
}
