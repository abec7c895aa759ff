/**
 * IDX files (the MNIST / Fashion-MNIST format), plain or gzipped: two zero bytes, a type code,
 * the number of dimensions, one big-endian uint32 per dimension, then big-endian data.
 * Gzipped files are recognised by their content (the gzip signature), not their name.
 */
import { DatasetError } from '../errors.js';
import { dtype, type DType } from './dtype.js';
import {
  checkInflatedSize,
  fileSize,
  gunzipStream,
  positionedReader,
  readExactAt,
  openFile,
  readHead,
  streamReader,
  type ArraySource,
} from './readers.js';

const TYPE_CODES: Record<number, DType> = {
  0x08: dtype('uint8', false),
  0x09: dtype('int8', false),
  0x0b: dtype('int16', false),
  0x0c: dtype('int32', false),
  0x0d: dtype('float32', false),
  0x0e: dtype('float64', false),
};

/** Whether `head` starts with the gzip signature. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Whether `head` (uncompressed) looks like an IDX header. */
export function isIdx(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0 && head[1] === 0 && head[2]! in TYPE_CODES && head[3]! >= 1;
}

function parseMagic(magic: Uint8Array, file: string): { dtype: DType; ndim: number } {
  if (magic.length < 4) throw new DatasetError(file, 'truncated IDX header');
  if (magic[0] !== 0 || magic[1] !== 0) {
    throw new DatasetError(file, 'not an IDX file (bad magic number: the first two bytes must be zero)');
  }
  const t = TYPE_CODES[magic[2]!];
  if (!t) throw new DatasetError(file, `unsupported IDX type code 0x${magic[2]!.toString(16).padStart(2, '0')}`);
  const ndim = magic[3]!;
  if (ndim < 1) throw new DatasetError(file, 'bad IDX header: 0 dimensions');
  return { dtype: t, ndim };
}

function parseDims(bytes: Uint8Array, ndim: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: ndim }, (_, i) => view.getUint32(i * 4, false));
}

/**
 * Opens an IDX file, plain or gzipped, and checks its size against its header (for gzipped
 * files, against the uncompressed size recorded in the gzip trailer).
 */
export async function openIdx(file: string): Promise<ArraySource & { gzipped: boolean }> {
  const head = await readHead(file, 4);
  if (isGzip(head)) return openGzippedIdx(file);

  const { dtype: t, ndim } = parseMagic(head, file);
  const headerBytes = 4 + 4 * ndim;
  const dimBytes = (await readHead(file, headerBytes)).subarray(4);
  if (dimBytes.length < 4 * ndim) throw new DatasetError(file, 'truncated IDX header');
  const shape = parseDims(dimBytes, ndim);
  const dataBytes = shape.reduce((a, b) => a * b, 1) * t.size;
  const have = (await fileSize(file)) - headerBytes;
  if (have < dataBytes) {
    throw new DatasetError(
      file,
      `truncated: header says ${shape[0]} samples of shape (${shape.slice(1).join(', ')}) (${dataBytes} data bytes) but the file holds ${have} data bytes`,
    );
  }
  if (have > dataBytes) {
    throw new DatasetError(file, `${have - dataBytes} unexpected bytes after the data (header says ${dataBytes})`);
  }
  return { where: file, dtype: t, shape, reader: positionedReader(file, headerBytes, dataBytes), gzipped: false };
}

async function openGzippedIdx(file: string): Promise<ArraySource & { gzipped: boolean }> {
  // The header: stream-decompress just its bytes.
  const magicReader = await streamReader(file, () => gunzipStream(file), 0, 'gzip')();
  let t: DType;
  let shape: number[];
  let headerBytes: number;
  try {
    const magic = new Uint8Array(4);
    await magicReader.read(magic, 4);
    const parsed = parseMagic(magic, file);
    t = parsed.dtype;
    headerBytes = 4 + 4 * parsed.ndim;
    const dims = new Uint8Array(4 * parsed.ndim);
    await magicReader.read(dims, dims.length);
    shape = parseDims(dims, parsed.ndim);
  } finally {
    await magicReader.close();
  }
  const dataBytes = shape.reduce((a, b) => a * b, 1) * t.size;

  // The gzip trailer records the uncompressed size modulo 2^32: a cheap check against truncation.
  const size = await fileSize(file);
  if (size < 18) throw new DatasetError(file, 'truncated gzip file');
  // The trailer cannot tell sizes 2^32 apart; the compression limit can.
  checkInflatedSize(file, headerBytes + dataBytes, size, `its IDX header (shape ${shape.join(' × ')})`);
  const fh = await openFile(file);
  const trailer = new Uint8Array(4);
  try {
    await readExactAt(fh, file, trailer, 4, size - 4);
  } finally {
    await fh.close();
  }
  const recorded = new DataView(trailer.buffer).getUint32(0, true);
  const expected = (headerBytes + dataBytes) % 2 ** 32;
  if (recorded !== expected) {
    throw new DatasetError(
      file,
      `truncated or inconsistent: header says ${shape[0]} samples (${headerBytes + dataBytes} bytes uncompressed) but the gzip trailer records ${recorded} bytes`,
    );
  }
  return {
    where: file,
    dtype: t,
    shape,
    reader: streamReader(file, () => gunzipStream(file), headerBytes, 'gzip'),
    gzipped: true,
  };
}
