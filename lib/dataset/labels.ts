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
 * Checks that every label lies in `[0, numClasses)`.
 *
 * @param labels the labels to check.
 * @param numClasses the number of classes (a positive integer), e.g. the model's output width.
 * @param source the labels' file, named in the error.
 * @throws LabelError naming the first offending index and value.
 * @throws InvalidArgumentError when `numClasses` is not a positive integer.
 */
export function checkLabels(labels: Int32Array, numClasses: number, source: string): void {
  if (!Number.isSafeInteger(numClasses) || numClasses <= 0) {
    throw new InvalidArgumentError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v < 0 || v >= numClasses) {
      throw new LabelError(`${source}: label ${v} at index ${i} is outside [0, ${numClasses}) (${numClasses} classes)`);
    }
  }
}

/** Decodes `count` integer labels of type `t` from `bytes`, checking they are ≥ 0 and fit an int32. */
export function decodeLabels(bytes: Uint8Array, t: DType, count: number, where: string): Int32Array {
  requireLabelDType(t, where);
  const out = new Int32Array(count);
  if (t.name === 'uint8') {
    out.set(bytes.subarray(0, count));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    const v = readElement(view, i * t.size, t);
    if (v < 0) throw new LabelError(`${where}: label at index ${i} is ${v}; labels must be integers ≥ 0`);
    if (v > INT32_MAX) throw new LabelError(`${where}: label at index ${i} is ${v}, too large for a class index`);
    out[i] = v;
  }
  return out;
}

/** Reads all labels of an array whose shape is `(N,)` or `(N, 1)`. */
export async function readLabels(src: ArraySource): Promise<Int32Array> {
  requireLabelDType(src.dtype, src.where);
  const shape = src.shape;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new DatasetError(src.where, `labels must be a 1-D array, got shape (${shape.join(', ')})`);
  }
  const n = shape[0]!;
  const bytes = await readArrayBytes(src);
  return decodeLabels(bytes, src.dtype, n, src.where);
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
