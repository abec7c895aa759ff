/**
 * CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`): records
 * of one label byte followed by 3072 pixel bytes (3 × 32 × 32, channel-major, row-major).
 */
import { DatasetError, EmptyDatasetError } from '../errors.js';
import { concatReaders, fileSize, openFile, positionedReader, readExactAt, type ReaderFactory } from './readers.js';

export const CIFAR_SAMPLE_SHAPE = [3, 32, 32] as const;
export const CIFAR_PIXEL_BYTES = 3 * 32 * 32;
export const CIFAR_RECORD_BYTES = 1 + CIFAR_PIXEL_BYTES;

/** One or several CIFAR-10 batch files read as a single record stream. */
export interface CifarSource {
  /** Total records in all the files. */
  records: number;
  /** Labels of the first `limit` records (all of them without a limit). */
  labels: Int32Array;
  /** Reader of the records (label byte included) from the first one. */
  reader: ReaderFactory;
}

/** Records read per positioned read when collecting labels. */
const LABEL_CHUNK_RECORDS = 256;

/**
 * Opens CIFAR-10 batch files: checks that each holds a whole, non-zero number of records and
 * collects the label bytes of the first `limit` records, reading the files in chunks.
 */
export async function openCifar(files: string[], limit: number | undefined): Promise<CifarSource> {
  const counts: number[] = [];
  for (const file of files) {
    const size = await fileSize(file);
    if (size === 0) throw new EmptyDatasetError(file, 'holds no records (empty file)');
    if (size % CIFAR_RECORD_BYTES !== 0) {
      throw new DatasetError(
        file,
        `not a CIFAR-10 binary batch, or truncated: its size ${size} is not a multiple of the ${CIFAR_RECORD_BYTES}-byte record (${Math.floor(size / CIFAR_RECORD_BYTES)} whole records and ${size % CIFAR_RECORD_BYTES} bytes left over)`,
      );
    }
    counts.push(size / CIFAR_RECORD_BYTES);
  }
  const records = counts.reduce((a, b) => a + b, 0);
  const wanted = Math.min(records, limit ?? records);

  const labels = new Int32Array(wanted);
  const chunk = new Uint8Array(LABEL_CHUNK_RECORDS * CIFAR_RECORD_BYTES);
  let filled = 0;
  for (let f = 0; f < files.length && filled < wanted; f++) {
    const file = files[f]!;
    const fh = await openFile(file);
    try {
      const inFile = Math.min(counts[f]!, wanted - filled);
      for (let r = 0; r < inFile; r += LABEL_CHUNK_RECORDS) {
        const n = Math.min(LABEL_CHUNK_RECORDS, inFile - r);
        await readExactAt(fh, file, chunk, n * CIFAR_RECORD_BYTES, r * CIFAR_RECORD_BYTES);
        for (let i = 0; i < n; i++) labels[filled + r + i] = chunk[i * CIFAR_RECORD_BYTES]!;
      }
      filled += inFile;
    } finally {
      await fh.close();
    }
  }

  const reader = concatReaders(
    files.map((file, i) => positionedReader(file, 0, counts[i]! * CIFAR_RECORD_BYTES)),
    counts.map((c) => c * CIFAR_RECORD_BYTES),
  );
  return { records, labels, reader };
}
