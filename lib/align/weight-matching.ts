/**
 * Weight matching (Git Re-Basin; SCIENCE.md §5): permutations of B's hidden units that
 * maximise Σ_tensors ⟨θ_A, π(θ_B)⟩, by coordinate descent over the groups of the spec.
 *
 * All permutations start at the identity. Each sweep visits the groups in a seeded random
 * order (or in given orders); for group P the cost is
 *   C = Σ_{(w, axis) ∈ P} A_w[axis → units] · (B_w with every other axis permuted)[axis → units]ᵀ,
 * each product one float32 GEMM (native/gemm.cc, Eigen) summed into a float64 matrix (a
 * product is kept and reused until a group acting on the tensor's other axes changes), and the
 * linear assignment maximising ⟨P, C⟩ (native/lap.cc) replaces P. The sweep's gain is the sum of
 * ⟨P_new, C⟩ − ⟨P_old, C⟩ over its groups; the search stops after the first sweep gaining
 * ≤ 1e-12. The objective is recomputed exactly (float64) after every sweep.
 *
 * scripts/fixtures/weight_matching_reference.py is the same algorithm in numpy + scipy.
 */
import type { Checkpoint } from '../checkpoint.js';
import { pairCheckpoints } from '../checkpoint.js';
import { InvalidArgumentError } from '../errors.js';
import { linearSumAssignment } from '../lap.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { native } from '../native.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { AxisMaps, checkPermutations } from './permute.js';
import { Rng } from './random.js';
import { BoundSpec, type ParameterAction, type PermutationSpec } from './spec/index.js';

export interface WeightMatchingOptions extends RunControl {
  /** Seed of the random group order of every sweep (default 0). */
  readonly seed?: number;
  /** Explicit group orders, one per sweep (each a permutation of the group indices); overrides `seed`. */
  readonly orders?: readonly (readonly number[])[];
  /** At most this many sweeps (default 100; with `orders`, at most orders.length). */
  readonly maxSweeps?: number;
  /** Stop after a sweep whose gain is ≤ this (default 1e-12). */
  readonly tolerance?: number;
  /** Starting permutations (default: identities). */
  readonly initial?: readonly Int32Array[];
  /**
   * GEMM threads (default 1; 0 = all). The cost products are small and the sweep is
   * sequential: on a busy machine a spinning OpenMP team was measured 10–20× slower than one thread.
   */
  readonly threads?: number;
}

/** The option kinds weight matching takes (defaults and validation: lib/options.ts). */
export const WEIGHT_MATCHING_OPTIONS = {
  seed: 'seed',
  orders: 'orders',
  maxSweeps: 'maxSweeps',
  tolerance: 'tolerance',
  initial: 'initial',
  threads: 'threads',
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<WeightMatchingOptions>;

export interface WeightMatchingResult {
  /** One permutation per group: unit i of the aligned B is unit perm[i] of B. */
  readonly permutations: Int32Array[];
  /** Σ ⟨θ_A, π₀(θ_B)⟩ at the starting permutations (identities unless `initial`). */
  readonly initialObjective: number;
  /** Σ ⟨θ_A, π(θ_B)⟩ after each sweep. */
  readonly objective: number[];
  /** Σ over the sweep's groups of ⟨P_new, C⟩ − ⟨P_old, C⟩. */
  readonly gains: number[];
  /** The group order of each sweep run. */
  readonly orders: number[][];
  readonly sweeps: number;
  /** Whether the last sweep gained ≤ tolerance (false: stopped at maxSweeps). */
  readonly converged: boolean;
}

/** One product of a group's cost: a parameter use and the axis the group acts on. */
interface Term {
  readonly action: ParameterAction;
  /** Columns of the unit matrices. */
  readonly rest: number;
  /** A's unit matrix, size × rest (extracted on first use). */
  a: Float32Array | null;
  /** The groups acting on the tensor's other axes: the product changes only when one of them does. */
  readonly deps: readonly number[];
  /** Whether the last product A·Bᵀ is kept (within CACHE_FLOATS), then the product and the versions of `deps` it was computed at. */
  readonly cached: boolean;
  cache: Float32Array | null;
  key: string | null;
}

/** Floats kept for cached products (128 MB); products beyond it are recomputed every time. */
const CACHE_FLOATS = 2 ** 25;

/**
 * The cost C of a group (above) with every other group at the permutations of `maps`, for
 * weight matching and for anything else that matches units by their weights.
 */
export class WeightCost {
  private readonly terms: Term[][];
  private readonly addon = native();
  private readonly scratchB: Float32Array;
  private readonly scratchC: Float32Array;

  constructor(
    private readonly a: Checkpoint,
    private readonly b: Checkpoint,
    private readonly bound: BoundSpec,
    private readonly threads: number,
  ) {
    let cacheLeft = CACHE_FLOATS;
    const groups = bound.spec.groups;
    this.terms = groups.map((g) =>
      g.parameters.map((action) => {
        const p = a.parameters[action.parameter]!;
        const rest = (p.length / p.shape[action.axis]!) * action.inner;
        const cached = g.size * g.size <= cacheLeft;
        if (cached) cacheLeft -= g.size * g.size;
        return { action, rest, a: null, deps: bound.groupsOnOtherAxes(action.parameter, action.axis), cached, cache: null, key: null };
      }),
    );
    this.scratchB = new Float32Array(Math.max(0, ...groups.flatMap((g, gi) => this.terms[gi]!.map((t) => g.size * t.rest))));
    const maxSize = Math.max(0, ...groups.map((g) => g.size));
    this.scratchC = new Float32Array(maxSize * maxSize);
  }

  /** C of one group, the other groups at the permutations of `maps`. */
  of(group: number, maps: AxisMaps): Float64Array {
    const n = this.bound.spec.groups[group]!.size;
    const cost = new Float64Array(n * n);
    for (const t of this.terms[group]!) {
      const key = t.deps.map((d) => maps.version(d)).join();
      if (t.cached) t.cache ??= new Float32Array(n * n);
      const product = t.cache ?? this.scratchC.subarray(0, n * n);
      if (!t.cache || t.key !== key) {
        t.a ??= this.units(this.a, t.action, n, null, new Float32Array(n * t.rest));
        const others = maps.of(t.action.parameter)!.slice();
        others[t.action.axis] = null;
        const bm = this.units(this.b, t.action, n, others, this.scratchB.subarray(0, n * t.rest));
        this.addon.gemmAbt(t.a, bm, n, n, t.rest, product, this.threads);
        t.key = key;
      }
      this.addon.addToFloat64(cost, product);
    }
    return cost;
  }

  /** The n units of a parameter use along the action's axis as rows (its other axes gathered by `maps`). */
  private units(c: Checkpoint, action: ParameterAction, n: number, maps: (Int32Array | null)[] | null, out: Float32Array): Float32Array {
    const p = c.parameters[action.parameter]!;
    this.addon.extractUnits({ src: c.arena.subarray(p.offset, p.offset + p.length), dims: p.shape, maps, axis: action.axis, offset: action.offset, count: n, inner: action.inner, out });
    return out;
  }
}

function checkOrders(orders: readonly (readonly number[])[], groups: number): void {
  orders.forEach((order, s) => {
    const seen = new Uint8Array(groups);
    const ok = order.length === groups && order.every((g) => Number.isInteger(g) && g >= 0 && g < groups && !seen[g] && (seen[g] = 1));
    if (!ok) throw new InvalidArgumentError(`orders[${s}] is not a permutation of the ${groups} group indices`);
  });
}

/**
 * Aligns B to A by weight matching. A and B must pair by structure and fit the spec (which may
 * be bound already, to B's parameter layout).
 */
export async function weightMatching(a: Checkpoint, b: Checkpoint, spec: PermutationSpec | BoundSpec, options: WeightMatchingOptions = {}): Promise<WeightMatchingResult> {
  const { seed, orders: givenOrders, maxSweeps, tolerance, initial, threads, signal, onProgress } = resolveOptions('weightMatching()', WEIGHT_MATCHING_OPTIONS, options);
  pairCheckpoints(a, b);
  const bound = BoundSpec.of(b, spec);
  const groups = bound.spec.groups;
  if (givenOrders) checkOrders(givenOrders, groups.length);
  const sweepsAllowed = givenOrders ? Math.min(maxSweeps, givenOrders.length) : maxSweeps;
  const rng = new Rng(seed);
  const addon = native();
  const costs = new WeightCost(a, b, bound, threads);
  if (initial) checkPermutations(bound.spec, initial);
  const maps = new AxisMaps(bound, initial);
  const perms = maps.perms;

  const view = (c: Checkpoint, index: number): Float32Array => {
    const p = c.parameters[index]!;
    return c.arena.subarray(p.offset, p.offset + p.length);
  };
  let fixedPart = 0;
  for (const p of a.parameters) if (!maps.of(p.index)) fixedPart += addon.gatheredDot(view(a, p.index), view(b, p.index), p.shape, null);
  const objectiveNow = (): number => {
    let total = fixedPart;
    for (const [index, m] of maps.entries()) total += addon.gatheredDot(view(a, index), view(b, index), a.parameters[index]!.shape, m);
    return total;
  };

  const warm: (Float64Array | undefined)[] = groups.map(() => undefined);
  const initialObjective = objectiveNow();
  const objective: number[] = [];
  const gains: number[] = [];
  const orders: number[][] = [];
  let converged = groups.length === 0;
  for (let sweep = 0; sweep < sweepsAllowed && !converged; sweep++) {
    const order = givenOrders ? [...givenOrders[sweep]!] : rng.shuffle(Array.from({ length: groups.length }, (_, i) => i));
    orders.push(order);
    let gain = 0;
    for (const gi of order) {
      // Lets a Ctrl-C (or any abort) reach the signal between groups.
      await yieldToEventLoop();
      throwIfAborted(signal);
      const n = groups[gi]!.size;
      const cost = costs.of(gi, maps);
      const perm = perms[gi]!;
      let old = 0;
      for (let i = 0; i < n; i++) old += cost[i * n + perm[i]!]!;
      const solved = linearSumAssignment(cost, n, n, warm[gi] ? { maximize: true, warmStart: warm[gi] } : { maximize: true });
      warm[gi] = solved.colDuals;
      gain += solved.total - old;
      maps.set(gi, solved.colInd);
    }
    objective.push(objectiveNow());
    gains.push(gain);
    converged = gain <= tolerance;
    onProgress?.({ phase: 'weight matching', done: sweep + 1, total: converged ? sweep + 1 : sweepsAllowed });
  }
  return { permutations: perms, initialObjective, objective, gains, orders, sweeps: objective.length, converged };
}
