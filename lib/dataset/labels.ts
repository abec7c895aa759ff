/**
 * Label files (`.npy`, `.npz`, IDX plain or gzipped), read whole: labels are small.
 * Labels must be integers ≥ 0 that fit an int32.
 */
import { DatasetError, InvalidArgumentError, LabelError } from '../errors.js';
import { readElement, requireLabelDType, type DType } from './dtype.js';
import { isGzip, isIdx, openIdx } from './idx.js';
import { isNpy, openNpyFile } from './npy.js';
import { isZip, openNpzArray } from './npz.js';
import { readArrayBytes, readHead, type ArraySource } from './readers.js';

const INT32_MAX = 2 ** 31 - 1;

/**
 * Checks that every label lies in `[0, numClasses)` or equals `ignoreIndex` (token labels left out).
 *
 * @param labels the labels to check.
 * @param numClasses the number of classes (a positive integer), e.g. the model's output width.
 * @param source the labels' file, named in the error.
 * @param ignoreIndex a label value that is allowed and left out of the measures.
 * @throws LabelError naming the first offending index and value.
 * @throws InvalidArgumentError when `numClasses` is not a positive integer.
 */
export function checkLabels(labels: Int32Array, numClasses: number, source: string, ignoreIndex?: number): void {
  if (!Number.isSafeInteger(numClasses) || numClasses <= 0) {
    throw new InvalidArgumentError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if ((v < 0 || v >= numClasses) && v !== ignoreIndex) {
      throw new LabelError(`${source}: label ${v} at index ${i} is outside [0, ${numClasses}) (${numClasses} classes)`);
    }
  }
}

/**
 * Decodes `count` integer labels of type `t` from `bytes`, checking they fit an int32 and are
 * ≥ 0 or equal to `ignoreIndex` (token labels).
 */
export function decodeLabels(bytes: Uint8Array, t: DType, count: number, where: string, ignoreIndex?: number): Int32Array {
  requireLabelDType(t, where);
  const out = new Int32Array(count);
  if (t.name === 'uint8') {
    out.set(bytes.subarray(0, count));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    const v = readElement(view, i * t.size, t);
    if (v < 0 && v !== ignoreIndex) {
      throw new LabelError(`${where}: label at index ${i} is ${v}; labels must be integers ≥ 0${ignoreIndex === undefined ? '' : ` or the ignore index ${ignoreIndex}`}`);
    }
    if (v > INT32_MAX) throw new LabelError(`${where}: label at index ${i} is ${v}, too large for a class index`);
    out[i] = v;
  }
  return out;
}

/** Labels read whole: the values (C order) and the shape of one sample's labels. */
export interface LabelArray {
  readonly values: Int32Array;
  readonly rows: number;
  /** `[]`: one class per sample; `[T]`: one token label per position. */
  readonly labelShape: number[];
}

/**
 * Reads all labels of an array of shape `(N,)` or `(N, 1)` (class labels), or, with `tokens`
 * (the data's sample shape `[T, …]` when the data holds sequences), of shape `(N, T)`: one
 * label per position, where `ignoreIndex` marks the positions left out.
 */
export async function readLabels(src: ArraySource, tokens?: { sampleShape: readonly number[]; ignoreIndex: number; data: string }): Promise<LabelArray> {
  requireLabelDType(src.dtype, src.where);
  const shape = src.shape;
  const rows = shape[0]!;
  if (shape.length === 1 || (shape.length === 2 && shape[1] === 1 && !tokens)) {
    return { values: decodeLabels(await readArrayBytes(src), src.dtype, rows, src.where), rows, labelShape: [] };
  }
  if (!tokens || shape.length !== 2) {
    throw new DatasetError(src.where, `labels must be a 1-D array${tokens ? ' or N×T token labels' : ''}, got shape (${shape.join(', ')})`);
  }
  const t = shape[1]!;
  if (t !== tokens.sampleShape[0]) {
    throw new LabelError(`${src.where}: labels of shape (${shape.join(', ')}) but ${tokens.data} has ${tokens.sampleShape[0]} positions per sample (shape (N, ${tokens.sampleShape.join(', ')})): T must match`);
  }
  return { values: decodeLabels(await readArrayBytes(src), src.dtype, rows * t, src.where, tokens.ignoreIndex), rows, labelShape: [t] };
}

/**
 * Next-token labels of `rows` token sequences of length T (`bytes` in type `t`): each
 * position's label is the following token, the last position's is `ignoreIndex`.
 */
export function nextTokenLabels(bytes: Uint8Array, t: DType, rows: number, length: number, ignoreIndex: number, where: string): Int32Array {
  const tokens = decodeLabels(bytes, t, rows * length, where);
  const out = new Int32Array(rows * length);
  for (let r = 0; r < rows; r++) {
    const base = r * length;
    out.set(tokens.subarray(base + 1, base + length), base);
    out[base + length - 1] = ignoreIndex;
  }
  return out;
}

/**
 * Opens a labels file, detecting its format from its content: `.npy`, `.npz` (array picked by
 * `labelsKey`, or the only one), or IDX (plain or gzipped).
 */
export async function openLabelsFile(file: string, labelsKey: string | undefined): Promise<ArraySource> {
  const head = await readHead(file, 8);
  if (isZip(head)) {
    const arr = await openNpzArray(file, labelsKey, 'labelsKey');
    return { where: arr.where, dtype: arr.header.dtype, shape: arr.header.shape, reader: arr.reader };
  }
  if (labelsKey !== undefined) {
    throw new InvalidArgumentError(`labelsKey '${labelsKey}' applies only to .npz files, and ${file} is not one`);
  }
  if (isNpy(head)) {
    const arr = await openNpyFile(file);
    return { where: file, dtype: arr.header.dtype, shape: arr.header.shape, reader: arr.reader };
  }
  if (isGzip(head) || isIdx(head)) return openIdx(file);
  if (head.length === 0) throw new DatasetError(file, 'empty file');
  throw new DatasetError(file, 'unrecognised labels format (expected .npy, .npz, or an IDX file, optionally gzipped)');
}
