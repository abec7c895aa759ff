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
import { checkPermutations, checkSpecFits, identityPermutations, parameterMaps, writeAction } from './permute.js';
import { Rng } from './random.js';
import type { ParameterAction, PermutationSpec } from './spec.js';

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

interface Entry {
  readonly action: ParameterAction;
  readonly count: number;
  /** Columns of the unit matrices. */
  readonly rest: number;
  /** A's unit matrix, count × rest. */
  readonly a: Float32Array;
  /** The groups acting on the tensor's other axes: the product changes only when one of them does. */
  readonly deps: readonly number[];
  /** The last product A·Bᵀ (count × count) and the versions of `deps` it was computed at. */
  cache: Float32Array | null;
  key: string | null;
}

/** Floats kept for cached products (128 MB); entries beyond it are recomputed every time. */
const CACHE_FLOATS = 2 ** 25;

function checkOrders(orders: readonly (readonly number[])[], groups: number): void {
  orders.forEach((order, s) => {
    const seen = new Uint8Array(groups);
    const ok = order.length === groups && order.every((g) => Number.isInteger(g) && g >= 0 && g < groups && !seen[g] && (seen[g] = 1));
    if (!ok) throw new InvalidArgumentError(`orders[${s}] is not a permutation of the ${groups} group indices`);
  });
}

/**
 * The weight-matching cost of one group with every other group at `perms`:
 * C = Σ_{(w, axis) ∈ group} A_w[axis → units] · (B_w, other axes permuted)[axis → units]ᵀ (n × n, float64).
 */
export function groupWeightCost(a: Checkpoint, b: Checkpoint, spec: PermutationSpec, group: number, perms: readonly Int32Array[], threads: number): Float64Array {
  const addon = native();
  const g = spec.groups[group]!;
  const n = g.size;
  const maps = parameterMaps(b, spec, perms);
  const cost = new Float64Array(n * n);
  const c32 = new Float32Array(n * n);
  for (const act of g.parameters) {
    const p = b.parameters[act.parameter]!;
    const rest = (p.length / p.shape[act.axis]!) * act.inner;
    const others = (maps.get(act.parameter) ?? p.shape.map(() => null)).slice();
    others[act.axis] = null;
    const am = new Float32Array(n * rest);
    const bm = new Float32Array(n * rest);
    addon.extractUnits({ src: a.arena.subarray(p.offset, p.offset + p.length), dims: p.shape, maps: null, axis: act.axis, offset: act.offset, count: n, inner: act.inner, out: am });
    addon.extractUnits({ src: b.arena.subarray(p.offset, p.offset + p.length), dims: p.shape, maps: others, axis: act.axis, offset: act.offset, count: n, inner: act.inner, out: bm });
    addon.gemmAbt(am, bm, n, n, rest, c32, threads);
    addon.addToFloat64(cost, c32);
  }
  return cost;
}

/** Aligns B to A by weight matching. A and B must pair by structure and fit the spec. */
export async function weightMatching(a: Checkpoint, b: Checkpoint, spec: PermutationSpec, options: WeightMatchingOptions = {}): Promise<WeightMatchingResult> {
  const { seed, orders: givenOrders, maxSweeps, tolerance, initial, threads, signal, onProgress } = resolveOptions('weightMatching()', WEIGHT_MATCHING_OPTIONS, options);
  pairCheckpoints(a, b);
  checkSpecFits(b, spec);
  const groups = spec.groups;
  if (givenOrders) checkOrders(givenOrders, groups.length);
  const sweepsAllowed = givenOrders ? Math.min(maxSweeps, givenOrders.length) : maxSweeps;
  const rng = new Rng(seed);
  const addon = native();

  // Per parameter use: the source-index maps of the current permutations (null = identity).
  const maps = new Map<number, (Int32Array | null)[]>();
  for (const g of groups) {
    for (const act of g.parameters) {
      const p = b.parameters[act.parameter]!;
      const axes = maps.get(act.parameter) ?? p.shape.map(() => null);
      axes[act.axis] ??= Int32Array.from({ length: p.shape[act.axis]! }, (_, i) => i);
      maps.set(act.parameter, axes);
    }
  }
  const view = (c: Checkpoint, index: number): Float32Array => {
    const p = c.parameters[index]!;
    return c.arena.subarray(p.offset, p.offset + p.length);
  };
  // Which groups act on which axes of each parameter use.
  const actingOn = new Map<number, { group: number; axis: number }[]>();
  groups.forEach((g, gi) => {
    for (const act of g.parameters) {
      const list = actingOn.get(act.parameter) ?? [];
      list.push({ group: gi, axis: act.axis });
      actingOn.set(act.parameter, list);
    }
  });
  let cacheLeft = CACHE_FLOATS;
  const entries: Entry[][] = groups.map((g) =>
    g.parameters.map((action) => {
      const p = a.parameters[action.parameter]!;
      const dim = p.shape[action.axis]!;
      const rest = (p.length / dim) * action.inner;
      const out = new Float32Array(g.size * rest);
      addon.extractUnits({ src: view(a, action.parameter), dims: p.shape, maps: null, axis: action.axis, offset: action.offset, count: g.size, inner: action.inner, out });
      const deps = [...new Set(actingOn.get(action.parameter)!.filter((x) => x.axis !== action.axis).map((x) => x.group))].sort((x, y) => x - y);
      const cached = g.size * g.size <= cacheLeft;
      if (cached) cacheLeft -= g.size * g.size;
      return { action, count: g.size, rest, a: out, deps, cache: cached ? new Float32Array(g.size * g.size) : null, key: null };
    }),
  );
  // Bumped whenever a group's permutation changes.
  const version = groups.map(() => 0);
  const scratchB = new Float32Array(Math.max(0, ...entries.flat().map((e) => e.count * e.rest)));
  const maxSize = Math.max(0, ...groups.map((g) => g.size));
  const scratchC = new Float32Array(maxSize * maxSize);

  let fixedPart = 0;
  for (const p of a.parameters) if (!maps.has(p.index)) fixedPart += addon.gatheredDot(view(a, p.index), view(b, p.index), p.shape, null);
  const objectiveNow = (): number => {
    let total = fixedPart;
    for (const [index, m] of maps) total += addon.gatheredDot(view(a, index), view(b, index), a.parameters[index]!.shape, m);
    return total;
  };

  const perms = identityPermutations(spec);
  if (initial) {
    checkPermutations(spec, initial);
    initial.forEach((p, g) => {
      perms[g]!.set(p);
      for (const act of groups[g]!.parameters) writeAction(maps.get(act.parameter)![act.axis]!, act, perms[g]!);
    });
  }
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
      const cost = new Float64Array(n * n);
      const c32 = scratchC.subarray(0, n * n);
      for (const e of entries[gi]!) {
        const key = e.deps.map((d) => version[d]).join();
        let product = e.cache ?? c32;
        if (!e.cache || e.key !== key) {
          const p = b.parameters[e.action.parameter]!;
          const others = maps.get(e.action.parameter)!.slice();
          others[e.action.axis] = null;
          const bm = scratchB.subarray(0, e.count * e.rest);
          addon.extractUnits({ src: view(b, p.index), dims: p.shape, maps: others, axis: e.action.axis, offset: e.action.offset, count: e.count, inner: e.action.inner, out: bm });
          product = e.cache ?? c32;
          addon.gemmAbt(e.a, bm, n, n, e.rest, product, threads);
          e.key = key;
        }
        addon.addToFloat64(cost, product);
      }
      const perm = perms[gi]!;
      let old = 0;
      for (let i = 0; i < n; i++) old += cost[i * n + perm[i]!]!;
      const solved = linearSumAssignment(cost, n, n, warm[gi] ? { maximize: true, warmStart: warm[gi] } : { maximize: true });
      warm[gi] = solved.colDuals;
      gain += solved.total - old;
      if (solved.colInd.some((v, i) => v !== perm[i])) version[gi]!++;
      perm.set(solved.colInd);
      for (const act of groups[gi]!.parameters) writeAction(maps.get(act.parameter)![act.axis]!, act, perm);
    }
    objective.push(objectiveNow());
    gains.push(gain);
    converged = gain <= tolerance;
    onProgress?.({ phase: 'weight matching', done: sweep + 1, total: converged ? sweep + 1 : sweepsAllowed });
  }
  return { permutations: perms, initialObjective, objective, gains, orders, sweeps: objective.length, converged };
}
