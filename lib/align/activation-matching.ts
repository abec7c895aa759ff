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
 * Groups of blocks (attention heads, experts; SCIENCE.md §7) are matched with the groups they
 * carry: the correlations are taken between every member of A and every member of B (head i's
 * dims of A against head j's of B, on the value where all heads lie; expert i's hidden units of A
 * against expert j's of B, on their two values), the within-block assignment of every pair (i, j)
 * is solved (one per kind of member: QK dims, V dims, an expert's hidden units), the pair's score
 * is the sum of their best values (plus, for experts, the gate outputs' correlation of i and j),
 * and the blocks are assigned to maximise the total score; each member of B takes the
 * within-block assignment of its chosen pair.
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
import { OutputBuffers } from '../runner.js';
import { Sums, type NamedSums } from '../sums.js';
import { AxisMaps, expertSources, identityPermutation } from './permute.js';
import { BoundSpec, type PermutationGroup, type PermutationSpec, type ValueAction } from './spec/index.js';
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
export class Accumulator {
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

  /** The accumulated sums as one correlation block (all its units against all). */
  block(): CorrelationBlock {
    return { cross: this.cross.values(), sums: this.sums.values(), observations: this.observations.value(0) };
  }
}

/**
 * Sums over the data of n units of A against n units of B: C = Σ z_A z_Bᵀ (n×n), the per-unit
 * [Σz_A, Σz_B, Σz_A², Σz_B²] (4n) and the observations.
 */
interface CorrelationBlock {
  readonly cross: Float64Array;
  readonly sums: Float64Array;
  readonly observations: number;
}

/** The block of units [ra, ra+n) of A against [rb, rb+n) of B inside a block of `size` units. */
function subBlock(full: CorrelationBlock, size: number, ra: number, rb: number, n: number): CorrelationBlock {
  const cross = new Float64Array(n * n);
  for (let i = 0; i < n; i++) cross.set(full.cross.subarray((ra + i) * size + rb, (ra + i) * size + rb + n), i * n);
  const sums = new Float64Array(4 * n);
  [ra, rb, ra, rb].forEach((start, k) => sums.set(full.sums.subarray(k * size + start, k * size + start + n), k * n));
  return { cross, sums, observations: full.observations };
}

function costOf(blocks: readonly CorrelationBlock[], n: number, form: CorrelationForm): Float64Array {
  const cost = new Float64Array(n * n);
  for (const { cross, sums, observations: s } of blocks) {
    if (form === 'cross') {
      for (let k = 0; k < n * n; k++) cost[k]! += cross[k]!;
      continue;
    }
    const mean = (off: number, i: number): number => sums[off * n + i]! / s;
    const sd = (off: number, i: number): number => Math.sqrt(Math.max(0, sums[(off + 2) * n + i]! / s - mean(off, i) ** 2));
    for (let i = 0; i < n; i++) {
      const ma = mean(0, i);
      const sa = sd(0, i);
      for (let j = 0; j < n; j++) {
        const sb = sd(1, j);
        const denom = sa * sb;
        const cov = cross[i * n + j]! / s - ma * mean(1, j);
        cost[i * n + j]! += denom > 0 ? cov / denom / blocks.length : 0;
      }
    }
  }
  return cost;
}

/** An accumulator fed by a value of A and a value of B (the same value, or two experts' own). */
/** An accumulator and the values of A and B it correlates. */
export interface Feed {
  readonly a: string;
  readonly b: string;
  readonly acc: Accumulator;
}

/**
 * The correlations of one kind of member of a block group on one of their values, member u of A
 * against member j of B: on one value where all members lie (heads), one accumulator over the
 * span they cover; on a value per member (experts), one accumulator per pair.
 */
interface MemberCorrelation {
  pair(u: number, j: number): CorrelationBlock;
}

/** One kind of member of a block group (its groups by unit) and their correlations. */
interface BlockKind {
  readonly members: readonly number[];
  readonly correlations: readonly MemberCorrelation[];
}

/**
 * The correlations of a block group's members across blocks, with the feeds they need; null when
 * some kind of member cannot be correlated block against block (a member without activations,
 * or activations that do not line up), and the group is then matched member by member in place.
 */
function blockCorrelations(groups: readonly PermutationGroup[], g: PermutationGroup, prefix: string): { kinds: BlockKind[]; feeds: Feed[]; named: [string, Sums][] } | null {
  const feeds: Feed[] = [];
  const named: [string, Sums][] = [];
  const kinds: BlockKind[] = [];
  for (const [k, members] of (g.carries ?? []).entries()) {
    if (members.some((m) => m === null)) return null;
    const lists = (members as number[]).map((m) => groups[m]!.activations);
    const n = groups[members[0]!]!.size;
    if (lists[0]!.length === 0 || lists.some((l) => l.length !== lists[0]!.length)) return null;
    const correlations: MemberCorrelation[] = [];
    for (let t = 0; t < lists[0]!.length; t++) {
      const actions = lists.map((l) => l[t]!);
      const first = actions[0]!;
      const alike = actions.every((x) => x.axis === first.axis && x.inner === first.inner && x.shape.join() === first.shape.join());
      if (!alike) return null;
      const name = `${prefix} kind ${k} value ${t}`;
      if (actions.every((x) => x.value === first.value)) {
        const low = Math.min(...actions.map((x) => x.offset));
        const high = Math.max(...actions.map((x) => x.offset));
        if (actions.some((x) => (x.offset - low) % first.inner !== 0)) return null;
        const size = (high - low) / first.inner + n;
        const starts = actions.map((x) => (x.offset - low) / first.inner);
        const acc = new Accumulator({ ...first, offset: low }, size);
        feeds.push({ a: first.value, b: first.value, acc });
        named.push(...acc.named(`${name} span`));
        let full: CorrelationBlock | undefined;
        correlations.push({ pair: (u, j) => subBlock((full ??= acc.block()), size, starts[u]!, starts[j]!, n) });
        continue;
      }
      if (actions.some((x) => x.offset !== first.offset)) return null;
      const accs = actions.flatMap((xu, u) =>
        actions.map((xj, j) => {
          const acc = new Accumulator(first, n);
          feeds.push({ a: xu.value, b: xj.value, acc });
          named.push(...acc.named(`${name} pair ${u} ${j}`));
          return acc;
        }),
      );
      correlations.push({ pair: (u, j) => accs[u * actions.length + j]!.block() });
    }
    kinds.push({ members: members as number[], correlations });
  }
  return kinds.length > 0 ? { kinds, feeds, named } : null;
}

/** Every group's accumulators (one per value it correlates on), the block groups' correlations, and the feeds that fill them. */
function correlations(b: Checkpoint, spec: PermutationSpec | BoundSpec) {
  const bound = BoundSpec.of(b, spec);
  const groups = bound.spec.groups;
  const feeds: Feed[] = [];
  const accOf = new Map<ValueAction, Accumulator>();
  for (const [value, uses] of bound.activations) {
    for (const { group, action } of uses) {
      const acc = new Accumulator(action, groups[group]!.size);
      accOf.set(action, acc);
      feeds.push({ a: value, b: value, acc });
    }
  }
  const accs = groups.map((g) => g.activations.map((action) => accOf.get(action)!));
  const named = new Map(accs.flatMap((group, gi) => group.flatMap((acc, k) => acc.named(`group ${gi} value ${k}`))));
  const blocks = groups.map((g, gi) => {
    const found = g.carries ? blockCorrelations(groups, g, `group ${gi}`) : null;
    if (!found) return null;
    feeds.push(...found.feeds);
    for (const [name, sums] of found.named) named.set(name, sums);
    return found.kinds;
  });
  return { bound, feeds, accs, blocks, named: named as NamedSums };
}

/** One pass of A and B over the data, each batch's features added into the accumulators they feed. */
export async function correlate(a: Checkpoint, b: Checkpoint, feeds: readonly Feed[], data: Dataset, batchSize: number, threads: number, control: RunControl): Promise<void> {
  const { signal, onProgress } = control;
  const names = [...new Set(feeds.flatMap((f) => [f.a, f.b]))];
  const sa = await ModelSession.create(a, { taps: names, parameters: a.arena });
  let sb: ModelSession | undefined;
  try {
    sb = await ModelSession.create(b, { taps: names, parameters: b.arena });
    sa.checkInputShape(data.sampleShape, data.source, data.inputType);
    const total = Math.ceil(data.length / batchSize);
    let done = 0;
    // A's and B's features are written into the same arrays batch after batch (each batch is added before the next runs).
    const [ia, ib] = [new OutputBuffers(), new OutputBuffers()];
    for await (const batch of data.batches(batchSize, signal ? { signal } : {})) {
      throwIfAborted(signal);
      const dims = [batch.size, ...data.sampleShape];
      const [oa, ob] = [await sa.run(batch.inputs, dims, undefined, ia), await sb.run(batch.inputs, dims, undefined, ib)];
      for (const feed of feeds) feed.acc.add(floatOutput(oa, feed.a, a.file), floatOutput(ob, feed.b, b.file), threads);
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
  const { bound, feeds, accs, blocks } = correlations(b, spec);
  await correlate(a, b, feeds, data, batchSize, threads, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  return matchUnits(a, b, bound, accs, blocks, form, threads, data.length);
}

/**
 * The pass of activation matching over `options.data` (a shard of the run's data, lib/shard/)
 * without the matching: the correlation sums by name.
 */
export async function activationMatchingSums(a: Checkpoint, b: Checkpoint, spec: PermutationSpec | BoundSpec, options: ActivationMatchingOptions = {}): Promise<NamedSums> {
  const { data, batchSize, threads, signal, onProgress } = resolveOptions('activationMatching()', ACTIVATION_MATCHING_OPTIONS, options);
  if (!data) throw new InvalidArgumentError('activation matching needs data: give the inputs both models run on (--data)');
  pairCheckpoints(a, b);
  const { feeds, named } = correlations(b, spec);
  await correlate(a, b, feeds, data, batchSize, threads, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
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
  const { bound, accs, blocks, named } = correlations(b, spec);
  addSums(named);
  return matchUnits(a, b, bound, accs, blocks, form, threads, samples);
}

/**
 * The permutations from the accumulated correlations: one linear assignment per group; a group
 * of blocks with its members (within-block assignments per pair of blocks, then the blocks);
 * dead units matched by their weights.
 */
function matchUnits(
  a: Checkpoint,
  b: Checkpoint,
  bound: BoundSpec,
  accs: readonly Accumulator[][],
  blocks: readonly (readonly BlockKind[] | null)[],
  form: CorrelationForm,
  threads: number,
  samples: number,
): ActivationMatchingResult {
  const groups = bound.spec.groups;
  const permutations: Int32Array[] = groups.map((g) => identityPermutation(g.size));
  const identityScore: number[] = groups.map(() => 0);
  const score: number[] = groups.map(() => 0);
  const skipped: { group: number; label: string }[] = [];
  // Per group of B: the group of A its units were matched with, and the rows of its cost that were all zeros.
  const partner = groups.map((_, gi) => gi);
  const blank: number[][] = groups.map(() => []);
  const blankRows = (cost: Float64Array, n: number): number[] => Array.from({ length: n }, (_, i) => i).filter((i) => cost.subarray(i * n, (i + 1) * n).every((v) => v === 0));
  const trace = (cost: Float64Array, n: number): number => Array.from({ length: n }, (_, i) => cost[i * n + i]!).reduce((x, y) => x + y, 0);
  const inBlocks = new Set(blocks.flatMap((kinds) => (kinds ?? []).flatMap((k) => k.members)));
  groups.forEach((g, gi) => {
    const n = g.size;
    const kinds = blocks[gi];
    if (kinds) {
      const own = accs[gi]!.length > 0 ? costOf(accs[gi]!.map((acc) => acc.block()), n, form) : new Float64Array(n * n);
      const pairScore = Float64Array.from(own);
      const within = kinds.map((kind) =>
        Array.from({ length: n * n }, (_, pair) => {
          const u = Math.floor(pair / n);
          const j = pair % n;
          const size = groups[kind.members[0]!]!.size;
          const cost = costOf(kind.correlations.map((c) => c.pair(u, j)), size, form);
          const solved = linearSumAssignment(cost, size, size, { maximize: true });
          pairScore[pair]! += solved.total;
          if (u === j) identityScore[kind.members[u]!] = trace(cost, size);
          return { cost, solved };
        }),
      );
      const solved = linearSumAssignment(pairScore, n, n, { maximize: true });
      permutations[gi] = Int32Array.from(solved.colInd);
      identityScore[gi] = trace(own, n);
      score[gi] = Array.from(solved.colInd, (j, u) => own[u * n + j]!).reduce((x, y) => x + y, 0);
      kinds.forEach((kind, k) => {
        solved.colInd.forEach((j, u) => {
          const m = kind.members[j]!;
          const chosen = within[k]![u * n + j]!;
          permutations[m] = Int32Array.from(chosen.solved.colInd);
          score[m] = chosen.solved.total;
          partner[m] = kind.members[u]!;
          blank[m] = blankRows(chosen.cost, groups[m]!.size);
        });
      });
      return;
    }
    if (inBlocks.has(gi)) return;
    if (accs[gi]!.length === 0) {
      skipped.push({ group: gi, label: g.label });
      return;
    }
    const cost = costOf(accs[gi]!.map((acc) => acc.block()), n, form);
    const solved = linearSumAssignment(cost, n, n, { maximize: true });
    permutations[gi] = Int32Array.from(solved.colInd);
    identityScore[gi] = trace(cost, n);
    score[gi] = solved.total;
    blank[gi] = blankRows(cost, n);
  });
  // Units the data cannot tell apart: rearranged among themselves by their weights (against the
  // units of A they were matched with), the other groups at their permutations so far.
  const weights = blank.some((rows) => rows.length >= 2) ? { costs: new WeightCost(a, b, bound, threads), maps: new AxisMaps(bound, permutations) } : undefined;
  const tiesBrokenByWeights = groups.map((g, gi) => {
    const rows = blank[gi]!;
    if (rows.length < 2 || !weights) return 0;
    const n = g.size;
    const perm = permutations[gi]!;
    const cols = rows.map((i) => perm[i]!);
    const w = partner[gi] === gi ? weights.costs.of(gi, weights.maps, expertSources(bound.spec, permutations)) : weights.costs.between(partner[gi]!, gi, weights.maps);
    const sub = new Float64Array(rows.length * rows.length);
    rows.forEach((i, r) => cols.forEach((j, c) => (sub[r * rows.length + c] = w[i * n + j]!)));
    const solved = linearSumAssignment(sub, rows.length, rows.length, { maximize: true });
    rows.forEach((i, r) => (perm[i] = cols[solved.colInd[r]!]!));
    weights.maps.set(gi, perm);
    return rows.length;
  });
  return { permutations, correlation: form, samples, identityScore, score, tiesBrokenByWeights, skipped };
}
