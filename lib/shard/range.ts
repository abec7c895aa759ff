/**
 * Which part of the data a shard covers (SCIENCE.md §8). The N samples are cut into the run's
 * batches (⌈N / batch size⌉ of them) and shard i of n takes batches ⌊i·B/n⌋ … ⌊(i+1)·B/n⌋ − 1:
 * contiguous, deterministic from N, n and the batch size, possibly none. Whole batches, so every
 * batch a shard runs is a batch the single run runs, on the same samples: onnxruntime computes
 * the same values, and the sums differ only in how they are grouped (lib/sums.ts).
 */
import type { Batch, BatchOptions, Dataset } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The environment variables `--shard auto` reads (a Slurm job array's task index and count). */
export const SLURM_INDEX = 'SLURM_ARRAY_TASK_ID';
export const SLURM_COUNT = 'SLURM_ARRAY_TASK_COUNT';

const wholeNumber = (text: string): number | undefined => (/^\d+$/.test(text) ? Number(text) : undefined);

function checkedShard(index: number | undefined, count: number | undefined, what: string): Shard {
  if (count === undefined || !Number.isSafeInteger(count) || count < 1) throw new InvalidArgumentError(`${what}: the shard count must be a whole number ≥ 1`);
  if (index === undefined || !Number.isSafeInteger(index) || index >= count) throw new InvalidArgumentError(`${what}: the shard index must be a whole number from 0 to ${count - 1}`);
  return { index, count };
}

/**
 * A shard from `i/n` (0 ≤ i < n), or from `auto`: the Slurm array task's index and count
 * (SLURM_ARRAY_TASK_ID, 0-based, and SLURM_ARRAY_TASK_COUNT) in `env`.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  if (text === 'auto') {
    const missing = [SLURM_INDEX, SLURM_COUNT].filter((k) => env[k] === undefined || env[k] === '');
    if (missing.length > 0) {
      throw new InvalidArgumentError(`--shard auto reads the Slurm array task from ${SLURM_INDEX} and ${SLURM_COUNT}, but ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: run it as a task of a job array (sbatch --array=0-N), or give --shard i/n`);
    }
    return checkedShard(wholeNumber(env[SLURM_INDEX]!), wholeNumber(env[SLURM_COUNT]!), `--shard auto (${SLURM_INDEX}=${env[SLURM_INDEX]}, ${SLURM_COUNT}=${env[SLURM_COUNT]})`);
  }
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`--shard: expected i/n (shard i of n, 0-based) or auto, got '${text}'`);
  return checkedShard(Number(m[1]), Number(m[2]), `--shard ${text}`);
}

/** A shard given by the API: an object, or the CLI's `i/n` text. */
export function toShard(shard: Shard | string, env?: NodeJS.ProcessEnv): Shard {
  if (typeof shard === 'string') return parseShard(shard, env);
  if (typeof shard !== 'object' || shard === null) throw new InvalidArgumentError(`shard: expected { index, count } or 'i/n', got ${String(shard)}`);
  return checkedShard(shard.index, shard.count, `shard ${JSON.stringify(shard)}`);
}

/** The samples [from, to) shard `shard` covers of `samples` in batches of `batchSize`. */
export function shardSamples(samples: number, batchSize: number, shard: Shard): [number, number] {
  const batches = Math.ceil(samples / batchSize);
  const first = Math.floor((shard.index * batches) / shard.count);
  const end = Math.floor(((shard.index + 1) * batches) / shard.count);
  return [Math.min(samples, first * batchSize), Math.min(samples, end * batchSize)];
}

/** The samples [from, to) of `data` as a dataset of their own (labels and batches of that range only). */
export function datasetRange(data: Dataset, from: number, to: number): Dataset {
  const perSample = (data.labelShape ?? []).reduce((x, d) => x * d, 1);
  const labels = data.labels?.subarray(from * perSample, to * perSample);
  const view: Dataset = {
    source: data.source,
    length: to - from,
    sampleShape: data.sampleShape,
    ...(data.inputType ? { inputType: data.inputType } : {}),
    ...(labels ? { labels } : {}),
    ...(data.labelShape ? { labelShape: data.labelShape } : {}),
    ...(data.ignoreIndex !== undefined ? { ignoreIndex: data.ignoreIndex } : {}),
    ...(data.namedInputs ? { namedInputs: data.namedInputs } : {}),
    ...(data.labelsSource ? { labelsSource: data.labelsSource } : {}),
    batches(batchSize: number, options?: BatchOptions): AsyncIterableIterator<Batch> {
      const start = from + (options?.from ?? 0);
      const end = from + (options?.to ?? to - from);
      return data.batches(batchSize, { ...options, from: start, to: Math.min(end, to) });
    },
  };
  return view;
}
