/**
 * Merging many models (SCIENCE.md §6): N checkpoints of one architecture into one, by the plain
 * mean, by MergeMany (Ainsworth et al. 2023, Alg. 3) or by the hierarchical binary tree (Franke
 * et al. 2025), units matched by weights or by activations (lib/align/).
 *
 * - mean: θ = (1/N) Σ θ_i, no permutation.
 * - mergemany: every model starts at the identity; each round visits the models in a seeded
 *   random order, and model i is matched (weight matching from its current permutation, or
 *   activation matching) to the mean of the other models under their current permutations; the
 *   rounds stop after the first that changes no permutation; θ = (1/N) Σ π_i(θ_i).
 * - tree: 2ⁿ models pairwise, level by level: the second of each pair is matched to the first
 *   (from the identity), the pair averaged at ½; with `pad`, a level's odd model is carried up
 *   unchanged (its weight in the merge is then larger: the result lists every model's weight).
 *
 * Means are summed in float64, divided, and rounded once to float32 (per level for the tree). The
 * objective is Σ_{i<j} ⟨π_i(θ_i), π_j(θ_j)⟩ over every parameter (float64); what each pairwise
 * weight matching maximises is this sum's part that involves the model being matched.
 * scripts/fixtures/merge_reference.py is the same in numpy + scipy.
 */
import { pairCheckpoints, type Checkpoint } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { native } from '../native.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { activationMatching, type CorrelationForm } from '../align/activation-matching.js';
import { identityPermutations, permuteArena } from '../align/permute.js';
import { Rng } from '../align/random.js';
import { BoundSpec, inferSpec, type PermutationSpec } from '../align/spec/index.js';
import { weightMatching } from '../align/weight-matching.js';

export type MergeMethod = 'mean' | 'mergemany' | 'tree';
export type MergeMatch = 'weight' | 'activation';

export interface MergeOptions extends RunControl {
  readonly method: MergeMethod;
  /** How units are matched (default 'weight'). */
  readonly match?: MergeMatch;
  /** Seed of MergeMany's model orders and of every weight matching's group orders (default 0). */
  readonly seed?: number;
  /** Tree: allow a count that is not a power of two (default false). */
  readonly pad?: boolean;
  /** MergeMany: at most this many rounds (default 100). */
  readonly maxRounds?: number;
  /** Weight matching: at most this many sweeps per matching (default 100). */
  readonly maxSweeps?: number;
  /** Threads of the native products (default 1). */
  readonly threads?: number;
  /** The spec when already inferred (of the first model; all pair by structure). */
  readonly spec?: PermutationSpec;
  /** The input shape to probe the graph with. */
  readonly inputShape?: readonly number[];
  /** Activation matching: the inputs the models run on. */
  readonly data?: Dataset;
  readonly batchSize?: number;
  readonly correlation?: CorrelationForm;
}

/** The option kinds merging takes as plain values (defaults and validation: lib/options.ts). */
export const PLAIN_MERGE_OPTIONS = {
  method: 'mergeMethod',
  match: 'match',
  seed: 'seed',
  pad: 'pad',
  maxRounds: 'maxRounds',
  maxSweeps: 'maxSweeps',
  threads: 'threads',
  inputShape: 'inputShape',
  batchSize: 'batchSize',
  correlation: 'correlation',
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<Omit<MergeOptions, 'data' | 'spec'>>;

export const MERGE_OPTIONS = { ...PLAIN_MERGE_OPTIONS, spec: 'spec', data: 'dataset' } as const satisfies OptionSchema<MergeOptions>;

/** One MergeMany round: the model order and how many models' permutations changed. */
export interface MergeRound {
  readonly order: number[];
  readonly changed: number;
}

export interface MergeResult {
  readonly method: MergeMethod;
  readonly match: MergeMatch;
  readonly spec: PermutationSpec;
  /** Per model, one permutation per spec group: unit i of the merge is unit permutations[m][g][i] of model m. */
  readonly permutations: Int32Array[][];
  /** Each model's weight in the merge (1/N except for a padded tree). */
  readonly weights: number[];
  /** Σ_{i<j} ⟨π_i(θ_i), π_j(θ_j)⟩ at the identities and at the permutations found. */
  readonly initialObjective: number;
  readonly objective: number;
  /** MergeMany only. */
  readonly rounds?: MergeRound[];
  readonly converged?: boolean;
  /** Tree only: per level, the pairs merged, each as the model indices of its two sides. */
  readonly levels?: number[][][][];
  /** The merge in the first model's parameter layout. */
  readonly merged: Float32Array;
}

/** The mean of arenas: summed in float64, divided by their count, rounded once to float32. */
function meanOf(arenas: readonly Float32Array[]): Float32Array {
  const sum = new Float64Array(arenas[0]!.length);
  for (const x of arenas) for (let i = 0; i < sum.length; i++) sum[i]! += x[i]!;
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = sum[i]! / arenas.length;
  return out;
}

/** Σ_{i<j} ⟨x_i, x_j⟩ in float64. */
function pairObjective(arenas: readonly Float32Array[]): number {
  const addon = native();
  let total = 0;
  for (let i = 0; i < arenas.length; i++) for (let j = i + 1; j < arenas.length; j++) total += addon.gatheredDot(arenas[i]!, arenas[j]!, [arenas[i]!.length], null);
  return total;
}

function samePermutations(p: readonly Int32Array[], q: readonly Int32Array[]): boolean {
  return p.every((x, g) => x.every((v, i) => v === q[g]![i]));
}

/** The checks every merge makes before any work: enough models, one architecture, a tree's count. */
export function checkMergeInputs(files: readonly string[], method: MergeMethod, pad: boolean): void {
  if (files.length < 2) throw new InvalidArgumentError(`merging needs at least 2 models, got ${files.length}${files.length === 1 ? ` (${files[0]})` : ''}`);
  const n = files.length;
  if (method === 'tree' && !pad && (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError(`tree merging pairs models level by level and needs a power of two of them, got ${n}; give --pad (pad: true) to carry a level's odd model up unchanged`);
  }
}

/** Merges the checkpoints (one architecture) into one arena of the first one's layout. */
export async function mergeModels(models: readonly Checkpoint[], options: MergeOptions): Promise<MergeResult> {
  const o = resolveOptions('mergeModels()', MERGE_OPTIONS, options);
  checkMergeInputs(
    models.map((m) => m.file),
    o.method,
    o.pad,
  );
  const [first] = models as [Checkpoint, ...Checkpoint[]];
  for (const m of models.slice(1)) pairCheckpoints(first, m);
  if (o.match === 'activation' && o.method !== 'mean' && !o.data) throw new InvalidArgumentError('activation matching needs data: give the inputs the models run on (--data)');
  const spec = o.spec ?? (await inferSpec(first, o.inputShape ? { inputShape: o.inputShape } : {}));
  const bound = BoundSpec.of(first, spec);
  const n = models.length;
  const rng = new Rng(o.seed);
  const { signal, onProgress } = o;
  const as = (arena: Float32Array): Checkpoint => ({ ...first, arena });
  /** Permutations of B's units onto A's, by the chosen matching. */
  const match = async (a: Float32Array, b: Float32Array, initial?: Int32Array[]): Promise<Int32Array[]> => {
    throwIfAborted(signal);
    if (o.match === 'activation') {
      const am = await activationMatching(as(a), as(b), bound, { data: o.data!, batchSize: o.batchSize, correlation: o.correlation, threads: o.threads, ...(signal ? { signal } : {}) });
      return am.permutations;
    }
    const wm = await weightMatching(as(a), as(b), bound, { seed: rng.next(), maxSweeps: o.maxSweeps, threads: o.threads, ...(initial ? { initial } : {}), ...(signal ? { signal } : {}) });
    return wm.permutations;
  };
  const initialObjective = pairObjective(models.map((m) => m.arena));
  const common = { match: o.match, spec, initialObjective };

  if (o.method === 'mean') {
    return { method: 'mean', ...common, permutations: models.map(() => identityPermutations(spec)), weights: models.map(() => 1 / n), objective: initialObjective, merged: meanOf(models.map((m) => m.arena)) };
  }

  if (o.method === 'mergemany') {
    const perms = models.map(() => identityPermutations(spec));
    const permuted = models.map((m) => m.arena);
    const rounds: MergeRound[] = [];
    let step = 0;
    for (let r = 0; r < o.maxRounds; r++) {
      const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      let changed = 0;
      for (const i of order) {
        const found = await match(meanOf(permuted.filter((_, j) => j !== i)), models[i]!.arena, perms[i]);
        if (!samePermutations(found, perms[i]!)) {
          changed++;
          perms[i] = found;
          permuted[i] = permuteArena(first, bound, found, models[i]!.arena);
        }
        onProgress?.({ phase: 'merge (MergeMany)', done: ++step, total: (r + 2) * n });
      }
      rounds.push({ order, changed });
      if (changed === 0) break;
    }
    const converged = rounds[rounds.length - 1]!.changed === 0;
    return { method: 'mergemany', ...common, permutations: perms, weights: models.map(() => 1 / n), objective: pairObjective(permuted), rounds, converged, merged: meanOf(permuted) };
  }

  // tree
  interface Member {
    readonly model: number;
    readonly perm: Int32Array[];
    readonly weight: number;
  }
  let items: { arena: Float32Array; members: Member[] }[] = models.map((m, model) => ({ arena: m.arena, members: [{ model, perm: identityPermutations(spec), weight: 1 }] }));
  const levels: number[][][][] = [];
  let step = 0;
  const steps = n - 1;
  while (items.length > 1) {
    const next: typeof items = [];
    const pairs: number[][][] = [];
    for (let k = 0; k + 1 < items.length; k += 2) {
      const [a, b] = [items[k]!, items[k + 1]!];
      const p = await match(a.arena, b.arena);
      const members = [
        ...a.members.map((m) => ({ ...m, weight: m.weight / 2 })),
        ...b.members.map((m) => ({ model: m.model, perm: m.perm.map((old, g) => Int32Array.from(p[g]!, (j) => old[j]!)), weight: m.weight / 2 })),
      ];
      next.push({ arena: meanOf([a.arena, permuteArena(first, bound, p, b.arena)]), members });
      pairs.push([a.members.map((m) => m.model), b.members.map((m) => m.model)]);
      onProgress?.({ phase: 'merge (tree)', done: ++step, total: steps });
    }
    if (items.length % 2 === 1) next.push(items[items.length - 1]!);
    levels.push(pairs);
    items = next;
  }
  const members = [...items[0]!.members].sort((x, y) => x.model - y.model);
  const permutations = members.map((m) => m.perm);
  const permuted = models.map((m, i) => permuteArena(first, bound, permutations[i]!, m.arena));
  return { method: 'tree', ...common, permutations, weights: members.map((m) => m.weight), objective: pairObjective(permuted), levels, merged: items[0]!.arena };
}
