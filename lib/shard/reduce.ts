/**
 * The reduction of a sharded run (SCIENCE.md §8): the partials of one run, every shard once,
 * are added in shard order into the sums of a fresh set of checks, which then give the result
 * the single run gives (the same code from the sums on: lib/shard/commands.ts).
 */
import { isAbsolute, resolve } from 'node:path';
import type { AlignmentOutputs } from '../align/output.js';
import { loadPair } from '../load-checkpoints.js';
import { openDataset, NEXT_TOKEN_LABELS, type OpenDatasetOptions } from '../dataset/index.js';
import { InvalidArgumentError, PartialError } from '../errors.js';
import type { NamedSums } from '../sums.js';
import { commandEntry, type ShardedResult } from './commands.js';
import { fileSha256, readPartial, runDifferences, storedSums, type Partial } from './partial.js';

/** A partial and the file it came from. */
interface Part {
  readonly file: string;
  readonly partial: Partial;
}

/** The partials in shard order, after checking they are one run's, every shard once, covering the data. */
export function orderShards(parts: readonly Part[]): Part[] {
  const first = parts[0]!;
  for (const p of parts.slice(1)) {
    const differs = runDifferences(first.partial.run, p.partial.run);
    if (differs.length > 0) {
      throw new PartialError([first.file, p.file], `${p.file} and ${first.file} are partials of different runs (they differ in ${differs.join(', ')}): reduce the shards of one run`);
    }
    if (p.partial.shard.count !== first.partial.shard.count) {
      throw new PartialError([first.file, p.file], `${p.file} is shard ${p.partial.shard.index}/${p.partial.shard.count} but ${first.file} is shard ${first.partial.shard.index}/${first.partial.shard.count}: one run's shards share one count`);
    }
  }
  const count = first.partial.shard.count;
  const byIndex = new Map<number, Part>();
  for (const p of parts) {
    const seen = byIndex.get(p.partial.shard.index);
    if (seen) throw new PartialError([seen.file, p.file], `shard ${p.partial.shard.index}/${count} is given twice: ${seen.file} and ${p.file}`);
    byIndex.set(p.partial.shard.index, p);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new PartialError(parts.map((p) => p.file), `shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} of the run missing: give every shard's partial (${count} in all)`);
  }
  const ordered = Array.from({ length: count }, (_, i) => byIndex.get(i)!);
  let next = 0;
  for (const { file, partial } of ordered) {
    const { from, to, samples } = partial.shard;
    if (from !== next || samples !== first.partial.shard.samples) {
      throw new PartialError([file], `${file}: shard ${partial.shard.index}/${count} covers samples ${from} … ${to} of ${samples}, but the shards before it end at ${next} of ${first.partial.shard.samples}`);
    }
    next = to;
  }
  if (next !== first.partial.shard.samples) throw new PartialError([ordered[count - 1]!.file], `the shards cover samples 0 … ${next} of ${first.partial.shard.samples}`);
  return ordered;
}

/** A run's path as the shard that recorded it resolved it: as given when it names the same file from here. */
const at = (cwd: string, file: string): string => (isAbsolute(file) || resolve(cwd, file) === resolve(file) ? file : resolve(cwd, file));

/** The data options with every file resolved against `cwd`. */
function resolveData(data: OpenDatasetOptions, cwd: string): OpenDatasetOptions {
  return {
    ...data,
    ...(data.data !== undefined ? { data: Array.isArray(data.data) ? data.data.map((f) => at(cwd, f)) : at(cwd, data.data) } : {}),
    ...(data.inputs !== undefined ? { inputs: Object.fromEntries(Object.entries(data.inputs).map(([name, f]) => [name, at(cwd, f)])) } : {}),
    ...(data.tokens !== undefined ? { tokens: at(cwd, data.tokens) } : {}),
    ...(data.labels !== undefined && data.labels !== NEXT_TOKEN_LABELS ? { labels: at(cwd, data.labels) } : {}),
  };
}

/** Adds every partial's sums of one part into `accumulators`, in shard order. */
function addShards(parts: readonly Part[], part: string, accumulators: NamedSums): void {
  for (const { file, partial } of parts) {
    const stored = partial.sums[part];
    const names = Object.keys(stored ?? {});
    const unknown = names.find((n) => !accumulators.has(n));
    const absent = [...accumulators.keys()].find((n) => !(stored && n in stored));
    if (!stored || unknown !== undefined || absent !== undefined) {
      throw new PartialError([file], `${file}: its sums of '${part}' do not match the run's (${!stored ? 'none' : unknown !== undefined ? `unexpected '${unknown}'` : `no '${absent}'`}): it was written by another llfc`);
    }
    for (const [name, sums] of accumulators) {
      try {
        sums.merge(storedSums(stored[name]!));
      } catch (e) {
        throw new PartialError([file], `${file}: the sums '${name}' of '${part}' do not fit the run's (${(e as Error).message})`, { cause: e });
      }
    }
  }
}

/** Reads, checks and reduces the partials of one run (in a worker: lib/api.ts); an alignment's files go to `alignment`. */
export async function reducePartials(files: readonly string[], alignment?: AlignmentOutputs): Promise<ShardedResult> {
  if (files.length === 0) throw new InvalidArgumentError('reduce: give the partial files of every shard');
  const parts = await Promise.all(files.map(async (file) => ({ file, partial: await readPartial(file) })));
  const ordered = orderShards(parts);
  const { run, cwd } = ordered[0]!.partial;
  for (const { file, sha256 } of run.hashes) {
    const now = await fileSha256(at(cwd, file)).catch((e: Error) => {
      throw new PartialError([at(cwd, file)], `${at(cwd, file)}: an input of the sharded run cannot be read (${(e as NodeJS.ErrnoException).code ?? e.message}); the reduction reads the checkpoints and data the shards ran on`);
    });
    if (now !== sha256) throw new PartialError([at(cwd, file)], `${at(cwd, file)} has changed since the shards ran (sha256 ${now}, the shards read ${sha256})`);
  }
  const [[a, b], data] = await Promise.all([loadPair(at(cwd, run.a), at(cwd, run.b)), openDataset(resolveData(run.data as OpenDatasetOptions, cwd))]);
  const description = { a: run.a, b: run.b, source: run.report.source, settings: run.report.settings };
  return commandEntry(run.command).result({ a, b, data, options: run.options, run: description, ...(alignment ? { alignment } : {}), add: (part, accumulators) => addShards(ordered, part, accumulators) });
}
