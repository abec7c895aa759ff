/**
 * NumPy `.npz` archives (`np.savez` / `np.savez_compressed`): a zip file whose `NAME.npy`
 * entries are arrays. The zip directory is read with `yauzl`; array data is then read by
 * positioned reads for stored entries and by streaming raw inflate for deflated ones.
 */
import yauzl from 'yauzl';

import { DatasetError, InvalidArgumentError } from '../errors.js';
import { NPY_PREFIX_BYTES, npyHeaderSize, parseNpyHeader, type NpyHeader } from './npy.js';
import { checkInflatedSize, fileSize, inflateRawStream, positionedReader, streamReader, type ReaderFactory } from './readers.js';

/** Whether `head` starts with a zip local file header (or an empty archive's end record). */
export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6);
}

interface NpzEntry {
  key: string;
  fileName: string;
  compressionMethod: number;
  compressedSize: number;
  uncompressedSize: number;
  fileDataStart: number;
}

const STORED = 0;
const DEFLATED = 8;

/** Lists the `.npy` entries of an archive with the offsets of their data. */
async function listEntries(file: string): Promise<NpzEntry[]> {
  await fileSize(file); // a clear "file not found" before yauzl's own message
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: true, strictFileNames: false });
  } catch (err) {
    throw new DatasetError(file, `not a valid .npz (zip) archive: ${(err as Error).message}`, { cause: err });
  }
  try {
    const entries: NpzEntry[] = [];
    for await (const entry of zip.eachEntry()) {
      if (!entry.fileName.endsWith('.npy')) continue;
      if (entry.isEncrypted()) throw new DatasetError(file, `entry '${entry.fileName}' is encrypted`);
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      entries.push({
        key: entry.fileName.slice(0, -'.npy'.length),
        fileName: entry.fileName,
        compressionMethod: entry.compressionMethod,
        compressedSize: entry.compressedSize,
        uncompressedSize: entry.uncompressedSize,
        fileDataStart,
      });
    }
    return entries;
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(file, `not a valid .npz (zip) archive: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
  }
}

/** An array inside an `.npz` archive, ready to be read sequentially. */
export interface NpzArray {
  key: string;
  /** `archive [entry.npy]`, for messages. */
  where: string;
  header: NpyHeader;
  /** Reader of the array's data bytes, from the first one. */
  reader: ReaderFactory;
  /** Whether the entry is deflated (read by streaming inflate) rather than stored. */
  compressed: boolean;
}

/**
 * Opens one array of an archive: the one named `key` (with or without `.npy`), or when `key`
 * is undefined the archive's only array. `option` names the option that picks it, for messages.
 */
export async function openNpzArray(file: string, key: string | undefined, option: 'key' | 'labelsKey'): Promise<NpzArray> {
  const entries = await listEntries(file);
  const keys = entries.map((e) => e.key);
  const list = keys.map((k) => `'${k}'`).join(', ');
  let entry: NpzEntry | undefined;
  if (key !== undefined) {
    if (typeof key !== 'string') throw new InvalidArgumentError(`${option} must be a string`);
    entry = entries.find((e) => e.key === key || e.fileName === key);
    if (!entry) throw new DatasetError(file, `no array '${key}' in the archive (it holds: ${list || 'no arrays'})`);
  } else if (entries.length === 1) {
    entry = entries[0]!;
  } else if (entries.length === 0) {
    throw new DatasetError(file, 'the archive holds no arrays (.npy entries)');
  } else {
    throw new DatasetError(file, `the archive holds several arrays (${list}); choose one with the '${option}' option`);
  }
  const where = `${file} [${entry.fileName}]`;

  if (entry.compressionMethod === STORED) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw new DatasetError(where, `stored entry with compressed size ${entry.compressedSize} ≠ size ${entry.uncompressedSize}`);
    }
    const head = positionedReader(file, entry.fileDataStart, entry.uncompressedSize);
    const header = await readHeader(head, entry, where);
    return {
      key: entry.key,
      where,
      header,
      compressed: false,
      reader: positionedReader(file, entry.fileDataStart + header.dataOffset, header.dataBytes),
    };
  }
  if (entry.compressionMethod === DEFLATED) {
    checkInflatedSize(where, entry.uncompressedSize, entry.compressedSize, 'the zip entry');
    const inflate = () => inflateRawStream(file, entry.fileDataStart, entry.compressedSize);
    const header = await readHeader(streamReader(file, inflate, 0, 'deflate', where), entry, where);
    return {
      key: entry.key,
      where,
      header,
      compressed: true,
      reader: streamReader(file, inflate, header.dataOffset, 'deflate', where),
    };
  }
  throw new DatasetError(where, `unsupported zip compression method ${entry.compressionMethod} (only stored and deflated entries are read)`);
}

/** Reads and checks the `.npy` header at the start of an entry. */
async function readHeader(open: ReaderFactory, entry: NpzEntry, where: string): Promise<NpyHeader> {
  const reader = await open();
  try {
    if (entry.uncompressedSize < NPY_PREFIX_BYTES) throw new DatasetError(where, 'entry too short for a .npy header');
    const prefix = new Uint8Array(NPY_PREFIX_BYTES);
    await reader.read(prefix, prefix.length);
    const size = npyHeaderSize(prefix, where);
    if (size < NPY_PREFIX_BYTES) throw new DatasetError(where, 'bad .npy header (too short)');
    if (size > entry.uncompressedSize) throw new DatasetError(where, 'truncated .npy header');
    const bytes = new Uint8Array(size);
    bytes.set(prefix);
    await reader.read(bytes.subarray(NPY_PREFIX_BYTES), size - NPY_PREFIX_BYTES);
    const header = parseNpyHeader(bytes, where);
    const have = entry.uncompressedSize - header.dataOffset;
    if (have < header.dataBytes) {
      throw new DatasetError(
        where,
        `truncated: header says shape (${header.shape.join(', ')}) (${header.dataBytes} data bytes) but the entry holds ${have} data bytes`,
      );
    }
    if (have > header.dataBytes) {
      throw new DatasetError(where, `${have - header.dataBytes} unexpected bytes after the array data`);
    }
    return header;
  } finally {
    await reader.close();
  }
}
