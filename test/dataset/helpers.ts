/**
 * Test helpers: writers of small .npy, .npz, IDX and CIFAR-10 files, built byte by byte here so
 * the tests need neither Python nor downloaded data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import yazl from 'yazl';

import type { Batch, Dataset } from '../../lib/dataset/index.js';

export { tempDir } from '../helpers.js';

type Typed =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** Little-endian bytes of a typed array (the host is little-endian on every supported platform). */
export function bytesOf(a: Typed): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface NpyOptions {
  fortran?: boolean;
  /** Format version 1 (2-byte header length) or 2 (4-byte). */
  version?: 1 | 2;
  /** Override the data bytes written (e.g. to truncate). */
  dataBytes?: Uint8Array;
}

/** The bytes of a .npy file holding `data` (raw bytes) with numpy type string `descr`. */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, options: NpyOptions = {}): Buffer {
  const version = options.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${options.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const prefixLen = version === 1 ? 10 : 12;
  const total = Math.ceil((prefixLen + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - prefixLen - 1, ' ') + '\n';
  const prefix = Buffer.alloc(prefixLen);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(prefix);
  if (version === 1) prefix.writeUInt16LE(dict.length, 8);
  else prefix.writeUInt32LE(dict.length, 8);
  return Buffer.concat([prefix, Buffer.from(dict, 'latin1'), options.dataBytes ?? data]);
}

/** Writes a .npy file from a typed array. */
export function writeNpy(file: string, descr: string, shape: number[], data: Typed, options: NpyOptions = {}): string {
  writeFileSync(file, npyBytes(descr, shape, bytesOf(data), options));
  return file;
}

/** The bytes of an IDX file: type code, dims, and data already in big-endian order. */
export function idxBytes(typeCode: number, dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = typeCode;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** Writes an IDX file, gzipped when `gzip` is true. */
export function writeIdx(file: string, typeCode: number, dims: number[], data: Uint8Array, gzip = false): string {
  const bytes = idxBytes(typeCode, dims, data);
  writeFileSync(file, gzip ? gzipSync(bytes) : bytes);
  return file;
}

/** Big-endian bytes of float32 values. */
export function float32BE(values: ArrayLike<number>): Uint8Array {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeFloatBE(values[i]!, i * 4);
  return b;
}

/** Big-endian bytes of int32 values. */
export function int32BE(values: ArrayLike<number>): Uint8Array {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeInt32BE(values[i]!, i * 4);
  return b;
}

/** CIFAR-10 records: `labels[i]` followed by 3072 pixel bytes from `pixel(i, j)`. */
export function cifarBytes(labels: number[], pixel: (record: number, j: number) => number): Buffer {
  const rec = 3073;
  const b = Buffer.alloc(labels.length * rec);
  labels.forEach((l, i) => {
    b[i * rec] = l;
    for (let j = 0; j < 3072; j++) b[i * rec + 1 + j] = pixel(i, j) & 0xff;
  });
  return b;
}

export interface ZipEntry {
  name: string;
  bytes: Buffer;
  compress: boolean;
  zip64?: boolean;
}

/** The bytes of a zip archive (an .npz when the entries are .npy files), built with yazl. */
export async function zipBytes(entries: ZipEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    zip.addBuffer(e.bytes, e.name, { compress: e.compress, forceZip64Format: e.zip64 ?? false, mtime: new Date(0) });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * A copy of a one-entry zip archive with its entry's sizes replaced, in the local header and
 * in the central directory, as a forged or corrupt archive would claim them.
 */
export function forgeZipSizes(zip: Buffer, sizes: { compressed?: number; uncompressed?: number }): Buffer {
  const out = Buffer.from(zip);
  const central = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  if (sizes.compressed !== undefined) {
    out.writeUInt32LE(sizes.compressed, 18);
    out.writeUInt32LE(sizes.compressed, central + 20);
  }
  if (sizes.uncompressed !== undefined) {
    out.writeUInt32LE(sizes.uncompressed, 22);
    out.writeUInt32LE(sizes.uncompressed, central + 24);
  }
  return out;
}

/** Deterministic pseudo-random uint8 values. */
export function seededBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** Collects all batches of a dataset. */
export async function collect(ds: Dataset, batchSize: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of ds.batches(batchSize)) out.push(b);
  return out;
}

/** Concatenates the inputs (and labels) of batches. */
export function concatBatches(batches: Batch[]): { inputs: Float32Array; labels: Int32Array | undefined } {
  const n = batches.reduce((a, b) => a + b.inputs.length, 0);
  const inputs = new Float32Array(n);
  let o = 0;
  for (const b of batches) {
    inputs.set(b.inputs as Float32Array, o);
    o += b.inputs.length;
  }
  const hasLabels = batches.every((b) => b.labels);
  let labels: Int32Array | undefined;
  if (hasLabels) {
    labels = new Int32Array(batches.reduce((a, b) => a + b.size, 0));
    let p = 0;
    for (const b of batches) {
      labels.set(b.labels!, p);
      p += b.size;
    }
  }
  return { inputs, labels };
}

/** Reads a whole dataset as one array. */
export async function readAll(ds: Dataset, batchSize = 7): Promise<{ inputs: Float32Array; labels: Int32Array | undefined }> {
  return concatBatches(await collect(ds, batchSize));
}

/** The expected float32 value of a uint8 input: numpy's `x.astype(float32) / 255`. */
export function u8(x: number): number {
  return Math.fround(Math.fround(x) / Math.fround(255));
}

/** Expected float32 normalization, written out step by step as numpy computes it in float32. */
export function norm32(v: number, mean: number, std: number): number {
  const u = Math.fround(Math.fround(v) - Math.fround(mean));
  return Math.fround(u / Math.fround(std));
}

/**
 * Samples [start, end) of the Fashion-MNIST fixture (uint8 images N×1×28×28 in `data`, int64
 * labels in `labels`, both .npy files with a version-1 header) as .npy files of their own,
 * written where `path` says.
 */
export function fashionSlice(data: string, labels: string, start: number, end: number, path: (name: string) => string): { data: string; labels: string } {
  const body = (file: string): Buffer => {
    const buf = readFileSync(file);
    return buf.subarray(10 + buf.readUInt16LE(8));
  };
  const sample = 28 * 28;
  const x = new Uint8Array(body(data).subarray(start * sample, end * sample));
  const y = new BigInt64Array(new Uint8Array(body(labels).subarray(start * 8, end * 8)).buffer);
  return { data: writeNpy(path(`slice_${start}_${end}_x.npy`), '|u1', [end - start, 1, 28, 28], x), labels: writeNpy(path(`slice_${start}_${end}_y.npy`), '<i8', [end - start], y) };
}
