/**
 * Batches for work that passes over the same data many times (the layer-wise barriers: one pass
 * per distinct model). The first pass reads and converts the data as usual; its batches are kept
 * when they fit in a memory budget, and every later pass replays them without touching the files
 * again. Data larger than the budget is read again on each pass, so memory stays bounded.
 */
import type { Batch, Dataset } from './types.js';
import { throwIfAborted } from '../progress.js';

/** Batches of at most this many bytes in all (inputs and labels) are kept between passes. */
export const RESIDENT_BYTES = 256 * 1024 * 1024;

function batchBytes(batch: Batch): number {
  const named = batch.named ? Object.values(batch.named).filter((v) => v !== batch.inputs) : [];
  return [batch.inputs, ...named].reduce((n, v) => n + v.byteLength, 0) + (batch.labels?.byteLength ?? 0);
}

export class ResidentBatches {
  private held: Batch[] | undefined;

  constructor(
    private readonly data: Dataset,
    private readonly batchSize: number,
    private readonly maxBytes: number = RESIDENT_BYTES,
  ) {}

  /** Whether the passes after the first replay batches held in memory. */
  get resident(): boolean {
    return this.held !== undefined;
  }

  /** One pass over the data: from memory once a whole pass was kept, else from the files. */
  async *pass(signal?: AbortSignal): AsyncGenerator<Batch> {
    if (this.held) {
      for (const batch of this.held) {
        throwIfAborted(signal);
        yield batch;
      }
      return;
    }
    let kept: Batch[] | undefined = [];
    let bytes = 0;
    for await (const batch of this.data.batches(this.batchSize, signal ? { signal } : {})) {
      bytes += batchBytes(batch);
      if (bytes <= this.maxBytes) kept?.push(batch);
      else kept = undefined;
      yield batch;
    }
    // Only a pass that ran to the end holds the whole data.
    this.held = kept;
  }
}
