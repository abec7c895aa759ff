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
 * ≤ 1e-12. The objective is recomputed exactly (float64) after every sweep. A group none of
 * whose dependencies (the groups on its tensors' other axes) changed since it was last solved
 * keeps its permutation without a new cost (it is that cost's optimum already).
 *
 * Groups of blocks (attention heads, experts: groups that carry other groups) are one step with
 * the groups they carry (SCIENCE.md §7): for every pair (u of A, j of B) each carried group's
 * assignment between A's member u and B's member j is solved, the pair's score is the sum of the
 * best values (plus, for experts, the gate rows and the expert's tensors no carried group acts
 * on), the assignment of the blocks maximises the total score, and the carried groups of B take
 * the within-block assignments of the chosen pairs. The costs of all pairs of one kind come from
 * one GEMM between all of A's blocks and all of B's. Tensors of exchanged experts are compared
 * with the B expert now in their place.
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
import { AxisMaps, checkPermutations, expertSources } from './permute.js';
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
  /** The groups acting on the tensor's other axes: the product changes only when one of them does. */
  readonly deps: readonly number[];
  /** Whether the last product A·Bᵀ is kept (within the cache's budget, cacheFloats), then the product and the versions of `deps` it was computed at. */
  cached: boolean;
  cache: Float32Array | null;
  key: string | null;
}

/**
 * Floats kept for cached products; products beyond them are recomputed every time. The cache
 * may take what the model leaves above the runtime's share of a process held to a small
 * multiple of it (bench/memory.ts: node, the worker and onnxruntime take about 128 MiB more
 * than the two arenas and matching's scratch): the model's size less 128 MiB, at most 128 MiB,
 * and at least a sixteenth of the model. GPT-2 small keeps 128 MiB (a sixteenth made its
 * matching take about 10% more CPU time); ResNet-50 keeps a sixteenth, 6 MB (its six 512 × 512
 * products of 3 × 3 convolutions, which spare 40 GMAC of GEMM work; a quarter, 24 MB, spared 63
 * of 625 GMAC and its 18 MB more were 5% of the align's peak RSS).
 */
function cacheFloats(arena: Float32Array): number {
  return Math.min(2 ** 25, Math.max(Math.floor(arena.length / 16), arena.length - 2 ** 25));
}

/**
 * A product is computed a block of A's units at a time, and each block is added into the
 * float64 cost at once: no whole n × n float32 product nor A's whole unit matrix is held beside
 * the cost (ResNet-50's 2048-unit group: 16 MB and 8 MB). The block's product and A's unit
 * rows take at most about this many floats each. Splitting A's units leaves every float of the
 * GEMM as it was (Eigen blocks the depth alone by its length; see blockRows); splitting B's
 * units would not.
 */
const BLOCK_FLOATS = 2 ** 18;

/**
 * The units of A per block of a product of n × n units with `rest` columns: a multiple of 16,
 * since Eigen computes the last units of a block that is not a multiple of its panel width
 * (4 or 8) another way, and then their floats would differ from one GEMM's.
 */
function blockRows(n: number, rest: number): number {
  return Math.min(n, Math.max(16, Math.floor(BLOCK_FLOATS / Math.max(n, rest) / 16) * 16));
}

/**
 * The cost C of a group (above) with every other group at the permutations of `maps`, for
 * weight matching and for anything else that matches units by their weights.
 */
export class WeightCost {
  private readonly terms: Term[][];
  private readonly addon = native();
  /**
   * A block of A's unit rows (blockRows) and B's whole unit matrix of the term at hand. A's are
   * extracted again for each product rather than kept: kept, they were a copy of every tensor
   * per axis a group acts on (twice the model for a CNN), while an extraction costs 1/size of
   * the product's GEMM. Units that are already rows of the arena are not copied at all.
   */
  private readonly scratchA: Float32Array;
  private readonly scratchB: Float32Array;
  /** One block of a product that is not cached. */
  private readonly scratchC: Float32Array;
  /** The cost matrix `of` returns, one for every group (its largest), so a sweep leaves no n × n float64 garbage per step. */
  private readonly scratchCost: Float64Array;

  constructor(
    private readonly a: Checkpoint,
    private readonly b: Checkpoint,
    private readonly bound: BoundSpec,
    private readonly threads: number,
  ) {
    const groups = bound.spec.groups;
    // The expert group that owns a parameter use: its tensors are compared with whichever B expert is in its place.
    const owner = new Map<number, number>();
    groups.forEach((g, k) => g.experts?.forEach((list) => list.forEach((e) => owner.set(e.parameter, k))));
    this.terms = groups.map((g) =>
      g.parameters.map((action) => {
        const p = a.parameters[action.parameter]!;
        const rest = (p.length / p.shape[action.axis]!) * action.inner;
        const deps = bound.groupsOnOtherAxes(action.parameter, action.axis);
        const expert = owner.get(action.parameter);
        return { action, rest, deps: expert === undefined ? deps : [...deps, expert], cached: false, cache: null, key: null };
      }),
    );
    // The budget goes to the products that cost most to compute per float kept (the longest
    // rows; a bias's product, rest 1, is no cheaper to keep than to recompute): on ResNet-50, 24 MB
    // kept this way cost 4% more GEMM work than 128 MB kept in group order.
    let cacheLeft = cacheFloats(a.arena);
    const candidates = groups.flatMap((g, gi) => this.terms[gi]!.map((term) => ({ term, floats: g.size * g.size })));
    candidates.sort((x, y) => y.term.rest - x.term.rest);
    for (const { term, floats } of candidates) {
      if (floats > cacheLeft) continue;
      term.cached = true;
      cacheLeft -= floats;
    }
    const largest = (floats: (n: number, rest: number) => number): number => Math.max(0, ...groups.flatMap((g, gi) => this.terms[gi]!.map((t) => floats(g.size, t.rest))));
    this.scratchA = new Float32Array(largest((n, rest) => blockRows(n, rest) * rest));
    this.scratchB = new Float32Array(largest((n, rest) => n * rest));
    this.scratchC = new Float32Array(largest((n, rest) => blockRows(n, rest) * n));
    const maxSize = Math.max(0, ...groups.map((g) => g.size));
    this.scratchCost = new Float64Array(maxSize * maxSize);
  }

  /**
   * C of one group, the other groups at the permutations of `maps`; `sources` (expertSources)
   * names the B parameter use each exchanged expert's tensor is compared with. The matrix is
   * this WeightCost's own: valid until its next call of `of`.
   */
  of(group: number, maps: AxisMaps, sources: ReadonlyMap<number, number> = new Map()): Float64Array {
    const n = this.bound.spec.groups[group]!.size;
    const cost = this.scratchCost.subarray(0, n * n);
    cost.fill(0);
    for (const t of this.terms[group]!) {
      const key = t.deps.map((d) => maps.version(d)).join();
      if (t.cache && t.key === key) {
        this.addon.addToFloat64(cost, t.cache);
        continue;
      }
      if (t.cached) t.cache ??= new Float32Array(n * n);
      const source = sources.get(t.action.parameter) ?? t.action.parameter;
      this.addProduct(cost, n, t.action, { ...t.action, parameter: source }, othersOf(maps, source, t.action.axis), t.rest, t.cache);
      t.key = key;
    }
    return cost;
  }

  /**
   * The cost between the units of group `ga` in A and those of group `gb` in B (two members of
   * one block group: the same actions on their own block), B's other axes at `maps`.
   */
  between(ga: number, gb: number, maps: AxisMaps): Float64Array {
    const n = this.bound.spec.groups[ga]!.size;
    const cost = new Float64Array(n * n);
    this.terms[ga]!.forEach((t, k) => {
      const other = this.terms[gb]![k]!.action;
      this.addProduct(cost, n, t.action, other, othersOf(maps, other.parameter, other.axis), t.rest, null);
    });
    return cost;
  }

  /**
   * The cost between every unit of A's members and every unit of B's members of one kind inside
   * a group of blocks (members: one group per block, the same actions on their own block, all of
   * size d): an (h·d)×(h·d) matrix whose d×d block (u, j) is between(members[u], members[j]).
   * One extraction of each block and one GEMM per action, instead of one per pair of blocks.
   */
  blocks(members: readonly number[], maps: AxisMaps): Float64Array {
    const d = this.bound.spec.groups[members[0]!]!.size;
    const rows = members.length * d;
    const cost = new Float64Array(rows * rows);
    const product = new Float32Array(rows * rows);
    this.terms[members[0]!]!.forEach((first, k) => {
      const a = new Float32Array(rows * first.rest);
      const b = new Float32Array(rows * first.rest);
      members.forEach((m, u) => {
        const t = this.terms[m]![k]!;
        this.extract(this.a, t.action, 0, d, null, a.subarray(u * d * t.rest, (u + 1) * d * t.rest));
        this.extract(this.b, t.action, 0, d, othersOf(maps, t.action.parameter, t.action.axis), b.subarray(u * d * t.rest, (u + 1) * d * t.rest));
      });
      this.addon.gemmAbt(a, b, rows, rows, first.rest, product, this.threads);
      this.addon.addToFloat64(cost, product);
    });
    return cost;
  }

  /** The groups whose permutations the cost of `group` depends on (for a group of blocks, those of its members). */
  dependencies(group: number): number[] {
    const members = (this.bound.spec.groups[group]!.carries ?? []).flat().filter((m): m is number => m !== null);
    return [...new Set([group, ...members].flatMap((g) => this.terms[g]!.flatMap((t) => t.deps)))].sort((x, y) => x - y);
  }

  /**
   * cost += (A's units of `actionA`) · (B's units of `actionB`, other axes gathered by `mapsB`)ᵀ,
   * n × n, a block of A's units at a time (blockRows); each block's float32 product is written
   * to `keep`'s rows when given (a cached product), else to the scratch.
   */
  private addProduct(cost: Float64Array, n: number, actionA: ParameterAction, actionB: ParameterAction, mapsB: (Int32Array | null)[], rest: number, keep: Float32Array | null): void {
    const bm = this.rows(this.b, actionB, 0, n, rest, mapsB, this.scratchB);
    const step = blockRows(n, rest);
    for (let first = 0; first < n; first += step) {
      const count = Math.min(step, n - first);
      const am = this.rows(this.a, actionA, first, count, rest, null, this.scratchA);
      const product = keep ? keep.subarray(first * n, (first + count) * n) : this.scratchC.subarray(0, count * n);
      this.addon.gemmAbt(am, bm, count, n, rest, product, this.threads);
      this.addon.addToFloat64(cost.subarray(first * n, (first + count) * n), product);
    }
  }

  /**
   * Units first … first + count − 1 of a parameter use as rows of `rest` floats: a view of the
   * arena when they are rows of it already (the first axis, no other axis gathered), else
   * extracted to `scratch`.
   */
  private rows(c: Checkpoint, action: ParameterAction, first: number, count: number, rest: number, maps: (Int32Array | null)[] | null, scratch: Float32Array): Float32Array {
    if (action.axis === 0 && (maps ?? []).every((m) => m === null)) {
      const start = c.parameters[action.parameter]!.offset + first * rest + action.offset * (rest / action.inner);
      return c.arena.subarray(start, start + count * rest);
    }
    return this.extract(c, action, first, count, maps, scratch.subarray(0, count * rest));
  }

  /** Units first … first + count − 1 of a parameter use along the action's axis as the rows of `out` (its other axes gathered by `maps`). */
  private extract(c: Checkpoint, action: ParameterAction, first: number, count: number, maps: (Int32Array | null)[] | null, out: Float32Array): Float32Array {
    const p = c.parameters[action.parameter]!;
    this.addon.extractUnits({ src: c.arena.subarray(p.offset, p.offset + p.length), dims: p.shape, maps, axis: action.axis, offset: action.offset + first * action.inner, count, inner: action.inner, out });
    return out;
  }
}

/** The maps of a parameter use's axes other than `axis` (null there). */
function othersOf(maps: AxisMaps, parameter: number, axis: number): (Int32Array | null)[] {
  const others = maps.of(parameter)!.slice();
  others[axis] = null;
  return others;
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
  const hasExperts = groups.some((g) => g.experts);
  let fixedPart = 0;
  for (const p of a.parameters) if (!maps.of(p.index) && !hasExperts) fixedPart += addon.gatheredDot(view(a, p.index), view(b, p.index), p.shape, null);
  /** A's tensor against B's with every permutation applied (an exchanged expert's tensor against the B expert in its place). */
  const dotWithB = (index: number, sources: ReadonlyMap<number, number>): number => {
    const source = sources.get(index) ?? index;
    return addon.gatheredDot(view(a, index), view(b, source), a.parameters[index]!.shape, maps.of(source) ?? null);
  };
  const objectiveNow = (): number => {
    if (hasExperts) {
      const sources = expertSources(bound.spec, perms);
      return a.parameters.reduce((total, p) => total + dotWithB(p.index, sources), 0);
    }
    let total = fixedPart;
    for (const [index, m] of maps.entries()) total += addon.gatheredDot(view(a, index), view(b, index), a.parameters[index]!.shape, m);
    return total;
  };
  // Groups carried by a group of blocks are solved in its step.
  const carried = new Set(groups.flatMap((g) => (g.carries ?? []).flat().filter((m): m is number => m !== null)));
  /** One step of a group of blocks (heads, experts); returns its gain. */
  const blockStep = (gi: number): number => {
    const g = groups[gi]!;
    const h = g.size;
    const score = new Float64Array(h * h);
    const perm = perms[gi]!;
    let old = 0;
    const inside = (g.carries ?? []).filter((members) => members.every((m) => m !== null)) as number[][];
    const within = inside.map((members) => {
      const all = costs.blocks(members, maps);
      const n = groups[members[0]!]!.size;
      const cost = new Float64Array(n * n);
      return Array.from({ length: h * h }, (_, pair) => {
        const u = Math.floor(pair / h);
        const j = pair % h;
        for (let i = 0; i < n; i++) cost.set(all.subarray((u * n + i) * h * n + j * n, (u * n + i) * h * n + (j + 1) * n), i * n);
        if (j === perm[u]) {
          const current = perms[members[j]!]!;
          for (let i = 0; i < n; i++) old += cost[i * n + current[i]!]!;
        }
        const solved = linearSumAssignment(cost, n, n, { maximize: true });
        score[pair] = score[pair]! + solved.total;
        return solved.colInd;
      });
    });
    if (g.experts) {
      const sources = expertSources(bound.spec, perms);
      const direct = costs.of(gi, maps, sources);
      // Each expert's tensors that no carried group acts on: compared whole, pair by pair.
      const covered = new Set(inside.flat().flatMap((m) => groups[m]!.parameters.map((x) => x.parameter)));
      for (let u = 0; u < h; u++) {
        for (let j = 0; j < h; j++) {
          let s = direct[u * h + j]!;
          g.experts[u]!.forEach((e, slot) => {
            if (!covered.has(e.parameter)) s += addon.gatheredDot(view(a, e.parameter), view(b, g.experts![j]![slot]!.parameter), e.shape, maps.of(g.experts![j]![slot]!.parameter) ?? null);
          });
          score[u * h + j] = score[u * h + j]! + s;
          if (j === perm[u]) old += s;
        }
      }
    }
    const solved = linearSumAssignment(score, h, h, { maximize: true });
    inside.forEach((members, k) => {
      for (let u = 0; u < h; u++) maps.set(members[solved.colInd[u]!]!, within[k]![u * h + solved.colInd[u]!]!);
    });
    maps.set(gi, solved.colInd);
    return solved.total - old;
  };

  const warm: (Float64Array | undefined)[] = groups.map(() => undefined);
  // A group's cost depends only on the permutations of its dependencies: while none of them has
  // changed since the group was last solved, its cost is the same and its permutation is already
  // that cost's optimum (gain 0), so the step is skipped (the last sweep of a converged search is
  // then one objective evaluation). Not with experts, whose exchanged tensors depend on the expert
  // permutations in ways the dependencies do not list.
  const dependencies = groups.map((_, gi) => costs.dependencies(gi));
  const solvedAt: (string | undefined)[] = groups.map(() => undefined);
  const unchanged = (gi: number): boolean => {
    if (hasExperts) return false;
    const key = dependencies[gi]!.map((d) => maps.version(d)).join();
    const same = solvedAt[gi] === key;
    solvedAt[gi] = key;
    return same;
  };
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
      if (carried.has(gi) || unchanged(gi)) continue;
      if (groups[gi]!.carries) {
        gain += blockStep(gi);
        continue;
      }
      const n = groups[gi]!.size;
      const cost = costs.of(gi, maps, hasExperts ? expertSources(bound.spec, perms) : undefined);
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
