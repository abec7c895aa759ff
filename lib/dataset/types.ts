/**
 * Public types of the dataset layer. See {@link ./index.ts} for `openDataset`.
 */

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

/** One batch of consecutive samples. */
export interface Batch {
  /** 0-based index of this batch within the iteration. */
  index: number;
  /** Index of the batch's first sample in the dataset. */
  start: number;
  /** Number of samples in this batch (the last batch may be smaller than the batch size). */
  size: number;
  /** `size × prod(sampleShape)` float32 values, C order, already converted and normalized. */
  inputs: Float32Array;
  /** `size` labels, when the dataset has labels. */
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
  /** All labels (after `limit`), when a labels file was given or the format carries labels (CIFAR-10). */
  readonly labels?: Int32Array;
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
   * @throws InvalidArgumentError at once when `batchSize` is not a positive integer.
   * @throws CancelledError when `options.signal` is aborted (checked before each batch).
   * @throws DatasetError when a file turns out unreadable or shorter than its header said.
   * @throws NonFiniteDataError (a DatasetError) at the first batch holding NaN or ±Inf, unless opened with `allowNonfinite`.
   */
  batches(batchSize: number, options?: { signal?: AbortSignal }): AsyncIterableIterator<Batch>;
}

/** Options of `openDataset`. */
export interface OpenDatasetOptions {
  /**
   * The inputs file: `.npy`, `.npz`, an IDX file (optionally gzipped), or CIFAR-10 binary
   * batch file(s) (`*.bin`). Several paths are only accepted for CIFAR-10 batches, which are
   * then read one after the other as a single dataset.
   */
  data: string | string[];
  /**
   * The labels file (`.npy`, `.npz` or IDX, optionally gzipped). Not allowed for CIFAR-10, whose
   * labels come from the data files. When omitted and `data` is an `.npz` file, `labelsKey`
   * selects labels stored in that same archive.
   */
  labels?: string;
  /** Per-channel normalization applied after the dtype conversion. */
  normalize?: Normalization;
  /**
   * The array to read from an `.npz` data file. Default: the archive's only array; an archive
   * holding several arrays needs a key (the error lists them).
   */
  key?: string;
  /** The array to read from an `.npz` labels file (or from the `.npz` data file when `labels` is omitted). */
  labelsKey?: string;
  /** Use only the first `limit` samples (a positive integer; larger than the dataset means all). */
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
