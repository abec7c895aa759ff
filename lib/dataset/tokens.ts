/**
 * Flat token files as LM training code writes them (e.g. nanoGPT's `val.bin`: raw uint16 token
 * ids, no header), cut into non-overlapping windows of T + 1 tokens: a sample's inputs are a
 * window's first T tokens, its labels the last T (each position's next token).
 */
import { DatasetError, LabelError } from '../errors.js';
import { RecordDataset } from './batching.js';
import { dtype as makeDType, readElement, type DType, type TokenDTypeName } from './dtype.js';
import { fileSize, positionedReader, type ReaderFactory } from './readers.js';
import type { Dataset } from './types.js';

/** Windows read at once while collecting the labels. */
const LABEL_CHUNK_WINDOWS = 4096;
const INT32_MAX = 2 ** 31 - 1;

export interface TokenWindows {
  file: string;
  dtype: TokenDTypeName;
  /** T: tokens per sample. */
  context: number;
  limit?: number;
  ignoreIndex: number;
}

/** Opens a flat little-endian token file as a dataset of `context`-token samples with next-token labels. */
export async function openTokenWindows(options: TokenWindows): Promise<Dataset> {
  const { file, context, limit, ignoreIndex } = options;
  const t = makeDType(options.dtype, true) as DType & { name: TokenDTypeName };
  const bytes = await fileSize(file);
  if (bytes % t.size !== 0) throw new DatasetError(file, `${bytes} bytes is not a whole number of ${t.name} tokens (${t.size} bytes each)`);
  const count = bytes / t.size;
  const windows = Math.floor(count / (context + 1));
  if (windows === 0) {
    throw new DatasetError(file, `context ${context} needs windows of ${context + 1} tokens, but the file holds ${count} ${t.name} token${count === 1 ? '' : 's'}`);
  }
  const length = Math.min(windows, limit ?? windows);
  const recordBytes = (context + 1) * t.size;
  const reader = positionedReader(file, 0, length * recordBytes);
  return new RecordDataset({
    source: file,
    length,
    sampleShape: [context],
    dtype: t,
    recordBytes,
    sampleOffset: 0,
    reader,
    labels: await windowLabels(reader, length, context, t, file),
    labelsSource: file,
    labelShape: [context],
    ignoreIndex,
  });
}

/** The last `context` tokens of each window, read a chunk of windows at a time. */
async function windowLabels(open: ReaderFactory, windows: number, context: number, t: DType, file: string): Promise<Int32Array> {
  const recordBytes = (context + 1) * t.size;
  const labels = new Int32Array(windows * context);
  const chunk = new Uint8Array(Math.min(windows, LABEL_CHUNK_WINDOWS) * recordBytes);
  const view = new DataView(chunk.buffer);
  const reader = await open();
  try {
    for (let first = 0; first < windows; first += LABEL_CHUNK_WINDOWS) {
      const n = Math.min(LABEL_CHUNK_WINDOWS, windows - first);
      await reader.read(chunk, n * recordBytes);
      for (let w = 0; w < n; w++) {
        for (let j = 0; j < context; j++) {
          const v = readElement(view, (w * (context + 1) + j + 1) * t.size, t);
          if (v < 0 || v > INT32_MAX) throw new LabelError(`${file}: token ${v} in window ${first + w} is not a token id (0 … 2³¹−1)`);
          labels[(first + w) * context + j] = v;
        }
      }
    }
  } finally {
    await reader.close();
  }
  return labels;
}
