/**
 * Public types of the dataset layer. See {@link ./index.ts} for `openDataset`.
 */
import type { TokenDTypeName } from './dtype.js';

/**
 * Per-channel normalization applied after the dtype conversion.
 *
 * The channel axis is axis 1 of a batch (axis 0 of a sample). Each of `mean` and `std`
 * holds either one value (applied to every channel) or exactly one value per channel.
 *
 * Arithmetic is float32 throughout, bit-identical to the numpy expression
 * `(x.astype(np.float32) / 255 - np.float32(mean)) / np.float32(std)` for uint8 data:
 * with `f = Math.fround`, `v` the float32 input value (see {@link Dataset}),
 * the stored value is `f(f(v - f(mean)) / f(std))`.
 */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** One of several named model inputs of a dataset (`--input name=file`). */
export interface NamedInput {
  readonly name: string;
  readonly source: string;
  readonly sampleShape: readonly number[];
  readonly inputType: 'float32' | 'int64';
}

/** Options of {@link Dataset.batches}. */
export interface BatchOptions {
  signal?: AbortSignal;
  /**
   * Iterate only the samples [from, to) (default: all): batches start at `from`, the last one
   * ends at `to` (a shard of the data, lib/shard/).
   */
  from?: number;
  to?: number;
}

/** One batch of consecutive samples. */
export interface Batch {
  /** 0-based index of this batch within the iteration. */
  index: number;
  /** Index of the batch's first sample in the dataset. */
  start: number;
  /** Number of samples in this batch (the last batch may be smaller than the batch size). */
  size: number;
  /**
   * `size × prod(sampleShape)` values, C order: float32 values already converted and normalized,
   * or, for integer data ({@link Dataset.inputType} 'int64'), the token ids unchanged.
   */
  inputs: Float32Array | BigInt64Array;
  /** Every named input's values (the first is `inputs`), for a dataset of named inputs. */
  named?: Record<string, Float32Array | BigInt64Array>;
  /** `size × prod(labelShape)` labels, when the dataset has labels. */
  labels?: Int32Array;
}

/**
 * A dataset opened by `openDataset`: metadata plus a streaming batch iterator.
 *
 * Input conversion to float32 (before the optional {@link Normalization}):
 * - float32 data is kept as is;
 * - float64 data is rounded to the nearest float32 (`Math.fround(x)`);
 * - uint8 data becomes `Math.fround(Math.fround(x) / 255)`, i.e. numpy's
 *   `x.astype(np.float32) / 255` in float32.
 */
export interface Dataset {
  /** The data file path(s), for messages (several CIFAR-10 batches are joined with ", "). */
  readonly source: string;
  /** Number of samples (after `limit`). */
  readonly length: number;
  /** Shape of one sample, e.g. `[1, 28, 28]` for MNIST IDX files or `[3, 32, 32]` for CIFAR-10. */
  readonly sampleShape: readonly number[];
  /**
   * What the inputs hold: 'float32' values, or 'int64' token ids (integer data: `.npy`/`.npz`
   * int64, int32, uint16, or a flat token file), fed unchanged. Absent means 'float32'.
   */
  readonly inputType?: 'float32' | 'int64';
  /** All labels (after `limit`), C order, when a labels file was given or the format carries labels (CIFAR-10). */
  readonly labels?: Int32Array;
  /**
   * Shape of one sample's labels: `[]` (or absent) for one class per sample, `[T]` for one
   * label per position of a sequence (token labels, `N×T` in all).
   */
  readonly labelShape?: readonly number[];
  /** Token labels equal to this are left out of the loss and accuracy (default −100). */
  readonly ignoreIndex?: number;
  /** The model inputs by name, when the data feeds several (the first is the dataset's own sample shape and type). */
  readonly namedInputs?: readonly NamedInput[];
  /** Where the labels came from (the labels file, or the data file when it carries them), for messages. */
  readonly labelsSource?: string;
  /**
   * Iterates over the dataset in order, `batchSize` samples at a time; the last batch holds the
   * remainder. Every sample appears exactly once. Each call starts a fresh, independent pass that
   * reads the file(s) with bounded memory (one raw batch buffer), whatever the dataset size.
   *
   * Each yielded {@link Batch} owns fresh `inputs` and `labels` arrays: they stay valid, and are not
   * overwritten, after the iteration moves on.
   *
   * The pass holds an open file until it ends: leave a `for await` loop with `break`/`return`
   * (or call the iterator's `return()`) rather than dropping a half-read iterator.
   *
   * @throws InvalidArgumentError at once when `batchSize` is not a positive integer, or `from`/`to` not a range of the samples.
   * @throws CancelledError when `options.signal` is aborted (checked before each batch).
   * @throws DatasetError when a file turns out unreadable or shorter than its header said.
   * @throws NonFiniteDataError (a DatasetError) at the first batch holding NaN or ±Inf, unless opened with `allowNonfinite`.
   */
  batches(batchSize: number, options?: BatchOptions): AsyncIterableIterator<Batch>;
}

/** Options of `openDataset`. */
export interface OpenDatasetOptions {
  /**
   * The inputs file: `.npy`, `.npz`, an IDX file (optionally gzipped), or CIFAR-10 binary
   * batch file(s) (`*.bin`). Several paths are only accepted for CIFAR-10 batches, which are
   * then read one after the other as a single dataset. Integer `.npy`/`.npz` arrays (int64,
   * int32, uint16) of shape N×T are token ids. Give `data` or `tokens`, not both.
   */
  data?: string | string[];
  /**
   * Several model inputs by name, e.g. `{ input_ids: 'ids.npy', attention_mask: 'mask.npy' }`:
   * `.npy` files, or `.npz` archives whose array of the input's name is read. Every model input
   * must be given. The first is the dataset's own: labels (`next-token` too) go with it. Instead of `data`.
   */
  inputs?: Record<string, string>;
  /**
   * A flat token file as LM training code writes it (raw `dtype` values, no header, e.g.
   * nanoGPT's `val.bin`), cut into non-overlapping windows of `context + 1` tokens: a sample's
   * inputs are a window's first `context` tokens and its labels the last `context` (next-token
   * labels); tokens after the last whole window are left out. Needs `dtype` and `context`.
   */
  tokens?: string;
  /** Element type of the `tokens` file. */
  dtype?: TokenDTypeName;
  /** Tokens per sample of the `tokens` file (T). */
  context?: number;
  /**
   * The labels file (`.npy`, `.npz` or IDX, optionally gzipped): N class labels, or N×T token
   * labels for token data (positions equal to `ignoreIndex` are left out). Not allowed for
   * CIFAR-10, whose labels come from the data files. When omitted and `data` is an `.npz` file,
   * `labelsKey` selects labels stored in that same archive. `'next-token'`: the labels of token
   * data are its inputs shifted by one (the last position ignored); a labels file named so is `./next-token`.
   */
  labels?: string;
  /** The token label left out of the loss and accuracy (default −100, PyTorch's). */
  ignoreIndex?: number;
  /** Per-channel normalization applied after the dtype conversion. */
  normalize?: Normalization;
  /**
   * The array to read from an `.npz` data file. Default: the archive's only array; an archive
   * holding several arrays needs a key (the error lists them).
   */
  key?: string;
  /** The array to read from an `.npz` labels file (or from the `.npz` data file when `labels` is omitted). */
  labelsKey?: string;
  /** Use only the first `limit` samples (windows of a `tokens` file; a positive integer; larger than the dataset means all). */
  limit?: number;
  /**
   * Force the data file format instead of detecting it. Detection: `*.bin` files are CIFAR-10
   * batches; otherwise the content decides (npy magic, zip signature, gzip signature, IDX magic).
   */
  format?: DataFormat;
  /**
   * Let NaN and ±Inf input values through. By default each batch is checked (one cheap pass)
   * and a non-finite value is a `NonFiniteDataError` naming the file, the sample and the feature.
   */
  allowNonfinite?: boolean;
}

/** Data file formats understood by `openDataset`. */
export type DataFormat = 'npy' | 'npz' | 'idx' | 'cifar10';
