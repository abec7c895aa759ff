/**
 * linearSumAssignment: exact optimum against brute force over all assignments for every shape
 * up to 7×7 (property-based, fast-check), against an independent O(n³) Hungarian method for
 * larger matrices, warm starts, the async variant, and bad input at both the TypeScript and
 * the native boundary.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InfeasibleAssignmentError,
  InvalidArgumentError,
  linearSumAssignment,
  linearSumAssignmentAsync,
  type LinearSumAssignmentResult,
} from '../lib/index.js';
import { native } from '../lib/native.js';

type Cost = Float32Array | Float64Array;

/** Best total over all assignments of the smaller side, or null when none is finite. */
function bruteForce(cost: ArrayLike<number>, rows: number, cols: number, maximize: boolean): number | null {
  const n = Math.min(rows, cols);
  const m = Math.max(rows, cols);
  const at = rows <= cols ? (i: number, j: number) => cost[i * cols + j]! : (i: number, j: number) => cost[j * cols + i]!;
  const used = new Uint8Array(m);
  let best: number | null = null;
  const visit = (i: number, sum: number): void => {
    if (i === n) {
      if (Number.isFinite(sum) && (best === null || (maximize ? sum > best : sum < best))) best = sum;
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      const x = at(i, j);
      if (!Number.isFinite(x)) continue;
      used[j] = 1;
      visit(i + 1, sum + x);
      used[j] = 0;
    }
  };
  visit(0, 0);
  return best;
}

/** Checks the shape and consistency of a result; returns Σ cost over its pairs. */
function checkResult(r: LinearSumAssignmentResult, cost: ArrayLike<number>, rows: number, cols: number): void {
  const n = Math.min(rows, cols);
  expect(r.rowInd).toBeInstanceOf(Int32Array);
  expect(r.colInd).toBeInstanceOf(Int32Array);
  expect(r.rowInd.length).toBe(n);
  expect(r.colInd.length).toBe(n);
  expect(r.colDuals.length).toBe(Math.max(rows, cols));
  const seen = new Set<number>();
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const i = r.rowInd[k]!;
    const j = r.colInd[k]!;
    expect(i).toBeGreaterThanOrEqual(0);
    expect(i).toBeLessThan(rows);
    if (k > 0) expect(i).toBeGreaterThan(r.rowInd[k - 1]!);
    expect(j).toBeGreaterThanOrEqual(0);
    expect(j).toBeLessThan(cols);
    expect(seen.has(j)).toBe(false);
    seen.add(j);
    const x = cost[i * cols + j]!;
    expect(Number.isFinite(x)).toBe(true);
    sum += x;
  }
  expect(r.total).toBe(sum); // same order of summation as the solver
}

function tolerance(cost: ArrayLike<number>, rows: number, cols: number): number {
  let scale = 0;
  for (let k = 0; k < cost.length; k++) if (Number.isFinite(cost[k]!)) scale = Math.max(scale, Math.abs(cost[k]!));
  return 1e-12 * scale * Math.max(1, Math.min(rows, cols));
}

// ---- random matrices ---------------------------------------------------------------------------

const KINDS = ['uniform', 'ties', 'allEqual', 'huge', 'tiny', 'signed', 'forbidden', 'sparse'] as const;
type Kind = (typeof KINDS)[number];

function entryArb(kind: Kind): fc.Arbitrary<number> {
  switch (kind) {
    case 'uniform':
      return fc.double({ min: 0, max: 1, noNaN: true });
    case 'ties':
      return fc.integer({ min: 0, max: 3 });
    case 'allEqual':
      return fc.constant(0); // replaced by one shared value below
    case 'huge':
      return fc.double({ min: 1e9, max: 1e11, noNaN: true });
    case 'tiny':
      return fc.double({ min: 1e-11, max: 1e-9, noNaN: true });
    case 'signed':
      return fc.double({ min: -1e3, max: 1e3, noNaN: true });
    case 'forbidden':
      return fc.oneof({ arbitrary: fc.integer({ min: -5, max: 20 }), weight: 3 }, { arbitrary: fc.constant(Infinity), weight: 1 });
    case 'sparse':
      return fc.oneof({ arbitrary: fc.integer({ min: 0, max: 9 }), weight: 1 }, { arbitrary: fc.constant(Infinity), weight: 2 });
  }
}

interface Problem {
  cost: Cost;
  maximize: boolean;
  kind: Kind;
  warm: number[];
}

function problemArb(rows: number, cols: number): fc.Arbitrary<Problem> {
  const n = rows * cols;
  return fc
    .record({
      kind: fc.constantFrom(...KINDS),
      maximize: fc.boolean(),
      f32: fc.boolean(),
      shared: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      // Warm duals on the matrix's own scale (as a previous solve's would be): far larger duals
      // would make reduced costs round away differences of the costs themselves.
      warm: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: Math.max(rows, cols), maxLength: Math.max(rows, cols) }),
    })
    .chain(({ kind, maximize, f32, shared, warm }) =>
      fc.array(entryArb(kind), { minLength: n, maxLength: n }).map((values) => {
        let v = kind === 'allEqual' ? values.map(() => shared) : values;
        if (maximize) v = v.map((x) => (x === Infinity ? -Infinity : x));
        const cost = f32 ? Float32Array.from(v) : Float64Array.from(v);
        return { cost, maximize, kind, warm };
      }),
    );
}

function solveOrInfeasible(cost: Cost, rows: number, cols: number, options: Parameters<typeof linearSumAssignment>[3]) {
  try {
    return linearSumAssignment(cost, rows, cols, options);
  } catch (error) {
    if (error instanceof InfeasibleAssignmentError) return null;
    throw error;
  }
}

describe('linearSumAssignment: brute force, every shape up to 7×7', () => {
  for (let rows = 0; rows <= 7; rows++) {
    for (let cols = 0; cols <= 7; cols++) {
      it(`${rows}×${cols}`, () => {
        fc.assert(
          fc.property(problemArb(rows, cols), ({ cost, maximize, warm }) => {
            const best = bruteForce(cost, rows, cols, maximize);
            const cold = solveOrInfeasible(cost, rows, cols, { maximize });
            const scale = tolerance(cost, rows, cols) / 1e-12 / Math.max(1, Math.min(rows, cols));
            const warmed = solveOrInfeasible(cost, rows, cols, { maximize, warmStart: Float64Array.from(warm, (w) => w * scale) });
            if (best === null && rows * cols > 0) {
              expect(cold).toBeNull();
              expect(warmed).toBeNull();
              return;
            }
            const tol = tolerance(cost, rows, cols);
            for (const r of [cold, warmed]) {
              expect(r).not.toBeNull();
              checkResult(r!, cost, rows, cols);
              expect(Math.abs(r!.total - (best ?? 0))).toBeLessThanOrEqual(tol);
            }
          }),
          { numRuns: rows * cols <= 9 ? 60 : 30, seed: 1000 + rows * 8 + cols },
        );
      });
    }
  }
});

// ---- an independent reference for larger matrices: O(n³) Hungarian method (n ≤ m, min) -------

function hungarian(cost: ArrayLike<number>, rows: number, cols: number, maximize: boolean): number {
  const t = rows > cols;
  const n = t ? cols : rows;
  const m = t ? rows : cols;
  const a = (i: number, j: number) => {
    const x = t ? cost[j * cols + i]! : cost[i * cols + j]!;
    return maximize ? -x : x;
  };
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  let total = 0;
  for (let j = 1; j <= m; j++) if (p[j]! > 0) total += t ? cost[(j - 1) * cols + (p[j]! - 1)]! : cost[(p[j]! - 1) * cols + (j - 1)]!;
  return total;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomMatrix(rows: number, cols: number, kind: 'uniform' | 'ties' | 'lowrank' | 'signed', seed: number): Float64Array {
  const r = rng(seed);
  const c = new Float64Array(rows * cols);
  if (kind === 'lowrank') {
    const k = 3;
    const a = Array.from({ length: rows * k }, () => r() * 2 - 1);
    const b = Array.from({ length: cols * k }, () => r() * 2 - 1);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a[i * k + t]! * b[j * k + t]!;
        c[i * cols + j] = s;
      }
    }
    return c;
  }
  for (let k = 0; k < c.length; k++) {
    const u = r();
    c[k] = kind === 'uniform' ? u : kind === 'ties' ? Math.floor(u * 4) : (u * 2 - 1) * 1e4;
  }
  return c;
}

describe('linearSumAssignment: against a Hungarian method on larger matrices', () => {
  const shapes: [number, number][] = [
    [8, 8],
    [20, 20],
    [33, 33],
    [64, 64],
    [10, 40],
    [40, 10],
    [63, 65],
    [65, 63],
    [1, 70],
    [70, 1],
  ];
  for (const [rows, cols] of shapes) {
    for (const kind of ['uniform', 'ties', 'lowrank', 'signed'] as const) {
      it(`${rows}×${cols} ${kind}`, () => {
        for (let s = 0; s < 4; s++) {
          const c64 = randomMatrix(rows, cols, kind, rows * 1000 + cols * 10 + s);
          const maximize = s % 2 === 1;
          const want = hungarian(c64, rows, cols, maximize);
          for (const cost of [c64, Float32Array.from(c64)]) {
            const ref = cost instanceof Float32Array ? hungarian(cost, rows, cols, maximize) : want;
            const r = linearSumAssignment(cost, rows, cols, { maximize });
            checkResult(r, cost, rows, cols);
            expect(Math.abs(r.total - ref)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(ref)));
          }
        }
      });
    }
  }
});

describe('linearSumAssignment: basics', () => {
  it("solves scipy's documentation example", () => {
    const cost = Float64Array.from([4, 1, 3, 2, 0, 5, 3, 2, 2]);
    const r = linearSumAssignment(cost, 3, 3);
    expect(Array.from(r.rowInd)).toEqual([0, 1, 2]);
    expect(Array.from(r.colInd)).toEqual([1, 0, 2]);
    expect(r.total).toBe(5);
    expect(linearSumAssignment(cost, 3, 3, { maximize: true }).total).toBe(11);
  });

  it('handles empty problems and 1×1', () => {
    for (const [rows, cols] of [
      [0, 0],
      [0, 5],
      [5, 0],
    ] as const) {
      const r = linearSumAssignment(new Float64Array(0), rows, cols);
      expect(r.rowInd.length).toBe(0);
      expect(r.colInd.length).toBe(0);
      expect(r.total).toBe(0);
      expect(r.colDuals.length).toBe(Math.max(rows, cols));
    }
    const one = linearSumAssignment(Float32Array.of(-2.5), 1, 1, { maximize: true });
    expect(Array.from(one.rowInd)).toEqual([0]);
    expect(Array.from(one.colInd)).toEqual([0]);
    expect(one.total).toBe(-2.5);
  });

  it('returns rows ascending and scipy’s pairing for tall matrices', () => {
    // 4×2: the columns go to rows 3 and 1.
    const cost = Float64Array.from([9, 9, 5, 1, 9, 9, 0, 7]);
    const r = linearSumAssignment(cost, 4, 2);
    expect(Array.from(r.rowInd)).toEqual([1, 3]);
    expect(Array.from(r.colInd)).toEqual([1, 0]);
    expect(r.total).toBe(1);
  });

  it('maximizing C is minimizing −C, float32 in place equals float64', () => {
    const c = randomMatrix(50, 60, 'signed', 7);
    const neg = c.map((x) => -x);
    const max = linearSumAssignment(c, 50, 60, { maximize: true });
    const min = linearSumAssignment(neg, 50, 60);
    expect(max.total).toBeCloseTo(-min.total, 6);
    const f32 = Float32Array.from(c);
    const copy = f32.slice();
    const a = linearSumAssignment(f32, 50, 60, { maximize: true });
    const b = linearSumAssignment(Float64Array.from(f32), 50, 60, { maximize: true });
    expect(a.total).toBe(b.total);
    expect(f32).toEqual(copy); // never written
  });

  it('solves all-equal and all-tied matrices of size 300 quickly', () => {
    for (const value of [0, 3.5, -1e10]) {
      const r = linearSumAssignment(new Float64Array(300 * 300).fill(value), 300, 300);
      expect(r.total).toBe(300 * value);
      expect(new Set(r.colInd).size).toBe(300);
    }
  });

  it('treats +inf (−inf when maximizing) as forbidden', () => {
    const I = Infinity;
    const cost = Float64Array.from([I, 1, 2, I, I, 3, 4, I, I]);
    const r = linearSumAssignment(cost, 3, 3);
    expect(Array.from(r.colInd)).toEqual([1, 2, 0]);
    expect(r.total).toBe(8);
    const rm = linearSumAssignment(cost.map((x) => (x === I ? -I : x)), 3, 3, { maximize: true });
    expect(rm.total).toBe(8);
  });
});

describe('linearSumAssignment: warm start', () => {
  function perturb(c: Float64Array, scale: number, seed: number): Float64Array {
    const r = rng(seed);
    return c.map((x) => x + (r() - 0.5) * scale);
  }

  for (const [rows, cols] of [
    [200, 200],
    [120, 200],
    [200, 120],
  ] as const) {
    it(`re-solves a sequence of slightly changed ${rows}×${cols} matrices exactly`, () => {
      let c = randomMatrix(rows, cols, 'lowrank', rows + cols);
      for (const maximize of [false, true]) {
        let duals = linearSumAssignment(c, rows, cols, { maximize }).colDuals;
        let warmUsed = 0;
        for (let step = 0; step < 6; step++) {
          c = perturb(c, 0.02, step * 31 + rows);
          const cold = linearSumAssignment(c, rows, cols, { maximize });
          const warm = linearSumAssignment(c, rows, cols, { maximize, warmStart: duals });
          checkResult(warm, c, rows, cols);
          expect(Math.abs(warm.total - cold.total)).toBeLessThanOrEqual(1e-9 * Math.abs(cold.total));
          expect(Math.abs(warm.total - hungarian(c, rows, cols, maximize))).toBeLessThanOrEqual(1e-9 * Math.abs(cold.total));
          if (warm.warmStarted) warmUsed++;
          duals = warm.colDuals;
        }
        // Square problems are warm-started; rectangular ones start cold by design.
        if (rows === cols) expect(warmUsed).toBeGreaterThan(0);
        else expect(warmUsed).toBe(0);
      }
    });
  }

  it('does less work than a cold solve after a small change', () => {
    const n = 400;
    const c = randomMatrix(n, n, 'lowrank', 99);
    const first = linearSumAssignment(c, n, n, { maximize: true });
    const changed = perturb(c, 0.01, 5);
    const cold = linearSumAssignment(changed, n, n, { maximize: true });
    const warm = linearSumAssignment(changed, n, n, { maximize: true, warmStart: first.colDuals });
    expect(warm.warmStarted).toBe(true);
    expect(warm.total).toBeCloseTo(cold.total, 9);
    expect(warm.stats.freeAfterInit).toBeLessThan(cold.stats.freeAfterInit);
  });

  it('stays exact with arbitrary duals, falling back to cold when they are useless', () => {
    const n = 150;
    const c = randomMatrix(n, n, 'uniform', 3);
    const cold = linearSumAssignment(c, n, n);
    const r = rng(4);
    const junk = Float64Array.from({ length: n }, () => (r() - 0.5) * 1e3);
    const warm = linearSumAssignment(c, n, n, { warmStart: junk });
    expect(warm.total).toBeCloseTo(cold.total, 10);
    expect(warm.warmStarted).toBe(false);
    const same = linearSumAssignment(c, n, n, { warmStart: cold.colDuals });
    expect(same.warmStarted).toBe(true);
    expect(same.stats.freeAfterInit).toBeLessThan(n / 4);
    expect(same.total).toBe(cold.total);
  });
});

describe('linearSumAssignment: bad input', () => {
  const ok = Float64Array.from([1, 2, 3, 4, 5, 6]);

  it('rejects NaN, naming the entry', () => {
    const c = Float64Array.from([1, 2, 3, 4, 5, NaN]);
    expect(() => linearSumAssignment(c, 2, 3)).toThrow(InvalidArgumentError);
    expect(() => linearSumAssignment(c, 2, 3)).toThrow(/cost\[1, 2\].*NaN/);
    expect(() => linearSumAssignment(Float32Array.from(c), 3, 2)).toThrow(/cost\[2, 1\].*NaN/);
    expect(() => linearSumAssignment(c, 3, 2, { maximize: true })).toThrow(/cost\[2, 1\]/);
    // NaN next to forbidden entries, in a row that would otherwise be skipped.
    const d = Float64Array.from([Infinity, Infinity, 1, 2, NaN, 3]);
    expect(() => linearSumAssignment(d, 3, 2)).toThrow(/cost\[2, 0\].*NaN/);
  });

  it('rejects the infinity of the wrong sign', () => {
    expect(() => linearSumAssignment(Float64Array.from([1, -Infinity, 3, 4]), 2, 2)).toThrow(/cost\[0, 1\].*-inf/);
    expect(() => linearSumAssignment(Float64Array.from([1, 2, Infinity, 4]), 2, 2, { maximize: true })).toThrow(/cost\[1, 0\].*\+inf/);
  });

  it('reports infeasible matrices', () => {
    const I = Infinity;
    const cases: [number[], number, number][] = [
      [[I, I, 1, 2], 2, 2], // a row with no allowed column
      [[1, I, 2, I], 2, 2], // a column no row may take
      [[1, I, I, 2, I, I, 3, 4, 5], 3, 3], // two rows that both only accept column 0
      [[1, I, I, 2, I, I], 2, 3], // rectangular, wide
      [[1, 2, I, I, I, I], 3, 2], // rectangular, tall: columns 0 and 1 both only row 0
      [[I], 1, 1],
    ];
    for (const [values, rows, cols] of cases) {
      for (const maximize of [false, true]) {
        const cost = Float64Array.from(values, (x) => (maximize && x === I ? -I : x));
        let error: unknown;
        try {
          linearSumAssignment(cost, rows, cols, { maximize });
        } catch (e) {
          error = e;
        }
        expect(error, `${values} ${rows}×${cols}`).toBeInstanceOf(InfeasibleAssignmentError);
        expect((error as Error).message).toMatch(/infeasible/);
      }
    }
  });

  it('rejects bad sizes, types and options', () => {
    const bad: [unknown, unknown, unknown, unknown?][] = [
      [ok, 2, 2],
      [ok, 3, 3],
      [ok, -2, -3],
      [ok, 2.5, 3],
      [ok, 2, NaN],
      [ok, Infinity, 0],
      [ok, '2', 3],
      [ok, 2 ** 31, 0],
      [[1, 2, 3, 4, 5, 6], 2, 3],
      [Int32Array.from([1, 2, 3, 4, 5, 6]), 2, 3],
      [new Uint8Array(6), 2, 3],
      [null, 0, 0],
      [undefined, 0, 0],
      [new DataView(new ArrayBuffer(48)), 2, 3],
      [ok, 2, 3, { maximize: 'yes' }],
      [ok, 2, 3, { warmStart: [0, 0, 0] }],
      [ok, 2, 3, { warmStart: new Float64Array(2) }],
      [ok, 2, 3, { warmStart: Float64Array.from([0, NaN, 0]) }],
      [ok, 2, 3, { warmStart: Float64Array.from([0, Infinity, 0]) }],
      [ok, 2, 3, 'max'],
    ];
    for (const [cost, rows, cols, options] of bad) {
      expect(() => linearSumAssignment(cost as Cost, rows as number, cols as number, options as never), `${String(cost)} ${rows} ${cols}`).toThrow(
        InvalidArgumentError,
      );
    }
  });

  it('never aborts on bad arguments at the native boundary', () => {
    const addon = native();
    const calls: (() => unknown)[] = [
      () => (addon.lap as (...a: unknown[]) => unknown)(),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2, 3),
      () => (addon.lap as (...a: unknown[]) => unknown)([1, 2], 1, 2, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(new Int32Array(6), 2, 3, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2, 4, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, -1, -6, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 1.5, 4, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, NaN, 3, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2 ** 40, 0, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, {}, 3, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2, 3, 1),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2, 3, false, new Float32Array(3)),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2, 3, false, new Float64Array(5)),
      () => (addon.lap as (...a: unknown[]) => unknown)(ok, 2, 3, false, Float64Array.of(1, NaN, 2)),
      () => (addon.lap as (...a: unknown[]) => unknown)(Float64Array.of(NaN), 1, 1, false),
      () => (addon.lap as (...a: unknown[]) => unknown)(Float64Array.of(Infinity), 1, 1, false),
      () => (addon.lapAsync as (...a: unknown[]) => unknown)(ok, 2, 2, false),
      () => (addon.lapAsync as (...a: unknown[]) => unknown)('cost', 2, 3, false),
      () => (addon.gemmAbt as (...a: unknown[]) => unknown)(),
      () => addon.gemmAbt(new Float32Array(6), new Float32Array(6), 2, 2, 3, new Float32Array(3)),
      () => addon.gemmAbt(new Float32Array(6), new Float32Array(5), 2, 2, 3, new Float32Array(4)),
      () => addon.gemmAbt(new Float32Array(6), new Float32Array(6), 2, 2, -3, new Float32Array(4)),
      () => (addon.gemmAbt as (...a: unknown[]) => unknown)(new Float64Array(6), new Float32Array(6), 2, 2, 3, new Float32Array(4)),
      () => addon.gemmAbt(new Float32Array(6), new Float32Array(6), 2, 2, 3, new Float32Array(4), -1),
      () => {
        const shared = new Float32Array(8);
        addon.gemmAbt(shared.subarray(0, 4), shared.subarray(4, 8), 2, 2, 2, shared.subarray(2, 6));
      },
    ];
    for (const call of calls) expect(call).toThrow();
    // The native error of a solver failure carries a code and the position.
    try {
      addon.lap(Float64Array.of(1, 2, 3, NaN), 2, 2, false);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'LAP_NAN', row: 1, col: 1 });
    }
  });
});

describe('linearSumAssignmentAsync', () => {
  it('matches the synchronous solver, also when many run at once', async () => {
    const problems = Array.from({ length: 8 }, (_, s) => ({ c: randomMatrix(90 + s, 100, 'uniform', s), rows: 90 + s }));
    const results = await Promise.all(problems.map(({ c, rows }) => linearSumAssignmentAsync(Float32Array.from(c), rows, 100, { maximize: true })));
    results.forEach((r, s) => {
      const { c, rows } = problems[s]!;
      const sync = linearSumAssignment(Float32Array.from(c), rows, 100, { maximize: true });
      expect(r.total).toBe(sync.total);
      expect(Array.from(r.colInd)).toEqual(Array.from(sync.colInd));
      expect(r.colDuals).toEqual(sync.colDuals);
    });
  });

  it('takes a warm start', async () => {
    const c = randomMatrix(100, 100, 'lowrank', 12);
    const first = await linearSumAssignmentAsync(c, 100, 100);
    const again = await linearSumAssignmentAsync(c, 100, 100, { warmStart: first.colDuals });
    expect(again.warmStarted).toBe(true);
    expect(again.total).toBe(first.total);
  });

  it('rejects bad input with the same typed errors', async () => {
    await expect(linearSumAssignmentAsync(Float64Array.from([1, NaN, 3, 4]), 2, 2)).rejects.toThrow(/cost\[0, 1\].*NaN/);
    await expect(linearSumAssignmentAsync(Float64Array.from([1, NaN, 3, 4]), 2, 2)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(linearSumAssignmentAsync(Float64Array.from([Infinity, Infinity, 1, 2]), 2, 2)).rejects.toBeInstanceOf(InfeasibleAssignmentError);
    await expect(linearSumAssignmentAsync(new Float64Array(3), 2, 2)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(linearSumAssignmentAsync([1, 2] as unknown as Float64Array, 1, 2)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('keeps the event loop running while it solves', async () => {
    const n = 700;
    const c = Float32Array.from(randomMatrix(n, n, 'uniform', 77));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const pending = linearSumAssignmentAsync(c, n, n);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const r = await pending;
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(r.total).toBe(linearSumAssignment(c, n, n).total);
  });
});

describe('gemmAbt (native)', () => {
  function naive(a: Float32Array, b: Float32Array, n: number, m: number, k: number): Float64Array {
    const out = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a[i * k + t]! * b[j * k + t]!;
        out[i * m + j] = s;
      }
    }
    return out;
  }
  for (const [n, m, k] of [
    [1, 1, 1],
    [7, 5, 13],
    [65, 33, 129],
    [200, 150, 300],
    // Over one tile each way (native/gemm.cc: 256 × 512), with tiles of one row and one column.
    [257, 513, 450],
    [3, 4, 0],
  ] as const) {
    it(`${n}×${k} · (${m}×${k})ᵀ`, () => {
      const r = rng(n * 7 + m * 3 + k);
      const a = Float32Array.from({ length: n * k }, () => r() * 2 - 1);
      const b = Float32Array.from({ length: m * k }, () => r() * 2 - 1);
      const out = new Float32Array(n * m).fill(NaN);
      native().gemmAbt(a, b, n, m, k, out);
      const want = naive(a, b, n, m, k);
      for (let x = 0; x < out.length; x++) expect(Math.abs(out[x]! - want[x]!)).toBeLessThanOrEqual(1e-5 * Math.sqrt(k + 1));
      const one = new Float32Array(n * m);
      native().gemmAbt(a, b, n, m, k, one, 1);
      // Every value the same whatever the thread count: the first that differs, as an index (a
      // failing toEqual on a 257 × 513 array takes minutes to print).
      expect(one.findIndex((v, i) => !Object.is(v, out[i]))).toBe(-1);
    });
  }
});
