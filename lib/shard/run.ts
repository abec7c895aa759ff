/**
 * One shard of a run (SCIENCE.md §8): its samples of the data (lib/shard/range.ts), one pass
 * over them, and the partial file (lib/shard/partial.ts) written through the output gate. A
 * shard whose output already holds its partial of the same run (same command, files, data,
 * options and input contents) is not run again.
 */
import { loadPair } from '../load-checkpoints.js';
import { SEGMENTED_PASS_LOAD } from '../checks/pass-models.js';
import { datasetFiles, openDataset, type OpenDatasetOptions } from '../dataset/index.js';
import { externalDataFiles } from '../onnx/external-output.js';
import { checkOutputs, commitOutputs } from '../outputs.js';
import type { RunControl } from '../progress.js';
import { dataSourceOf } from '../report/fields.js';
import { commandEntry, shardOptions } from './commands.js';
import { fileSha256, partialContent, readPartial, sameRun, type PartialRun, type PartialShard, type ShardedCommand, type SumsData } from './partial.js';
import { datasetRange, shardSamples, toShard, type Shard } from './range.js';

/** A shard to run: the command, its files and options, which shard, and where its partial goes. */
export interface ShardRequest {
  readonly command: ShardedCommand;
  readonly a: string;
  readonly b: string;
  readonly data: OpenDatasetOptions;
  /** The command's options (as for lmc(), analyze(), alignFiles() with method 'activation'). */
  readonly options?: object;
  /** Shard i of n: { index, count }, 'i/n', or 'auto' (the Slurm array task: SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT). */
  readonly shard: Shard | string;
  /** The partial file to write. */
  readonly out: string;
}

/** The keys of a {@link ShardRequest}. */
export const SHARD_REQUEST_KEYS = Object.keys({ command: true, a: true, b: true, data: true, options: true, shard: true, out: true } satisfies { readonly [K in keyof ShardRequest]-?: true }) as (keyof ShardRequest)[];

export interface ShardOutcome {
  readonly out: string;
  readonly shard: PartialShard;
  /** True when `out` already held this shard's partial of the same run, which was kept. */
  readonly reused: boolean;
}

/** What the worker runs: the pass over the shard's samples. */
export interface ShardPassRequest {
  readonly command: ShardedCommand;
  readonly a: string;
  readonly b: string;
  readonly data: OpenDatasetOptions;
  readonly options: Record<string, unknown>;
  readonly shard: Shard;
}

export interface ShardPassResult {
  readonly shard: PartialShard;
  readonly sums: ReadonlyMap<string, ReadonlyMap<string, SumsData>>;
}

/** The pass of one shard (in the worker): opens the pair and the data, runs the shard's samples. */
export async function shardPass(request: ShardPassRequest, control: RunControl): Promise<ShardPassResult> {
  const [[a, b], data] = await Promise.all([loadPair(request.a, request.b, SEGMENTED_PASS_LOAD), openDataset(request.data)]);
  const [from, to] = shardSamples(data.length, request.options.batchSize as number, request.shard);
  const sums = await commandEntry(request.command).sums(a, b, datasetRange(data, from, to), request.options, control);
  return { shard: { ...request.shard, from, to, samples: data.length }, sums };
}

/** The files a run reads: the checkpoints, their external data, the data files. */
export async function runInputs(a: string, b: string, data: OpenDatasetOptions): Promise<string[]> {
  const [dataA, dataB] = await Promise.all([externalDataFiles(a), externalDataFiles(b)]);
  return [a, b, ...dataA, ...dataB, ...datasetFiles(data)];
}

/** The run a shard belongs to: everything that must be equal in all its partials. */
export async function describeRun(command: ShardedCommand, a: string, b: string, data: OpenDatasetOptions, options: Record<string, unknown>, inputs: readonly string[]): Promise<PartialRun> {
  const hashes = await Promise.all(inputs.map(async (file) => ({ file, sha256: await fileSha256(file) })));
  return { command, a, b, data: { ...data }, options, report: { source: dataSourceOf(data), settings: commandEntry(command).settings(options) }, hashes };
}

/** The partial at `out` when it is this shard's of this run, else undefined (missing, unreadable, or another run's). */
async function finishedPartial(out: string, run: PartialRun, shard: Shard): Promise<PartialShard | undefined> {
  try {
    const partial = await readPartial(out);
    return sameRun(partial.run, run) && partial.shard.index === shard.index && partial.shard.count === shard.count ? partial.shard : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs shard `request.shard` and writes its partial to `request.out`, unless `out` already holds
 * it; `pass` runs the shard's pass (in a worker: lib/api.ts).
 */
export async function runShard(request: ShardRequest, pass: (request: ShardPassRequest) => Promise<ShardPassResult>): Promise<ShardOutcome> {
  const shard = toShard(request.shard);
  const options = shardOptions(request.command, request.options ?? {});
  const inputs = await runInputs(request.a, request.b, request.data);
  const plan = await checkOutputs([{ path: request.out, label: '--out' }], inputs);
  const run = await describeRun(request.command, request.a, request.b, request.data, options, inputs);
  const finished = await finishedPartial(request.out, run, shard);
  if (finished) return { out: request.out, shard: finished, reused: true };
  const result = await pass({ command: request.command, a: request.a, b: request.b, data: request.data, options, shard });
  await commitOutputs(plan, [{ path: request.out, content: partialContent(run, process.cwd(), result.shard, result.sums) }]);
  return { out: request.out, shard: result.shard, reused: false };
}
