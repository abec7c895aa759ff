/**
 * Several named model inputs (`--input input_ids=ids.npy --input attention_mask=mask.npy`): one
 * array file per input, read in lockstep as one dataset. The first input is the dataset's own
 * (its sample shape, its type, its next-token labels); the labels are read as for it.
 */
import { DatasetError } from '../errors.js';
import { sampleRange } from './batching.js';
import type { Batch, BatchOptions, Dataset, NamedInput } from './types.js';

/** The datasets of the named inputs, the first one carrying the labels; `length` after the limit. */
export class NamedInputsDataset implements Dataset {
  readonly source: string;
  readonly length: number;
  readonly sampleShape: readonly number[];
  readonly inputType: 'float32' | 'int64';
  readonly labels?: Int32Array;
  readonly labelsSource?: string;
  readonly labelShape: readonly number[];
  readonly ignoreIndex?: number;
  readonly namedInputs: readonly NamedInput[];

  constructor(
    private readonly parts: readonly { name: string; dataset: Dataset }[],
    limit: number | undefined,
  ) {
    const first = parts[0]!.dataset;
    const differs = parts.find((p) => p.dataset.length !== first.length);
    if (differs) {
      throw new DatasetError(
        differs.dataset.source,
        `${differs.dataset.length} samples for the input '${differs.name}', but ${first.length} for '${parts[0]!.name}' (${first.source}): named inputs must hold the same samples`,
      );
    }
    this.source = parts.map((p) => `${p.name}=${p.dataset.source}`).join(', ');
    this.length = Math.min(first.length, limit ?? first.length);
    this.sampleShape = first.sampleShape;
    this.inputType = first.inputType ?? 'float32';
    this.labelShape = first.labelShape ?? [];
    if (first.ignoreIndex !== undefined) this.ignoreIndex = first.ignoreIndex;
    if (first.labels) {
      const perSample = this.labelShape.reduce((a, b) => a * b, 1);
      this.labels = first.labels.subarray(0, this.length * perSample);
      this.labelsSource = first.labelsSource ?? first.source;
    }
    this.namedInputs = parts.map((p) => ({ name: p.name, source: p.dataset.source, sampleShape: p.dataset.sampleShape, inputType: p.dataset.inputType ?? 'float32' }));
  }

  batches(batchSize: number, options?: BatchOptions): AsyncIterableIterator<Batch> {
    const [from, to] = sampleRange(this, options);
    const iterators = this.parts.map((p) => p.dataset.batches(batchSize, { ...options, from, to }));
    return this.iterate(iterators, to - from);
  }

  private async *iterate(iterators: AsyncIterableIterator<Batch>[], length: number): AsyncGenerator<Batch> {
    try {
      let seen = 0;
      while (seen < length) {
        const steps = await Promise.all(iterators.map((it) => it.next()));
        if (steps.some((s) => s.done)) return;
        const batches = steps.map((s) => s.value as Batch);
        const first = batches[0]!;
        const size = Math.min(first.size, length - seen);
        const cut = <T extends Float32Array | BigInt64Array | Int32Array>(a: T, per: number): T => (size === first.size ? a : (a.subarray(0, size * per) as T));
        const named: Record<string, Float32Array | BigInt64Array> = {};
        batches.forEach((b, i) => {
          named[this.parts[i]!.name] = cut(b.inputs, b.inputs.length / b.size);
        });
        const batch: Batch = { index: first.index, start: first.start, size, inputs: named[this.parts[0]!.name]!, named };
        if (first.labels) batch.labels = cut(first.labels, first.labels.length / first.size);
        seen += size;
        yield batch;
      }
    } finally {
      await Promise.all(iterators.map((it) => it.return?.()));
    }
  }
}
