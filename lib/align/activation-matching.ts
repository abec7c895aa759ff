/**
 * Activation matching (Git Re-Basin; SCIENCE.md §5): per permutation group, the correlation of
 * A's and B's units over the data, then one linear assignment per group.
 *
 * For every group the spec names the graph values it acts on that feed a weight layer (the
 * post-activation features, after pooling where a pool comes first). Both models run on the
 * same batches; for each such value, every unit is a variable and every sample × spatial
 * position (× position inside a flattened channel block) is one observation. The native kernel
 * accumulates C = Σ z_A z_Bᵀ and the per-unit sums and squares in float64. The cost of a group
 * is C summed over its values (form 'cross'), or the Pearson correlation matrix averaged over
 * them (form 'pearson'; a unit with zero variance correlates 0 with everything).
 *
 * Units dead on the data (a cost row of zeros) score the same under any arrangement; they are
 * matched among themselves by their weights (the weight-matching cost), so that a planted
 * permutation is recovered exactly even where the data cannot tell units apart.
 */
import type { Checkpoint } from '../checkpoint.js';
import { pairCheckpoints } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { linearSumAssignment } from '../lap.js';
import { native } from '../native.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { floatOutput, ModelSession, type FloatTensor } from '../session.js';
import { AxisMaps, identityPermutation } from './permute.js';
import { BoundSpec, type PermutationSpec, type ValueAction } from './spec/index.js';
import { WeightCost } from './weight-matching.js';

export type CorrelationForm = 'cross' | 'pearson';

export interface ActivationMatchingOptions extends RunControl {
  /** The inputs both models run on (labels are not needed). */
  readonly data?: Dataset;
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
  /** 'cross' (default): C = Σ z_A z_Bᵀ; 'pearson': the correlation coefficients. */
  readonly correlation?: CorrelationForm;
  /** Threads of the correlation products (default 1; 0 = all). */
  readonly threads?: number;
}

/** The option kinds activation matching takes (defaults and validation: lib/options.ts). */
export const ACTIVATION_MATCHING_OPTIONS = {
  data: 'dataset',
  batchSize: 'batchSize',
  correlation: 'correlation',
  threads: 'threads',
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<ActivationMatchingOptions>;

export interface ActivationMatchingResult {
  /** One permutation per group: unit i of the aligned B is unit perm[i] of B. */
  readonly permutations: Int32Array[];
  readonly correlation: CorrelationForm;
  /** Data samples used. */
  readonly samples: number;
  /** Per group, ⟨I, C⟩ (before) and ⟨P, C⟩ (after). */
  readonly identityScore: number[];
  readonly score: number[];
  /**
   * Per group, units whose cost row is all zeros (dead on the data: no activation, or no
   * variance for 'pearson'). Any arrangement of them scores the same, so they are matched
   * among themselves by the weight-matching cost instead (the other groups at their
   * activation-matched permutations).
   */
  readonly tiesBrokenByWeights: number[];
  /** Groups left at the identity because no graph value carries them. */
  readonly skipped: { group: number; label: string }[];
}

interface Accumulator {
  readonly action: ValueAction;
  /** Units of the group. */
  readonly size: number;
  readonly cross: Float64Array;
  readonly sums: Float64Array;
  samples: number;
}

/** Adds one batch of A's and B's features on the accumulator's value to its sums. */
function accumulate(acc: Accumulator, za: FloatTensor, zb: FloatTensor, threads: number): void {
  const axis = acc.action.axis;
  const outer = za.dims.slice(0, axis).reduce((x, d) => x * d, 1);
  const after = za.dims.slice(axis + 1).reduce((x, d) => x * d, 1);
  const { offset, inner } = acc.action;
  acc.samples += native().accumulateCross({ za: za.data, zb: zb.data, outer, len: za.dims[axis]!, after, offset, count: acc.size, inner, cross: acc.cross, sums: acc.sums, threads });
}

function costOf(accs: readonly Accumulator[], n: number, form: CorrelationForm): Float64Array {
  const cost = new Float64Array(n * n);
  for (const acc of accs) {
    if (form === 'cross') {
      for (let k = 0; k < n * n; k++) cost[k]! += acc.cross[k]!;
      continue;
    }
    const s = acc.samples;
    const mean = (off: number, i: number): number => acc.sums[off * n + i]! / s;
    const sd = (off: number, i: number): number => Math.sqrt(Math.max(0, acc.sums[(off + 2) * n + i]! / s - mean(off, i) ** 2));
    for (let i = 0; i < n; i++) {
      const ma = mean(0, i);
      const sa = sd(0, i);
      for (let j = 0; j < n; j++) {
        const sb = sd(1, j);
        const denom = sa * sb;
        const cov = acc.cross[i * n + j]! / s - ma * mean(1, j);
        cost[i * n + j]! += denom > 0 ? cov / denom / accs.length : 0;
      }
    }
  }
  return cost;
}

/**
 * Aligns B to A by activation matching on `options.data`. The spec may be bound already (to B's
 * parameter layout).
 */
export async function activationMatching(a: Checkpoint, b: Checkpoint, spec: PermutationSpec | BoundSpec, options: ActivationMatchingOptions = {}): Promise<ActivationMatchingResult> {
  const { data, correlation: form, batchSize, threads, signal, onProgress } = resolveOptions('activationMatching()', ACTIVATION_MATCHING_OPTIONS, options);
  if (!data) throw new InvalidArgumentError('activation matching needs data: give the inputs both models run on (--data)');
  if (data.length === 0) throw new InvalidArgumentError(`${data.source}: activation matching needs at least one sample`);
  pairCheckpoints(a, b);
  const bound = BoundSpec.of(b, spec);
  const groups = bound.spec.groups;
  // Per tapped value, one accumulator for each group that correlates on it.
  const accOf = new Map<ValueAction, Accumulator>();
  const taps = [...bound.activations].map(([value, uses]) => ({
    value,
    accs: uses.map(({ group, action }) => {
      const n = groups[group]!.size;
      const acc = { action, size: n, cross: new Float64Array(n * n), sums: new Float64Array(4 * n), samples: 0 };
      accOf.set(action, acc);
      return acc;
    }),
  }));
  const accs = groups.map((g) => g.activations.map((action) => accOf.get(action)!));
  const names = taps.map((t) => t.value);
  const sa = await ModelSession.create(a, { taps: names, parameters: a.arena });
  let sb: ModelSession | undefined;
  let samples = 0;
  try {
    sb = await ModelSession.create(b, { taps: names, parameters: b.arena });
    sa.checkInputShape(data.sampleShape, data.source, data.inputType);
    const total = Math.ceil(data.length / batchSize);
    let done = 0;
    for await (const batch of data.batches(batchSize, signal ? { signal } : {})) {
      throwIfAborted(signal);
      const dims = [batch.size, ...data.sampleShape];
      const [oa, ob] = [await sa.run(batch.inputs, dims), await sb.run(batch.inputs, dims)];
      for (const tap of taps) {
        const za = floatOutput(oa, tap.value, a.file);
        const zb = floatOutput(ob, tap.value, b.file);
        for (const acc of tap.accs) accumulate(acc, za, zb, threads);
      }
      samples += batch.size;
      onProgress?.({ phase: 'activation matching', done: ++done, total });
    }
  } finally {
    await sa.release();
    await sb?.release();
  }
  const permutations: Int32Array[] = [];
  const identityScore: number[] = [];
  const score: number[] = [];
  const skipped: { group: number; label: string }[] = [];
  const blank: number[][] = [];
  groups.forEach((g, gi) => {
    const n = g.size;
    blank.push([]);
    if (accs[gi]!.length === 0) {
      skipped.push({ group: gi, label: g.label });
      permutations.push(identityPermutation(n));
      identityScore.push(0);
      score.push(0);
      return;
    }
    const cost = costOf(accs[gi]!, n, form);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += cost[i * n + i]!;
    const solved = linearSumAssignment(cost, n, n, { maximize: true });
    permutations.push(Int32Array.from(solved.colInd));
    identityScore.push(trace);
    score.push(solved.total);
    for (let i = 0; i < n; i++) if (cost.subarray(i * n, (i + 1) * n).every((v) => v === 0)) blank[gi]!.push(i);
  });
  // Units the data cannot tell apart: rearranged among themselves by their weights, the other
  // groups at their permutations so far.
  const weights = blank.some((rows) => rows.length >= 2) ? { costs: new WeightCost(a, b, bound, threads), maps: new AxisMaps(bound, permutations) } : undefined;
  const tiesBrokenByWeights = groups.map((g, gi) => {
    const rows = blank[gi]!;
    if (rows.length < 2 || !weights) return 0;
    const n = g.size;
    const perm = permutations[gi]!;
    const cols = rows.map((i) => perm[i]!);
    const w = weights.costs.of(gi, weights.maps);
    const sub = new Float64Array(rows.length * rows.length);
    rows.forEach((i, r) => cols.forEach((j, c) => (sub[r * rows.length + c] = w[i * n + j]!)));
    const solved = linearSumAssignment(sub, rows.length, rows.length, { maximize: true });
    rows.forEach((i, r) => (perm[i] = cols[solved.colInd[r]!]!));
    weights.maps.set(gi, perm);
    return rows.length;
  });
  return { permutations, correlation: form, samples, identityScore, score, tiesBrokenByWeights, skipped };
}
