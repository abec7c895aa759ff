/**
 * The NumPy `.npy` format (versions 1.0, 2.0 and 3.0): a magic string, a little-endian header
 * length, a Python-literal dict header (`descr`, `fortran_order`, `shape`), then the raw data.
 * Only C-order arrays of simple little-endian (or single-byte) dtypes are read.
 */
import { DatasetError, EmptyDatasetError } from '../errors.js';
import { dtype, type DType, type DTypeName } from './dtype.js';
import { fileSize, positionedReader, readHead, type ReaderFactory } from './readers.js';

/** `\x93NUMPY` */
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** Bytes needed to know the header length: magic (6), version (2), length (2 or 4). */
export const NPY_PREFIX_BYTES = 12;

/** Whether `head` starts with the `.npy` magic string. */
export function isNpy(head: Uint8Array): boolean {
  return head.length >= MAGIC.length && MAGIC.every((b, i) => head[i] === b);
}

/** A parsed `.npy` header. */
export interface NpyHeader {
  dtype: DType;
  shape: number[];
  /** Offset of the data from the start of the `.npy` bytes (header included). */
  dataOffset: number;
  /** Bytes of data the header announces: `prod(shape) × itemsize`. */
  dataBytes: number;
}

/**
 * From the first {@link NPY_PREFIX_BYTES} bytes, the total header size (magic to the end of the
 * dict, i.e. the data offset).
 */
export function npyHeaderSize(prefix: Uint8Array, file: string): number {
  if (!isNpy(prefix)) throw new DatasetError(file, 'not a .npy file (bad magic string)');
  if (prefix.length < 10) throw new DatasetError(file, 'truncated .npy header');
  const major = prefix[6]!;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (major === 1) return 10 + view.getUint16(8, true);
  if (major === 2 || major === 3) {
    if (prefix.length < 12) throw new DatasetError(file, 'truncated .npy header');
    return 12 + view.getUint32(8, true);
  }
  throw new DatasetError(file, `unsupported .npy format version ${major}.${prefix[7]}`);
}

const DESCR_KINDS: Record<string, DTypeName> = {
  b1: 'bool',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
};

/** Maps a numpy type string such as `<f4` or `|u1` to a {@link DType}. */
export function parseDescr(descr: string, file: string): DType {
  const m = /^([<>|=]?)([a-zA-Z]\d+)$/.exec(descr);
  const name = m ? DESCR_KINDS[m[2]!] : undefined;
  if (!m || !name) throw new DatasetError(file, `unsupported dtype '${descr}'`);
  const order = m[1]!;
  const t = dtype(name, true);
  if (order === '>' && t.size > 1) {
    throw new DatasetError(file, `unsupported dtype '${descr}' (big-endian ${name}; only little-endian is read)`);
  }
  return t;
}

/**
 * Parses a complete `.npy` header (`bytes` holds at least {@link npyHeaderSize} bytes).
 * Fortran-order arrays and structured dtypes are rejected with a {@link DatasetError}.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  const dataOffset = npyHeaderSize(bytes, file);
  if (bytes.length < dataOffset) throw new DatasetError(file, 'truncated .npy header');
  const start = bytes[6] === 1 ? 10 : 12;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, dataOffset - start).toString('latin1');

  const descrMatch = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text);
  if (!descrMatch) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) throw new DatasetError(file, 'unsupported dtype: structured arrays are not read');
    throw new DatasetError(file, `bad .npy header (no 'descr'): ${text.trim()}`);
  }
  const t = parseDescr(descrMatch[2]!, file);

  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortranMatch) throw new DatasetError(file, `bad .npy header (no 'fortran_order'): ${text.trim()}`);
  if (fortranMatch[1] === 'True') {
    throw new DatasetError(file, 'array is stored in Fortran order; only C order is read (save a C-contiguous copy, e.g. np.ascontiguousarray)');
  }

  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shapeMatch) throw new DatasetError(file, `bad .npy header (no 'shape'): ${text.trim()}`);
  const parts = shapeMatch[1]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = parts.map((p) => {
    const n = /^\d+L?$/.test(p) ? Number.parseInt(p, 10) : NaN;
    if (!Number.isSafeInteger(n)) throw new DatasetError(file, `bad .npy header: shape (${shapeMatch[1]})`);
    return n;
  });
  const dataBytes = shape.reduce((a, b) => a * b, 1) * t.size;
  return { dtype: t, shape, dataOffset, dataBytes };
}

/** Checks that an array has a sample axis holding at least one sample. */
export function requireSamples(shape: readonly number[], file: string): void {
  if (shape.length === 0) throw new DatasetError(file, 'array is a scalar (shape ()); expected a first, sample axis');
  if (shape[0] === 0) throw new EmptyDatasetError(file, `holds no samples (shape (${shape.join(', ')}))`);
}

/** An array stored in a plain file at a known offset. */
export interface StoredArray {
  header: NpyHeader;
  /** Absolute file offset of the first data byte. */
  dataStart: number;
  /** Opens a reader of the data bytes from the first one. */
  reader: ReaderFactory;
}

/** Reads and validates the header of a `.npy` file; checks the file size against it. */
export async function openNpyFile(file: string): Promise<StoredArray> {
  const prefix = await readHead(file, NPY_PREFIX_BYTES);
  if (!isNpy(prefix)) throw new DatasetError(file, 'not a .npy file (bad magic string)');
  if (prefix.length < NPY_PREFIX_BYTES) throw new DatasetError(file, 'truncated .npy header');
  const size = npyHeaderSize(prefix, file);
  const headBytes = await readHead(file, size);
  const header = parseNpyHeader(headBytes, file);
  const total = await fileSize(file);
  const have = total - header.dataOffset;
  if (have < header.dataBytes) {
    const n = header.shape[0] ?? 1;
    throw new DatasetError(
      file,
      `truncated: header says shape (${header.shape.join(', ')}) (${n} samples, ${header.dataBytes} data bytes) but the file holds ${have} data bytes`,
    );
  }
  if (have > header.dataBytes) {
    throw new DatasetError(file, `${have - header.dataBytes} unexpected bytes after the array data (header says ${header.dataBytes})`);
  }
  return { header, dataStart: header.dataOffset, reader: positionedReader(file, header.dataOffset, header.dataBytes) };
}

/** A float64 C-order array as `.npy` bytes (version 1.0, the header padded to 64 bytes as NumPy writes it). */
export function encodeNpyFloat64(data: Float64Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': ${dims}, }`;
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const body = new DataView(out.buffer, 10 + header.length);
  data.forEach((x, i) => body.setFloat64(i * 8, x, true));
  return out;
}
