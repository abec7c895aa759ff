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
import { Sums, type NamedSums } from '../sums.js';
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

/**
 * One group's correlations on one tapped value, summed over the batches (compensated,
 * lib/sums.ts): C = Σ z_A z_Bᵀ, the per-unit [Σz_A, Σz_B, Σz_A², Σz_B²], and the observations.
 */
class Accumulator {
  readonly cross: Sums;
  readonly sums: Sums;
  readonly observations = new Sums(1);
  private readonly batchCross: Float64Array;
  private readonly batchSums: Float64Array;

  /** `size`: the units of the group. */
  constructor(
    readonly action: ValueAction,
    readonly size: number,
  ) {
    this.cross = new Sums(size * size);
    this.sums = new Sums(4 * size);
    this.batchCross = new Float64Array(size * size);
    this.batchSums = new Float64Array(4 * size);
  }

  /** Adds one batch of A's and B's features on the accumulator's value. */
  add(za: FloatTensor, zb: FloatTensor, threads: number): void {
    const axis = this.action.axis;
    const outer = za.dims.slice(0, axis).reduce((x, d) => x * d, 1);
    const after = za.dims.slice(axis + 1).reduce((x, d) => x * d, 1);
    const { offset, inner } = this.action;
    this.batchCross.fill(0);
    this.batchSums.fill(0);
    const n = native().accumulateCross({ za: za.data, zb: zb.data, outer, len: za.dims[axis]!, after, offset, count: this.size, inner, cross: this.batchCross, sums: this.batchSums, threads });
    this.cross.addAll(this.batchCross);
    this.sums.addAll(this.batchSums);
    this.observations.add(0, n);
  }

  /** Its sums by name (for a sharded run's partial, lib/shard/). */
  named(prefix: string): [string, Sums][] {
    return [
      [`${prefix} cross`, this.cross],
      [`${prefix} units`, this.sums],
      [`${prefix} observations`, this.observations],
    ];
  }
}

function costOf(accs: readonly Accumulator[], n: number, form: CorrelationForm): Float64Array {
  const cost = new Float64Array(n * n);
  for (const acc of accs) {
    const cross = acc.cross.values();
    if (form === 'cross') {
      for (let k = 0; k < n * n; k++) cost[k]! += cross[k]!;
      continue;
    }
    const s = acc.observations.value(0);
    const sums = acc.sums.values();
    const mean = (off: number, i: number): number => sums[off * n + i]! / s;
    const sd = (off: number, i: number): number => Math.sqrt(Math.max(0, sums[(off + 2) * n + i]! / s - mean(off, i) ** 2));
    for (let i = 0; i < n; i++) {
      const ma = mean(0, i);
      const sa = sd(0, i);
      for (let j = 0; j < n; j++) {
        const sb = sd(1, j);
        const denom = sa * sb;
        const cov = cross[i * n + j]! / s - ma * mean(1, j);
        cost[i * n + j]! += denom > 0 ? cov / denom / accs.length : 0;
      }
    }
  }
  return cost;
}

/** Every group's accumulators (one per value it correlates on), and the tapped values that feed them. */
function correlations(b: Checkpoint, spec: PermutationSpec | BoundSpec) {
  const bound = BoundSpec.of(b, spec);
  const groups = bound.spec.groups;
  // Per tapped value, one accumulator for each group that correlates on it.
  const accOf = new Map<ValueAction, Accumulator>();
  const taps = [...bound.activations].map(([value, uses]) => ({
    value,
    accs: uses.map(({ group, action }) => {
      const acc = new Accumulator(action, groups[group]!.size);
      accOf.set(action, acc);
      return acc;
    }),
  }));
  const accs = groups.map((g) => g.activations.map((action) => accOf.get(action)!));
  const named: NamedSums = new Map(accs.flatMap((group, gi) => group.flatMap((acc, k) => acc.named(`group ${gi} value ${k}`))));
  return { bound, taps, accs, named };
}

/** One pass of A and B over the data, each batch's features added into the accumulators of the values they feed. */
async function correlate(a: Checkpoint, b: Checkpoint, taps: ReturnType<typeof correlations>['taps'], data: Dataset, batchSize: number, threads: number, control: RunControl): Promise<void> {
  const { signal, onProgress } = control;
  const names = taps.map((t) => t.value);
  const sa = await ModelSession.create(a, { taps: names, parameters: a.arena });
  let sb: ModelSession | undefined;
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
        for (const acc of tap.accs) acc.add(za, zb, threads);
      }
      onProgress?.({ phase: 'activation matching', done: ++done, total });
    }
  } finally {
    await sa.release();
    await sb?.release();
  }
}

/** The data activation matching runs on, checked. */
function matchingData(data: Dataset | undefined): Dataset {
  if (!data) throw new InvalidArgumentError('activation matching needs data: give the inputs both models run on (--data)');
  if (data.length === 0) throw new InvalidArgumentError(`${data.source}: activation matching needs at least one sample`);
  return data;
}

/**
 * Aligns B to A by activation matching on `options.data`. The spec may be bound already (to B's
 * parameter layout).
 */
export async function activationMatching(a: Checkpoint, b: Checkpoint, spec: PermutationSpec | BoundSpec, options: ActivationMatchingOptions = {}): Promise<ActivationMatchingResult> {
  const { data: given, correlation: form, batchSize, threads, signal, onProgress } = resolveOptions('activationMatching()', ACTIVATION_MATCHING_OPTIONS, options);
  const data = matchingData(given);
  pairCheckpoints(a, b);
  const { bound, taps, accs } = correlations(b, spec);
  await correlate(a, b, taps, data, batchSize, threads, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  return matchUnits(a, b, bound, accs, form, threads, data.length);
}

/**
 * The pass of activation matching over `options.data` (a shard of the run's data, lib/shard/)
 * without the matching: the correlation sums by name.
 */
export async function activationMatchingSums(a: Checkpoint, b: Checkpoint, spec: PermutationSpec | BoundSpec, options: ActivationMatchingOptions = {}): Promise<NamedSums> {
  const { data, batchSize, threads, signal, onProgress } = resolveOptions('activationMatching()', ACTIVATION_MATCHING_OPTIONS, options);
  if (!data) throw new InvalidArgumentError('activation matching needs data: give the inputs both models run on (--data)');
  pairCheckpoints(a, b);
  const { taps, named } = correlations(b, spec);
  await correlate(a, b, taps, data, batchSize, threads, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  return named;
}

/**
 * Activation matching from correlation sums with no pass over the data: `addSums` adds the sums
 * of every part of the run (the shards' partials, in shard order) into the accumulators.
 */
export async function activationMatchingOfSums(a: Checkpoint, b: Checkpoint, spec: PermutationSpec | BoundSpec, options: ActivationMatchingOptions, addSums: (accumulators: NamedSums) => void): Promise<ActivationMatchingResult> {
  const { data, correlation: form, threads } = resolveOptions('activationMatching()', ACTIVATION_MATCHING_OPTIONS, options);
  const samples = matchingData(data).length;
  pairCheckpoints(a, b);
  const { bound, accs, named } = correlations(b, spec);
  addSums(named);
  return matchUnits(a, b, bound, accs, form, threads, samples);
}

/** The permutations from the accumulated correlations: one linear assignment per group, dead units matched by their weights. */
function matchUnits(a: Checkpoint, b: Checkpoint, bound: BoundSpec, accs: readonly Accumulator[][], form: CorrelationForm, threads: number, samples: number): ActivationMatchingResult {
  const groups = bound.spec.groups;
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
