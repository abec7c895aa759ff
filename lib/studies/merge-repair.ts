/**
 * REPAIR of a merge (SCIENCE.md §6, docs/definitions.md): the merged model Σ_i w_i π_i(θ_i) with
 * each hidden layer's statistics corrected, per channel, to the weighted mean of the permuted
 * models' statistics (lib/studies/repair.ts, whose pair form is the case N = 2). Permuting units
 * only reorders a layer's per-channel statistics, so each model is measured as π_i(θ_i).
 */
import type { Checkpoint } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { permuteArena } from '../align/permute.js';
import { BoundSpec } from '../align/spec/index.js';
import { resolveOptions } from '../options.js';
import { carriedArena, Repair, REPAIR_OPTIONS, repairEndpoints, type RepairOptions, type RepairStatistics } from './repair.js';
import type { MergeResult } from './merge.js';

/** The repaired merge: the graph it lives in (the first model's, with any bias REPAIR added), its arena, and how it was repaired. */
export interface RepairedMerge {
  readonly graph: Checkpoint;
  readonly arena: Float32Array;
  readonly form: 'fold' | 'batchnorm';
  readonly layers: string[];
  readonly statistics: RepairStatistics;
}

/**
 * REPAIR of `result`, the merge of `models`: statistics from `repairData`, else the first
 * `repairSamples` of `data`. Progress (phase 'repair') counts batches: each model's statistics
 * passes, then the merge's.
 */
export async function repairedMerge(models: readonly Checkpoint[], result: MergeResult, data: Dataset, options: RepairOptions = {}): Promise<RepairedMerge> {
  const first = models[0]!;
  const bound = BoundSpec.of(first, result.spec);
  const permuted = models.map((m, i) => permuteArena(first, bound, result.permutations[i]!, m.arena));
  const prepared = repairEndpoints(first, permuted);
  const set = Repair.statisticsSet(data, options);
  const { batchSize } = resolveOptions('repairedMerge()', REPAIR_OPTIONS, options);
  const total = Math.ceil(set.samples / batchSize) * (Repair.endpointPasses(prepared) + Repair.passesPerAlpha(prepared));
  let done = 0;
  const tick = (): void => options.onProgress?.({ phase: 'repair', done: ++done, total });
  const repair = await Repair.create(prepared, data, options, tick);
  const theta = Float32Array.from(carriedArena(first, prepared.graph, result.merged));
  await repair.repaired(theta, result.weights, tick);
  return { graph: prepared.graph, arena: theta, form: prepared.form, layers: repair.layerNames(), statistics: repair.statistics };
}
