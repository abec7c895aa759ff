/**
 * Valid calls of every addon export, with a reference result, for the boundary properties
 * (boundary-probe.ts): each case builds fresh arguments from small random sizes and checks the
 * addon's answer against a plain TypeScript computation of the same definition.
 */
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import type { NativeAddon, NativeLapResult } from '../../lib/native.js';

/** A generated call: `args` as the export takes them; `check` throws unless `result` is the right answer. */
export interface Call {
  readonly args: unknown[];
  check(result: unknown): void;
}

export interface Case {
  readonly name: keyof NativeAddon;
  /** Fresh, valid arguments (and their expected result) from a seed. */
  readonly call: fc.Arbitrary<() => Call>;
}

/** Deterministic floats in [-1, 1) (mulberry32), so a case is reproducible from its seed. */
function floats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}

function permutation(n: number, seed: number): Int32Array {
  const keys = floats(n, seed);
  return Int32Array.from([...keys.keys()].sort((x, y) => keys[x]! - keys[y]!));
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!(Math.abs(g - w) <= tol * (1 + Math.abs(w)))) throw new Error(`${what}[${i}] = ${g}, expected ${w}`);
  }
}

const seed = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const size = (max: number) => fc.integer({ min: 0, max });
const unitAlphas = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 });

const interpolate: Case = {
  name: 'interpolate',
  call: fc.record({ n: size(9), alphas: unitAlphas, masked: fc.boolean(), s: seed }).map(({ n, alphas, masked, s }) => () => {
    const a = floats(n, s), b = floats(n, s + 1), base = floats(n, s + 2);
    const outs = alphas.map(() => new Float32Array(n));
    const cut = Math.floor(n / 2);
    const mask = { offsets: Float64Array.of(0, cut), lengths: Float64Array.of(cut, n - cut), interpolate: Uint8Array.of(1, 0), base };
    return {
      args: masked ? [a, b, Float64Array.from(alphas), outs, mask] : [a, b, Float64Array.from(alphas), outs],
      check: () =>
        alphas.forEach((al, k) => {
          const want = Float32Array.from(a, (x, i) => (masked && i >= cut ? base[i]! : (1 - al) * x + al * b[i]!));
          close(outs[k]!, want, 0, `outs[${k}]`);
        }),
    };
  }),
};

const copy: Case = {
  name: 'copy',
  call: fc.record({ n: size(9), s: seed }).map(({ n, s }) => () => {
    const src = floats(n, s), dst = new Float32Array(n);
    return { args: [dst, src], check: () => close(dst, src, 0, 'dst') };
  }),
};

/** Σ over samples of the cosine statistics of a(i) against (1−α)·fa + α·fb, as native/feature_stats.h defines them. */
function cosineReference(a: (k: number, j: number) => number, fa: Float32Array, fb: Float32Array, samples: number, alphas: readonly number[]): Float64Array {
  const d = fa.length / samples;
  const acc = new Float64Array(alphas.length * 5);
  alphas.forEach((al, k) => {
    for (let i = 0; i < samples; i++) {
      let am = 0, aa = 0, mm = 0;
      for (let j = i * d; j < (i + 1) * d; j++) {
        const m = (1 - al) * fa[j]! + al * fb[j]!;
        const x = a(k, j);
        am += x * m;
        aa += x * x;
        mm += m * m;
      }
      if (aa === 0 || mm === 0) {
        acc[k * 5 + 4]! += 1;
        continue;
      }
      const dist = 1 - Math.abs(am) / (Math.sqrt(aa) * Math.sqrt(mm));
      acc[k * 5]! += dist;
      acc[k * 5 + 1]! += dist * dist;
      acc[k * 5 + 2]! += am / mm;
      acc[k * 5 + 3]! += 1;
    }
  });
  return acc;
}

const batch = fc.record({ samples: fc.integer({ min: 1, max: 4 }), width: fc.integer({ min: 1, max: 5 }), alphas: unitAlphas, s: seed });

const cosineStats: Case = {
  name: 'cosineStats',
  call: batch.map(({ samples, width, alphas, s }) => () => {
    const n = samples * width;
    const fa = floats(n, s), fb = floats(n, s + 1);
    const compared = alphas.map((_, k) => floats(n, s + 2 + k));
    const acc = new Float64Array(alphas.length * 5);
    return {
      args: [{ compared, alphas: Float64Array.from(alphas), fa, fb, samples, acc }],
      check: () => close(acc, cosineReference((k, j) => compared[k]![j]!, fa, fb, samples, alphas), 1e-9, 'acc'),
    };
  }),
};

const activations: Record<string, (x: number, alpha: number) => number> = {
  Relu: (x) => Math.max(x, 0),
  LeakyRelu: (x, alpha) => (x >= 0 ? x : alpha * x),
  Tanh: Math.tanh,
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};
/** The activations the kernel evaluates in float32 (vectorized, native/feature_stats.h): a few ulp of float32 off the float64 reference. */
const float32Activations = new Set(['Tanh', 'Sigmoid']);

const weakAdditivityStats = (addon: NativeAddon): Case => ({
  name: 'weakAdditivityStats',
  call: fc.record({ batch, kind: fc.constantFrom(...Object.keys(activations)), alpha: fc.double({ min: 0, max: 1, noNaN: true }) }).map(
    ({ batch: { samples, width, alphas, s }, kind, alpha }) =>
      () => {
        const n = samples * width;
        const [ha, hb, fa, fb] = [0, 1, 2, 3].map((k) => floats(n, s + k)) as [Float32Array, Float32Array, Float32Array, Float32Array];
        const acc = new Float64Array(alphas.length * 5);
        const sigma = activations[kind]!;
        const mixed = (k: number, j: number) => sigma((1 - alphas[k]!) * ha[j]! + alphas[k]! * hb[j]!, alpha);
        return {
          args: [{ ha, hb, fa, fb, samples, alphas: Float64Array.from(alphas), activation: { id: addon.activations[kind], alpha, beta: 0 }, acc }],
          check: () => close(acc, cosineReference(mixed, fa, fb, samples, alphas), float32Activations.has(kind) ? 1e-6 : 1e-9, 'acc'),
        };
      },
  ),
});

const sumSquares: Case = {
  name: 'sumSquares',
  call: fc.record({ n: size(9), s: seed }).map(({ n, s }) => () => {
    const x = floats(n, s), y = floats(n, s + 1), out = new Float64Array(3);
    const want = [0, 0, 0];
    x.forEach((v, i) => {
      want[0]! += (v - y[i]!) ** 2;
      want[1]! += v * v;
      want[2]! += y[i]! ** 2;
    });
    return { args: [x, y, out], check: () => close(out, want, 1e-12, 'out') };
  }),
};

/** The best total over every assignment of the smaller side, by enumeration. */
function bestTotal(cost: Float64Array, rows: number, cols: number, maximize: boolean): number {
  const [n, m] = rows <= cols ? [rows, cols] : [cols, rows];
  const at = (i: number, j: number) => (rows <= cols ? cost[i * cols + j]! : cost[j * cols + i]!);
  let best = maximize ? -Infinity : Infinity;
  const used = new Array<boolean>(m).fill(false);
  const walk = (i: number, sum: number): void => {
    if (i === n) {
      best = maximize ? Math.max(best, sum) : Math.min(best, sum);
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      used[j] = true;
      walk(i + 1, sum + at(i, j));
      used[j] = false;
    }
  };
  walk(0, 0);
  return n === 0 ? 0 : best;
}

/** A lap problem and the check of its answer (a valid assignment with the best total). */
export const lapProblem = fc
  .record({ rows: size(5), cols: size(5), maximize: fc.boolean(), single: fc.boolean(), s: seed })
  .map(({ rows, cols, maximize, single, s }) => () => {
    const values = Float64Array.from(floats(rows * cols, s));
    const cost = single ? Float32Array.from(values) : Float64Array.from(values);
    const want = bestTotal(values, rows, cols, maximize);
    return {
      args: [cost, rows, cols, maximize] as unknown[],
      check: (result: unknown) => {
        const r = result as NativeLapResult;
        const k = Math.min(rows, cols);
        if (r.rowInd.length !== k || new Set(r.colInd).size !== k) throw new Error(`not an assignment: ${r.rowInd} → ${r.colInd}`);
        const total = Array.from(r.rowInd).reduce((t, i, p) => t + values[i * cols + r.colInd[p]!]!, 0);
        close([r.total, total], [want, want], 1e-9, 'total');
      },
    };
  });

const lap: Case = { name: 'lap', call: lapProblem };

const gemmAbt: Case = {
  name: 'gemmAbt',
  call: fc.record({ n: size(4), m: size(4), k: size(4), s: seed }).map(({ n, m, k, s }) => () => {
    const a = floats(n * k, s), b = floats(m * k, s + 1), out = new Float32Array(n * m);
    const want = Float64Array.from({ length: n * m }, (_, x) => {
      const i = Math.floor(x / m), j = x % m;
      let sum = 0;
      for (let t = 0; t < k; t++) sum += a[i * k + t]! * b[j * k + t]!;
      return sum;
    });
    return { args: [a, b, n, m, k, out], check: () => close(out, want, 1e-5, 'out') };
  }),
};

/** Every index tuple of a shape, row-major. */
function tuples(dims: readonly number[]): number[][] {
  return dims.reduce<number[][]>((acc, d) => acc.flatMap((t) => Array.from({ length: d }, (_, i) => [...t, i])), [[]]);
}

/** A tensor shape with a permutation or null per axis, and the source offset of an index tuple through the maps. */
const axes = fc.record({ dims: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }), mapped: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), s: seed }).map(({ dims, mapped, s }) => {
  const maps = dims.map((d, k) => (mapped[k] ? permutation(d, s + 10 + k) : null));
  const total = dims.reduce((x, d) => x * d, 1);
  const strides = dims.map((_, k) => dims.slice(k + 1).reduce((x, d) => x * d, 1));
  /** The offset in src of out's index tuple; `skip`: an axis read without its map. */
  const source = (index: readonly number[], skip = -1) => index.reduce((at, i, k) => at + (k !== skip && maps[k] ? maps[k]![i]! : i) * strides[k]!, 0);
  return { dims, maps, total, s, source };
});

const gatherAxes: Case = {
  name: 'gatherAxes',
  call: axes.map(({ dims, maps, total, s, source }) => () => {
    const src = floats(total, s), out = new Float32Array(total);
    const want = tuples(dims).map((index) => src[source(index)]!);
    return { args: [src, dims, maps, out], check: () => close(out, want, 0, 'out') };
  }),
};

const gatheredDot: Case = {
  name: 'gatheredDot',
  call: axes.map(({ dims, maps, total, s, source }) => () => {
    const a = floats(total, s), b = floats(total, s + 1);
    const want = tuples(dims).reduce((sum, index, i) => sum + a[i]! * b[source(index)]!, 0);
    return { args: [a, b, dims, maps], check: (r) => close([r as number], [want], 1e-9, 'dot') };
  }),
};

const extractUnits: Case = {
  name: 'extractUnits',
  call: fc.record({ axes, pick: fc.nat(), count: size(3), inner: fc.integer({ min: 1, max: 2 }) }).map(({ axes: { dims, maps, total, s, source }, pick, count, inner }) => () => {
    const axis = pick % dims.length;
    const len = dims[axis]!;
    const c = Math.min(count, Math.floor(len / inner));
    const offset = len - c * inner;
    const src = floats(total, s);
    const want: number[] = [];
    for (let u = 0; u < c; u++)
      for (const o of tuples(dims.slice(0, axis)))
        for (let r = 0; r < inner; r++)
          for (const t of tuples(dims.slice(axis + 1))) want.push(src[source([...o, offset + u * inner + r, ...t], axis)]!);
    const out = new Float32Array(want.length);
    return {
      args: [{ src, dims, maps, axis, offset, count: c, inner, out }],
      check: () => close(out, want, 0, 'out'),
    };
  }),
};

const accumulateCross: Case = {
  name: 'accumulateCross',
  call: fc.record({ outer: size(3), len: size(5), after: size(3), count: size(3), inner: fc.integer({ min: 1, max: 2 }), s: seed }).map(({ outer, len, after, count, inner, s }) => () => {
    const c = Math.min(count, Math.floor(len / inner));
    const offset = len - c * inner;
    const za = floats(outer * len * after, s), zb = floats(outer * len * after, s + 1);
    const cross = new Float64Array(c * c), sums = new Float64Array(4 * c);
    const wantCross = new Float64Array(c * c), wantSums = new Float64Array(4 * c);
    for (let o = 0; o < outer; o++)
      for (let r = 0; r < inner; r++)
        for (let t = 0; t < after; t++) {
          const at = (u: number) => (o * len + offset + u * inner + r) * after + t;
          for (let i = 0; i < c; i++) {
            wantSums[i]! += za[at(i)]!;
            wantSums[c + i]! += zb[at(i)]!;
            wantSums[2 * c + i]! += za[at(i)]! ** 2;
            wantSums[3 * c + i]! += zb[at(i)]! ** 2;
            for (let j = 0; j < c; j++) wantCross[i * c + j]! += za[at(i)]! * zb[at(j)]!;
          }
        }
    return {
      args: [{ za, zb, outer, len, after, offset, count: c, inner, cross, sums }],
      check: (samples) => {
        close([samples as number], [c === 0 ? 0 : outer * inner * after], 0, 'samples');
        close(cross, wantCross, 1e-12, 'cross');
        close(sums, wantSums, 1e-12, 'sums');
      },
    };
  }),
};

const channelMoments: Case = {
  name: 'channelMoments',
  call: fc.record({ outer: size(4), channels: size(4), inner: size(4), s: seed }).map(({ outer, channels, inner, s }) => () => {
    const x = floats(outer * channels * inner, s), sums = new Float64Array(2 * channels).fill(1);
    const want = new Float64Array(2 * channels).fill(1);
    x.forEach((v, i) => {
      const c = Math.floor(i / inner) % channels;
      want[c]! += v;
      want[channels + c]! += v * v;
    });
    return { args: [{ x, outer, channels, inner, sums }], check: () => close(sums, want, 1e-12, 'sums') };
  }),
};

/** outputCommutativitySums against X = za + zb − bias per channel, in float64; every layout, with and without a bias. */
const outputCommutativitySums: Case = {
  name: 'outputCommutativitySums',
  call: fc.record({ outer: size(4), channels: size(4), inner: size(4), biased: fc.boolean(), s: seed }).map(({ outer, channels, inner, biased, s }) => () => {
    const n = outer * channels * inner;
    const [za, zb, d] = [floats(n, s), floats(n, s + 1), floats(n, s + 2)];
    const bias = biased ? floats(channels, s + 3) : undefined;
    const out = Float64Array.of(1, 2, 3);
    const want = Float64Array.of(1, 2, 3);
    za.forEach((v, i) => {
      const x = v + zb[i]! - (bias ? bias[Math.floor(i / inner) % channels]! : 0);
      want[0]! += (x - d[i]!) ** 2;
      want[1]! += x * x;
      want[2]! += d[i]! ** 2;
    });
    return { args: [{ za, zb, ...(bias ? { bias } : {}), d, outer, channels, inner, out }], check: () => close(out, want, 1e-12, 'out') };
  }),
};

/** crossEntropySums against a float64 log-sum-exp and argmax per row; some rows carry the ignore index. */
const crossEntropySums: Case = {
  name: 'crossEntropySums',
  call: fc.record({ n: size(6), classes: fc.integer({ min: 1, max: 5 }), ignore: fc.boolean(), s: seed }).map(({ n, classes, ignore, s }) => () => {
    const logits = floats(n * classes, s).map((x) => 8 * x);
    const keys = floats(n, s + 1);
    const labels = Int32Array.from(keys, (k, i) => (ignore && i % 3 === 0 ? -100 : Math.floor(((k + 1) / 2) * classes)));
    const out = Float64Array.of(1, 2, 3);
    const want = Float64Array.of(1, 2, 3);
    labels.forEach((label, r) => {
      if (ignore && label === -100) return;
      const row = [...logits.subarray(r * classes, (r + 1) * classes)];
      const max = Math.max(...row);
      want[0]! += max + Math.log(row.reduce((t, v) => t + Math.exp(v - max), 0)) - row[label]!;
      want[1]! += row.indexOf(max) === label ? 1 : 0;
      want[2]! += 1;
    });
    return { args: [{ logits, labels, classes, ...(ignore ? { ignoreIndex: -100 } : {}), out }], check: () => close(out, want, 1e-6, 'out') };
  }),
};

const addToFloat64: Case = {
  name: 'addToFloat64',
  call: fc.record({ n: size(9), s: seed }).map(({ n, s }) => () => {
    const src = floats(n, s), dst = Float64Array.from(floats(n, s + 1));
    const want = Float64Array.from(dst, (x, i) => x + src[i]!);
    return { args: [dst, src], check: () => close(dst, want, 0, 'dst') };
  }),
};

/**
 * procrustes: O is orthogonal, keeps 1 when asked, and is optimal: without the restriction
 * Oᵀ·c is symmetric (O = U·Vᵀ makes it V·Σ·Vᵀ); either way the score tr(O·cᵀ) is the one
 * returned and at least the identity's.
 */
const procrustes: Case = {
  name: 'procrustes',
  call: fc.record({ d: size(5), fixOnes: fc.boolean(), s: seed }).map(({ d, fixOnes, s }) => () => {
    const c = Float64Array.from(floats(d * d, s)), out = new Float64Array(d * d);
    const at = (m: Float64Array, i: number, j: number): number => m[i * d + j]!;
    const product = (f: (i: number, j: number) => number): Float64Array => Float64Array.from({ length: d * d }, (_, x) => f(Math.floor(x / d), x % d));
    const sum = (f: (k: number) => number): number => Array.from({ length: d }, (_, k) => f(k)).reduce((x, y) => x + y, 0);
    return {
      args: [c, d, fixOnes, out],
      check: (score) => {
        close(product((i, j) => sum((k) => at(out, k, i) * at(out, k, j))), product((i, j) => (i === j ? 1 : 0)), 1e-9, 'OᵀO');
        const trace = sum((k) => at(c, k, k));
        close([score as number], [sum((i) => sum((j) => at(out, i, j) * at(c, i, j)))], 1e-9, 'score');
        if ((score as number) < trace - 1e-9) throw new Error(`score ${score} is below the identity's ${trace}`);
        if (fixOnes) close(product((i) => sum((j) => at(out, i, j))).filter((_, x) => x % d === 0), new Float64Array(d).fill(1), 1e-9, 'O·1');
        else {
          const otc = product((i, j) => sum((k) => at(out, k, i) * at(c, k, j)));
          close(otc, product((i, j) => at(otc, j, i)), 1e-9, 'Oᵀc');
        }
      },
    };
  }),
};

/**
 * releaseFilePages: of file-backed floats (made here by the addon itself), whole pages are handed
 * back and the values stay; of other memory nothing is, and the values stay too.
 */
function releaseFilePages(addon: NativeAddon): Case {
  return {
    name: 'releaseFilePages',
    call: fc.record({ n: fc.integer({ min: 1, max: 3000 }), from: fc.nat(), backed: fc.boolean(), s: seed }).map(({ n, from, backed, s }) => () => {
      const values = floats(n, s);
      const whole = backed ? addon.fileBackedFloats(tmpdir(), n).floats! : new Float32Array(n);
      whole.set(values);
      const start = from % n;
      return {
        args: [whole.subarray(start)],
        check: (result) => {
          if (backed ? !(typeof result === 'number' && result > 0 && result % 4096 === 0) : result !== 0) throw new Error(`releaseFilePages returned ${String(result)} for ${backed ? 'file-backed' : 'ordinary'} memory`);
          close(whole, values, 0, 'x');
        },
      };
    }),
  };
}

/** One valid-call generator per export that takes arguments (lapAsync: see boundary-probe.ts). */
export function cases(addon: NativeAddon): Case[] {
  return [interpolate, copy, cosineStats, weakAdditivityStats(addon), sumSquares, lap, gemmAbt, gatherAxes, gatheredDot, extractUnits, accumulateCross, addToFloat64, channelMoments, outputCommutativitySums, crossEntropySums, procrustes, releaseFilePages(addon)];
}

/** The graph of ortRunCase: Y = X·W, X of n rows of 3, W below. */
export const ORT_RUN_WEIGHT = Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6);

/**
 * ortRun on a session of Y = X·W (created by the probe from {@link ORT_RUN_WEIGHT}): Y written
 * into a given array or returned in a new one, against the product computed here.
 */
export function ortRunCase(session: unknown): Case {
  return {
    name: 'ortRun',
    call: fc.record({ n: fc.integer({ min: 0, max: 6 }), seed: fc.nat(), given: fc.boolean() }).map(({ n, seed, given }) => () => {
      const x = floats(n * 3, seed);
      const out = given ? new Float32Array(n * 2) : undefined;
      const want = Float64Array.from({ length: n * 2 }, (_, i) => sum3((k) => x[Math.floor(i / 2) * 3 + k]! * ORT_RUN_WEIGHT[k * 2 + (i % 2)]!));
      return {
        args: [session, [{ name: 'X', type: 1, dims: [n, 3], data: x }], [out ? { name: 'Y', type: 1, dims: [n, 2], data: out } : { name: 'Y' }]],
        check: (result) => {
          const [y] = result as { name: string; dims: number[]; data: Float32Array }[];
          if (!y || y.name !== 'Y' || y.dims.join() !== `${n},2`) throw new Error(`ortRun returned ${JSON.stringify(y && { name: y.name, dims: y.dims })}`);
          if (out && y.data !== out) throw new Error('ortRun did not return the given array');
          close(y.data, want, 1e-6, 'Y');
        },
      };
    }),
  };
}

function sum3(term: (k: number) => number): number {
  return term(0) + term(1) + term(2);
}
