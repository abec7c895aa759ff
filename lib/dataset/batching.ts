/**
 * The streaming {@link Dataset}: fixed-size records read sequentially, converted to float32 and
 * normalized batch by batch (token ids: copied unchanged into int64).
 */
import { CancelledError, InvalidArgumentError, NonFiniteDataError } from '../errors.js';
import { checkOption } from '../options.js';
import { isTokenDType, readElement, type DType, type InputDTypeName } from './dtype.js';
import type { ReaderFactory } from './readers.js';
import type { Batch, BatchOptions, Dataset, Normalization } from './types.js';

/** How samples lie in the byte stream of a {@link ReaderFactory}. */
export interface RecordLayout {
  source: string;
  /** Samples to read (after `limit`). */
  length: number;
  sampleShape: number[];
  dtype: DType & { name: InputDTypeName };
  /** Bytes from one record to the next (≥ the sample's bytes; CIFAR-10 records hold a label byte too). */
  recordBytes: number;
  /** Offset of the sample's first byte within its record. */
  sampleOffset: number;
  reader: ReaderFactory;
  labels?: Int32Array;
  /** Where the labels came from, for messages. */
  labelsSource?: string;
  /** Shape of one sample's labels ([] one class, [T] one per position). */
  labelShape?: readonly number[];
  ignoreIndex?: number;
  normalize?: Normalization;
  /** Let NaN and ±Inf through (otherwise a batch holding one is a {@link NonFiniteDataError}). */
  allowNonfinite?: boolean;
}

/** Per-channel float32 mean and std, validated against the channel count. */
interface ChannelNorm {
  mean: Float32Array;
  std: Float32Array;
}

/** Number of channels of a sample: its first axis (1 for scalar samples). */
export function channelCount(sampleShape: readonly number[]): number {
  return sampleShape.length === 0 ? 1 : sampleShape[0]!;
}

/** Checks the shape of a {@link Normalization} (any channel count). */
export function validateNormalizationShape(n: unknown): asserts n is Normalization {
  if (typeof n !== 'object' || n === null) throw new InvalidArgumentError('normalize must be an object {mean: number[], std: number[]}');
  for (const field of ['mean', 'std'] as const) {
    const v = (n as Record<string, unknown>)[field];
    if (!Array.isArray(v) || v.length === 0) {
      throw new InvalidArgumentError(`normalize.${field} must be a non-empty array of numbers`);
    }
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new InvalidArgumentError(`normalize.${field}[${i}] must be a finite number, got ${String(x)}`);
      }
    });
  }
  (n as Normalization).std.forEach((s, i) => {
    if (Math.fround(s) === 0) throw new InvalidArgumentError(`normalize.std[${i}] is ${s}, which is 0 in float32`);
  });
}

/** Expands a normalization to one float32 mean and std per channel. */
export function channelNorm(n: Normalization, channels: number, source: string): ChannelNorm {
  validateNormalizationShape(n);
  const expand = (values: number[], field: string): Float32Array => {
    if (values.length !== 1 && values.length !== channels) {
      throw new InvalidArgumentError(
        `normalize.${field} has ${values.length} values but ${source} has ${channels} channel${channels === 1 ? '' : 's'} (axis 1); give 1 or ${channels} values`,
      );
    }
    return Float32Array.from({ length: channels }, (_, c) => values.length === 1 ? values[0]! : values[c]!);
  };
  return { mean: expand(n.mean, 'mean'), std: expand(n.std, 'std') };
}

/**
 * Float32 value of one input element, before normalization: float32 as is, float64 rounded,
 * uint8 as `f(f(x) / 255)` with `f = Math.fround` (numpy's `x.astype(float32) / 255`).
 */
export function uint8ToFloat(x: number): number {
  return Math.fround(Math.fround(x) / 255);
}

/**
 * Normalizes one float32 value: `f(f(v - f(mean)) / f(std))` with `f = Math.fround`, i.e. each
 * operation rounded to float32 as numpy does for float32 arrays. `mean` and `std` must
 * already be float32 values.
 */
export function normalizeValue(v: number, mean: number, std: number): number {
  return Math.fround(Math.fround(v - mean) / std);
}

/** Converts records of raw bytes into float32 samples. */
class Converter {
  private readonly sampleSize: number;
  private readonly spatial: number;
  private readonly channels: number;
  /** uint8 data: one 256-entry table per channel giving the final float32 value. */
  private readonly lut: Float32Array | null;

  constructor(
    private readonly layout: RecordLayout,
    private readonly norm: ChannelNorm | null,
  ) {
    this.sampleSize = layout.sampleShape.reduce((a, b) => a * b, 1);
    this.channels = channelCount(layout.sampleShape);
    this.spatial = this.sampleSize / this.channels;
    if (layout.dtype.name === 'uint8') {
      const lut = new Float32Array(this.channels * 256);
      for (let c = 0; c < this.channels; c++) {
        for (let x = 0; x < 256; x++) {
          const v = uint8ToFloat(x);
          lut[c * 256 + x] = norm ? normalizeValue(v, norm.mean[c]!, norm.std[c]!) : v;
        }
      }
      this.lut = lut;
    } else {
      this.lut = null;
    }
  }

  /** Token ids as int64, unchanged (no /255, no normalization). */
  tokens(raw: Uint8Array, count: number): BigInt64Array {
    const { recordBytes, sampleOffset, dtype } = this.layout;
    const { sampleSize } = this;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new BigInt64Array(count * sampleSize);
    for (let s = 0; s < count; s++) {
      const base = s * recordBytes + sampleOffset;
      for (let j = 0; j < sampleSize; j++) {
        const at = base + j * dtype.size;
        out[s * sampleSize + j] = dtype.name === 'int64' ? view.getBigInt64(at, dtype.littleEndian) : BigInt(readElement(view, at, dtype));
      }
    }
    return out;
  }

  convert(raw: Uint8Array, count: number): Float32Array {
    const { recordBytes, sampleOffset, dtype } = this.layout;
    const { sampleSize, spatial, channels, norm, lut } = this;
    const out = new Float32Array(count * sampleSize);
    if (lut) {
      for (let s = 0; s < count; s++) {
        const base = s * recordBytes + sampleOffset;
        const o = s * sampleSize;
        for (let c = 0; c < channels; c++) {
          const t = c * 256;
          const off = c * spatial;
          for (let j = 0; j < spatial; j++) out[o + off + j] = lut[t + raw[base + off + j]!]!;
        }
      }
      return out;
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const le = dtype.littleEndian;
    const is64 = dtype.name === 'float64';
    const size = dtype.size;
    for (let s = 0; s < count; s++) {
      const base = s * recordBytes + sampleOffset;
      const o = s * sampleSize;
      for (let c = 0; c < channels; c++) {
        const off = c * spatial;
        const m = norm ? norm.mean[c]! : 0;
        const sd = norm ? norm.std[c]! : 1;
        for (let j = 0; j < spatial; j++) {
          const at = base + (off + j) * size;
          const v = is64 ? Math.fround(view.getFloat64(at, le)) : view.getFloat32(at, le);
          out[o + off + j] = norm ? normalizeValue(v, m, sd) : v;
        }
      }
    }
    return out;
  }
}

/**
 * The index of the first NaN or ±Inf in `values`, or −1. The scan is one branch-free pass (x·0
 * is NaN exactly when x is not finite); only values that fail it are searched for the position.
 */
export function firstNonFinite(values: Float32Array): number {
  let probe = 0;
  for (let i = 0; i < values.length; i++) probe += values[i]! * 0;
  return probe === 0 ? -1 : values.findIndex((x) => !Number.isFinite(x));
}

/** Throws {@link NonFiniteDataError} naming the first NaN or ±Inf of a batch. */
export function checkFinite(inputs: Float32Array, sampleShape: readonly number[], firstSample: number, source: string): void {
  const at = firstNonFinite(inputs);
  if (at < 0) return;
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  throw new NonFiniteDataError(source, firstSample + Math.floor(at / sampleSize), at % sampleSize, sampleShape, inputs[at]!);
}

/** The samples [from, to) a {@link BatchOptions} asks of `data` (default: all), checked. */
export function sampleRange(data: Pick<Dataset, 'length' | 'source'>, options: BatchOptions | undefined): [number, number] {
  const from = options?.from ?? 0;
  const to = options?.to ?? data.length;
  const valid = (v: number) => Number.isSafeInteger(v) && v >= 0 && v <= data.length;
  if (!valid(from) || !valid(to) || from > to) {
    throw new InvalidArgumentError(`${data.source}: samples ${from} … ${to} are not a range of its ${data.length} samples`);
  }
  return [from, to];
}

/** A {@link Dataset} over fixed-size records. */
export class RecordDataset implements Dataset {
  readonly source: string;
  readonly length: number;
  readonly sampleShape: readonly number[];
  readonly inputType: 'float32' | 'int64';
  readonly labels?: Int32Array;
  readonly labelsSource?: string;
  readonly labelShape: readonly number[];
  readonly ignoreIndex?: number;
  private readonly converter: Converter;

  constructor(private readonly layout: RecordLayout) {
    this.source = layout.source;
    this.length = layout.length;
    this.sampleShape = Object.freeze([...layout.sampleShape]);
    this.inputType = isTokenDType(layout.dtype) ? 'int64' : 'float32';
    this.labelShape = Object.freeze([...(layout.labelShape ?? [])]);
    if (layout.ignoreIndex !== undefined) this.ignoreIndex = layout.ignoreIndex;
    if (layout.labels) {
      this.labels = layout.labels;
      this.labelsSource = layout.labelsSource ?? layout.source;
    }
    const norm = layout.normalize ? channelNorm(layout.normalize, channelCount(layout.sampleShape), layout.source) : null;
    this.converter = new Converter(layout, norm);
  }

  batches(batchSize: number, options?: BatchOptions): AsyncIterableIterator<Batch> {
    checkOption('batchSize', batchSize);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('options.signal must be an AbortSignal');
    }
    const [from, to] = sampleRange(this, options);
    return this.iterate(batchSize, signal, from, to);
  }

  private async *iterate(batchSize: number, signal: AbortSignal | undefined, from: number, to: number): AsyncGenerator<Batch> {
    // Name the file and the caller's reason (e.g. "interrupted (Ctrl-C)").
    const checkAbort = () => {
      if (signal?.aborted) {
        const reason = typeof signal.reason === 'string' ? signal.reason : 'cancelled';
        throw new CancelledError(`reading ${this.source} stopped: ${reason}`);
      }
    };
    checkAbort();
    const { recordBytes, reader: open } = this.layout;
    const raw = new Uint8Array(Math.min(batchSize, to - from) * recordBytes);
    const reader = await open();
    try {
      if (from > 0) await reader.skip(from * recordBytes);
      for (let start = from, index = 0; start < to; start += batchSize, index++) {
        checkAbort();
        const size = Math.min(batchSize, to - start);
        await reader.read(raw, size * recordBytes);
        checkAbort();
        let inputs: Float32Array | BigInt64Array;
        if (this.inputType === 'int64') {
          inputs = this.converter.tokens(raw, size);
        } else {
          inputs = this.converter.convert(raw, size);
          if (!this.layout.allowNonfinite) checkFinite(inputs, this.sampleShape, start, this.source);
        }
        const batch: Batch = { index, start, size, inputs };
        const perSample = this.labelShape.reduce((a, b) => a * b, 1);
        if (this.labels) batch.labels = this.labels.slice(start * perSample, (start + size) * perSample);
        yield batch;
      }
    } finally {
      await reader.close();
    }
  }
}
