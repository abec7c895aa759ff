/**
 * Sequential byte readers over a region of a file: positioned reads for plain files, and
 * stream decompression (gzip, raw deflate) for compressed ones. Each reader yields exactly
 * the bytes it was asked for or throws a {@link DatasetError} naming the file.
 */
import { createReadStream, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';

import { DatasetError } from '../errors.js';
import { kindOf } from '../outputs.js';
import type { DType } from './dtype.js';

/** Reads consecutive bytes. `read` fills `dst[0, n)` with the next `n` bytes. */
export interface ByteReader {
  read(dst: Uint8Array, n: number): Promise<void>;
  /** Moves past the next `n` bytes (positioned readers without reading them). */
  skip(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A factory opening a fresh reader positioned at the start of the records region. */
export type ReaderFactory = () => Promise<ByteReader>;

/** Describes a filesystem error in words, keeping the node error code. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    default:
      return `cannot read: ${e?.message ?? String(err)}`;
  }
}

/** Opens a file for reading, mapping failures to a {@link DatasetError} naming it. */
export async function openFile(file: string): Promise<FileHandle> {
  await fileSize(file);
  try {
    return await open(file, 'r');
  } catch (err) {
    throw new DatasetError(file, describeFsError(err), { cause: err });
  }
}

/**
 * The size of a regular file in bytes, or a {@link DatasetError} naming it. Anything else is
 * refused before it is opened: a FIFO or a device would block the read (or never end), which
 * must be an error, not a hang.
 */
export async function fileSize(file: string): Promise<number> {
  let st: Stats;
  try {
    st = await stat(file);
  } catch (err) {
    throw new DatasetError(file, describeFsError(err), { cause: err });
  }
  if (st.isDirectory()) throw new DatasetError(file, describeFsError({ code: 'EISDIR' }));
  if (!st.isFile()) throw new DatasetError(file, `is ${kindOf(st)}, not a regular file`);
  return st.size;
}

/**
 * Reads `n` bytes at `position` into `dst`, looping over short reads.
 * A file shorter than expected gives a {@link DatasetError} saying it is truncated.
 */
export async function readExactAt(
  fh: FileHandle,
  file: string,
  dst: Uint8Array,
  n: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < n) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(dst, done, n - done, position + done));
    } catch (err) {
      throw new DatasetError(file, describeFsError(err), { cause: err });
    }
    if (bytesRead === 0) {
      throw new DatasetError(
        file,
        `truncated: expected ${n} bytes at offset ${position} but the file ends after ${done}`,
      );
    }
    done += bytesRead;
  }
}

/** Reads a whole (small) file into memory. */
export async function readWholeFile(file: string): Promise<Buffer> {
  const fh = await openFile(file);
  try {
    return await fh.readFile();
  } catch (err) {
    throw new DatasetError(file, describeFsError(err), { cause: err });
  } finally {
    await fh.close();
  }
}

/** Reads the first `n` bytes of a file (fewer when the file is shorter). */
export async function readHead(file: string, n: number): Promise<Buffer> {
  const fh = await openFile(file);
  try {
    const buf = Buffer.alloc(n);
    let done = 0;
    while (done < n) {
      const { bytesRead } = await fh.read(buf, done, n - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  } catch (err) {
    throw err instanceof DatasetError ? err : new DatasetError(file, describeFsError(err), { cause: err });
  } finally {
    await fh.close();
  }
}

/**
 * A reader of the region `[start, start + length)` of a plain file, by positioned reads:
 * only the bytes asked for are read, never the whole file.
 */
export function positionedReader(file: string, start: number, length: number): ReaderFactory {
  return async () => {
    const fh = await openFile(file);
    let pos = start;
    const end = start + length;
    return {
      async read(dst, n) {
        if (pos + n > end) throw new RangeError(`read past the end of the region of ${file}`);
        await readExactAt(fh, file, dst, n, pos);
        pos += n;
      },
      async skip(n) {
        if (pos + n > end) throw new RangeError(`skip past the end of the region of ${file}`);
        pos += n;
      },
      async close() {
        await fh.close();
      },
    };
  };
}

/**
 * A reader over a byte stream of `file`, after skipping its first `skip` bytes. `where` names
 * the data in messages (default: the file).
 * Bytes missing when the stream ends give a "truncated" {@link DatasetError}; decoder errors
 * (corrupt gzip/deflate data) give a {@link DatasetError} with the zlib error as cause.
 */
export function streamReader(
  file: string,
  makeStream: () => Readable,
  skip: number,
  what: string,
  where: string = file,
): ReaderFactory {
  return async () => {
    // Fail early with a clear message when the file has gone.
    await fileSize(file);
    const stream = makeStream();
    const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkPos = 0;
    let delivered = 0;

    const fill = async (dst: Uint8Array | null, n: number): Promise<void> => {
      let done = 0;
      while (done < n) {
        if (chunkPos >= chunk.length) {
          let r: IteratorResult<Buffer>;
          try {
            r = await iterator.next();
          } catch (err) {
            throw new DatasetError(where, `corrupt ${what} data: ${(err as Error).message}`, { cause: err });
          }
          if (r.done) {
            throw new DatasetError(
              where,
              `truncated: the ${what} data ends after ${delivered + done} bytes, ${n - done} bytes short of what the header announces`,
            );
          }
          chunk = r.value;
          chunkPos = 0;
          continue;
        }
        const take = Math.min(n - done, chunk.length - chunkPos);
        if (dst) dst.set(chunk.subarray(chunkPos, chunkPos + take), done);
        chunkPos += take;
        done += take;
      }
      delivered += n;
    };

    await fill(null, skip);
    return {
      read: (dst, n) => fill(dst, n),
      skip: (n) => fill(null, n),
      async close() {
        try {
          await iterator.return?.();
        } catch {
          // The stream already failed; the failure was reported by `read`.
        }
        stream.destroy();
      },
    };
  };
}

/** Deflate (gzip, zip) never compresses better than 1032:1 (zlib's documented limit). */
export const DEFLATE_MAX_RATIO = 1032;

/**
 * Refuses a size announced for compressed data that its compressed bytes cannot hold, before
 * anything is allocated for it: a forged header or zip entry would otherwise ask for gigabytes.
 */
export function checkInflatedSize(where: string, announced: number, compressedBytes: number, what: string): void {
  const most = DEFLATE_MAX_RATIO * compressedBytes;
  if (announced > most) {
    throw new DatasetError(where, `${what} announces ${announced} bytes, but ${compressedBytes} compressed bytes inflate to at most ${most} (deflate's limit is ${DEFLATE_MAX_RATIO}:1): the file is corrupt or forged`);
  }
}

/** The decompressed byte stream of a gzip file, with read errors of the file forwarded. */
export function gunzipStream(file: string): Readable {
  return pipeline(createReadStream(file), createGunzip(), () => {});
}

/** The inflated byte stream of a raw-deflate region of a file (a zip entry's data). */
export function inflateRawStream(file: string, start: number, compressedSize: number): Readable {
  // `end` is inclusive; a deflate stream is never empty, so compressedSize >= 1.
  const src = createReadStream(file, { start, end: start + Math.max(compressedSize, 1) - 1 });
  return pipeline(src, createInflateRaw(), () => {});
}

/**
 * Concatenates readers: reads cross from one region to the next. `lengths[i]` is the number
 * of bytes region `i` holds.
 */
export function concatReaders(factories: ReaderFactory[], lengths: number[]): ReaderFactory {
  if (factories.length === 1) return factories[0]!;
  return async () => {
    let index = 0;
    let current: ByteReader | null = null;
    let leftInCurrent = 0;
    // Reads into dst, or skips when dst is null.
    const move = async (dst: Uint8Array | null, n: number): Promise<void> => {
      let done = 0;
      while (done < n) {
        if (current === null || leftInCurrent === 0) {
          if (current) await current.close();
          current = null;
          if (index >= factories.length) throw new RangeError('read past the end of the last region');
          current = await factories[index]!();
          leftInCurrent = lengths[index]!;
          index += 1;
          continue;
        }
        const take = Math.min(n - done, leftInCurrent);
        if (dst) await current.read(take === n && done === 0 ? dst : dst.subarray(done), take);
        else await current.skip(take);
        leftInCurrent -= take;
        done += take;
      }
    };
    return {
      read: (dst, n) => move(dst, n),
      skip: (n) => move(null, n),
      async close() {
        if (current) await current.close();
        current = null;
      },
    };
  };
}

/** An n-d array in a file, readable sequentially from its first element. */
export interface ArraySource {
  /** The file (or `archive [entry]`) for messages. */
  where: string;
  dtype: DType;
  shape: number[];
  /** Reader of the `prod(shape) × dtype.size` data bytes. */
  reader: ReaderFactory;
}

/** Reads the first `count` rows of an array (all of it by default) into memory. */
export async function readArrayBytes(src: ArraySource, count = src.shape[0] ?? 1): Promise<Uint8Array> {
  const rowBytes = src.shape.slice(1).reduce((a, b) => a * b, 1) * src.dtype.size;
  const n = count * rowBytes;
  const out = new Uint8Array(n);
  const reader = await src.reader();
  try {
    await reader.read(out, n);
  } finally {
    await reader.close();
  }
  return out;
}
