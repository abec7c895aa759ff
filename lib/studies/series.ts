/**
 * A series of checkpoints (SCIENCE.md §6, Frankle et al. 2020): the LMC barriers of every pair
 * (the pairwise barrier matrix), and for spawned children (trained from one parent saved at
 * step k) the barriers of the children of each k, against k: the instability curve.
 *
 * Each model is evaluated once (the α = 0 and α = 1 ends of every pair it is in); each pair
 * adds its interior α. A child's split step comes from its file name (`…_k500_…`: a `k` and
 * digits between separators) or from a manifest.
 */
import { basename, dirname, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { pairCheckpoints, type Checkpoint } from '../checkpoint.js';
import { linearModeConnectivity } from '../checks/lmc.js';
import { modelLoss } from '../checks/loss.js';
import { lmcResult } from '../checks/loss.js';
import { openDataset, type Dataset, type OpenDatasetOptions } from '../dataset/index.js';
import { DatasetError, InvalidArgumentError } from '../errors.js';
import { loadCheckpoints } from '../load-checkpoints.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import type { LmcBarriers, LmcResult } from '../results.js';

export interface SeriesOptions extends RunControl {
  /** α values of every pair's curve (default: 11 evenly spaced; must hold 0 and 1). */
  readonly alphas?: readonly number[];
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
}

export const SERIES_OPTIONS = { alphas: 'lmcAlphas', batchSize: 'batchSize', ...CONTROL_OPTIONS } as const satisfies OptionSchema<SeriesOptions>;

/** The barriers of the pairs of one split step. */
export interface InstabilityPoint {
  readonly step: number;
  /** The pairs of children (model indices) spawned at this step. */
  readonly pairs: [number, number][];
  readonly loss: number[];
  readonly accuracy: number[];
  readonly meanLoss: number;
  readonly meanAccuracy: number;
}

export interface SeriesResult {
  readonly models: string[];
  /** Each model's loss and accuracy (α = 0 / 1 of its pairs). */
  readonly endpoints: { loss: number; accuracy: number }[];
  /** Every pair i < j with its LMC curve and barriers. */
  readonly pairs: { i: number; j: number; lmc: LmcResult }[];
  /** Symmetric N×N matrices of each barrier (0 on the diagonal). */
  readonly matrix: { [K in keyof LmcBarriers]: number[][] };
  /** Each model's split step (null: not a spawned child), and where the steps came from. */
  readonly steps: (number | null)[];
  readonly stepSource: 'names' | 'manifest';
  /** Per split step with at least two children, ascending. */
  readonly instability: InstabilityPoint[];
  readonly samples: number;
}

/** The split step a file name carries (`spawn_k500_c1.onnx` → 500), or null. */
export function splitStepFromName(file: string): number | null {
  const m = /(?:^|[^A-Za-z0-9])k(\d+)(?=[^0-9]|$)/.exec(basename(file));
  return m ? Number(m[1]) : null;
}

/**
 * A manifest: JSON `{"children": [{"file": "spawn/a.onnx", "step": 500}, …]}`, files relative to
 * the manifest. Returns each model's step (null where the manifest does not list it).
 */
export async function splitStepsFromManifest(manifest: string, models: readonly string[]): Promise<(number | null)[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifest, 'utf8'));
  } catch (error) {
    throw new DatasetError(manifest, `not a readable JSON manifest: ${(error as Error).message}`);
  }
  const children = (json as { children?: unknown } | null)?.children;
  if (!Array.isArray(children)) throw new DatasetError(manifest, 'a manifest is {"children": [{"file": …, "step": …}, …]}; no "children" list');
  const steps = new Map<string, number>();
  children.forEach((c: { file?: unknown; step?: unknown }, k) => {
    if (typeof c?.file !== 'string' || typeof c.step !== 'number' || !Number.isSafeInteger(c.step) || c.step < 0) {
      throw new DatasetError(manifest, `children[${k}] must be {"file": string, "step": integer ≥ 0}`);
    }
    steps.set(resolve(dirname(manifest), c.file), c.step);
  });
  const known = new Set(models.map((m) => resolve(m)));
  const stray = [...steps.keys()].find((f) => !known.has(f));
  if (stray) throw new DatasetError(manifest, `lists ${stray}, which is not among the checkpoints given`);
  return models.map((m) => steps.get(resolve(m)) ?? null);
}

/** The instability curve: the barriers of every pair of children of one step, per step. */
export function instabilityCurve(steps: readonly (number | null)[], pairs: SeriesResult['pairs']): InstabilityPoint[] {
  const distinct = [...new Set(steps.filter((s): s is number => s !== null))].sort((x, y) => x - y);
  const mean = (x: number[]): number => x.reduce((s, v) => s + v, 0) / x.length;
  return distinct.flatMap((step) => {
    const own = pairs.filter((p) => steps[p.i] === step && steps[p.j] === step);
    if (own.length === 0) return [];
    const loss = own.map((p) => p.lmc.barriers!.loss);
    const accuracy = own.map((p) => p.lmc.barriers!.accuracy);
    return [{ step, pairs: own.map((p): [number, number] => [p.i, p.j]), loss, accuracy, meanLoss: mean(loss), meanAccuracy: mean(accuracy) }];
  });
}

/** The pairwise barrier matrix and the instability curve of N checkpoints on labelled data. */
export async function checkpointSeries(models: readonly Checkpoint[], data: Dataset, steps: { steps: (number | null)[]; source: 'names' | 'manifest' }, options: SeriesOptions = {}): Promise<SeriesResult> {
  const { alphas, batchSize, signal, onProgress } = resolveOptions('checkpointSeries()', SERIES_OPTIONS, options);
  if (models.length < 2) throw new InvalidArgumentError(`a series needs at least 2 checkpoints, got ${models.length}`);
  if (!alphas.includes(0) || !alphas.includes(1)) throw new InvalidArgumentError('the barrier matrix needs α = 0 and α = 1 among the α values');
  const first = models[0]!;
  for (const m of models.slice(1)) pairCheckpoints(first, m);
  const sorted = [...new Set(alphas)].sort((x, y) => x - y);
  const interior = sorted.filter((x) => x > 0 && x < 1);
  const n = models.length;
  const pairCount = (n * (n - 1)) / 2;
  const batches = Math.ceil(data.length / batchSize);
  const total = batches * (n + pairCount * interior.length);
  let done = 0;
  const tick = (): void => onProgress?.({ phase: 'series', done: ++done, total });

  const endpoints: SeriesResult['endpoints'] = [];
  for (const m of models) {
    throwIfAborted(signal);
    endpoints.push(await modelLoss(m, m.arena, data, { batchSize, signal, onBatch: tick }));
  }
  const pairs: SeriesResult['pairs'] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const inner =
        interior.length > 0
          ? await linearModeConnectivity(models[i]!, models[j]!, data, { alphas: interior, batchSize, ...(signal ? { signal } : {}), onProgress: tick })
          : { loss: [], accuracy: [], tokens: undefined };
      const [a, b] = [endpoints[i]!, endpoints[j]!];
      const lmc = lmcResult(sorted, [a.loss, ...inner.loss, b.loss], [a.accuracy, ...inner.accuracy, b.accuracy], data.length, inner.tokens ?? data.length);
      pairs.push({ i, j, lmc });
    }
  }
  const matrixOf = (key: keyof LmcBarriers): number[][] => {
    const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (const p of pairs) m[p.i]![p.j] = m[p.j]![p.i] = p.lmc.barriers![key];
    return m;
  };
  return {
    models: models.map((m) => m.file),
    endpoints,
    pairs,
    matrix: { loss: matrixOf('loss'), lossMidpoint: matrixOf('lossMidpoint'), accuracy: matrixOf('accuracy') },
    steps: steps.steps,
    stepSource: steps.source,
    instability: instabilityCurve(steps.steps, pairs),
    samples: data.length,
  };
}

export interface SeriesRequest {
  /** The checkpoints (ONNX), one architecture. */
  readonly models: readonly string[];
  /** Inputs and labels. */
  readonly data: OpenDatasetOptions;
  /** Split steps from this manifest instead of the file names. */
  readonly manifest?: string;
}

/** The series of files (in the worker). */
export async function seriesOfFiles(request: SeriesRequest, options: SeriesOptions): Promise<SeriesResult> {
  if (request.models.length < 2) throw new InvalidArgumentError(`a series needs at least 2 checkpoints, got ${request.models.length}`);
  const [models, data] = await Promise.all([loadCheckpoints(request.models), openDataset(request.data)]);
  const steps = request.manifest
    ? { steps: await splitStepsFromManifest(request.manifest, request.models), source: 'manifest' as const }
    : { steps: request.models.map(splitStepFromName), source: 'names' as const };
  return checkpointSeries(models, data, steps, options);
}
