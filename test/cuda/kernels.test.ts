/**
 * Every GPU kernel against its CPU kernel, on a machine with a CUDA device (H100/H200: sm_90):
 * interpolation bit for bit, statistics to 1e-9 relative in float64, GEMM to float32 rounding.
 * Elsewhere the suite reports itself skipped with the reason.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeAddon, NativeMask } from '../../lib/native.js';
import { cpu, cuda, noGpu, randomFloats } from './addon.js';

const gpu = cuda as NativeAddon;
const DEFAULT_CHUNK = 1 << 26;

/**
 * Bit for bit, except that any NaN equals any NaN: x86 and NVIDIA GPUs produce different
 * default NaN payloads (for ∞ − ∞ or 0·∞), which nothing in llfc reads. −0 ≠ +0 still.
 */
function sameBits(x: Float32Array, y: Float32Array): boolean {
  if (Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))) return true;
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]) || (Number.isNaN(v) && Number.isNaN(y[i]!)));
}

function interpolateBoth(a: Float32Array, b: Float32Array, alphas: number[], mask?: NativeMask): void {
  const al = Float64Array.from(alphas);
  const outsGpu = alphas.map(() => new Float32Array(a.length).fill(7));
  const outsCpu = alphas.map(() => new Float32Array(a.length).fill(9));
  gpu.interpolate(a, b, al, outsGpu, mask);
  cpu.interpolate(a, b, al, outsCpu, mask);
  outsGpu.forEach((o, k) => {
    if (!sameBits(o, outsCpu[k]!)) {
      const i = o.findIndex((v, j) => !Object.is(v, outsCpu[k]![j]) && !(Number.isNaN(v) && Number.isNaN(outsCpu[k]![j]!)));
      throw new Error(`α=${alphas[k]}: element ${i} is ${o[i]} on the GPU, ${outsCpu[k]![i]} on the CPU`);
    }
  });
}

/** A mask of random tensors over n elements. */
function randomMask(n: number, seed: number, base: Float32Array): NativeMask {
  const offsets: number[] = [], lengths: number[] = [], flags: number[] = [];
  const r = randomFloats(n, seed);
  for (let at = 0, i = 0; at < n; i++) {
    const len = Math.min(n - at, Math.floor(Math.abs(r[i % n]!) * 5000));
    offsets.push(at);
    lengths.push(len);
    flags.push(r[(i * 7) % n]! > 0 ? 1 : 0);
    at += len;
  }
  return { offsets: Float64Array.from(offsets), lengths: Float64Array.from(lengths), interpolate: Uint8Array.from(flags), base };
}

/** |x − y| ≤ rel·max(|x|, |y|) + abs, slot by slot. */
function expectClose(x: Float64Array, y: Float64Array, rel: number, abs: (i: number) => number = () => 0): void {
  x.forEach((v, i) => {
    const w = y[i]!;
    if (!(Math.abs(v - w) <= rel * Math.max(Math.abs(v), Math.abs(w)) + abs(i))) {
      throw new Error(`slot ${i}: GPU ${v}, CPU ${w}`);
    }
  });
}

describe.skipIf(noGpu !== undefined)(`GPU kernels equal the CPU kernels${noGpu ? ` — skipped: ${noGpu}` : ''}`, () => {
  afterEach(() => {
    gpu.cudaSetChunk!(DEFAULT_CHUNK);
    gpu.cudaRelease!();
  });

  it('reports the device it runs on', () => {
    const info = gpu.cudaInfo!();
    expect(info.available).toBe(true);
    expect(info.device).toBeTruthy();
    console.info(`CUDA device: ${info.device} (sm_${info.computeCapability?.replace('.', '')}), cuBLAS: ${info.cublas ?? info.cublasError}`);
  });

  it('interpolation: bit for bit on random arenas (±∞, subnormals, −0 included) and many α', () => {
    const arena = (n: number) => fc.float32Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }).chain((n) => fc.tuple(arena(n), arena(n), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }))),
        ([a, b, alphas]) => interpolateBoth(a, b, alphas),
      ),
      { numRuns: 200 },
    );
  });

  it('interpolation: bit for bit on a large arena, in one chunk and in many, aligned or not', () => {
    const n = 3_000_017;
    const a = randomFloats(n, 11, 4), b = randomFloats(n, 12, 1e3);
    const alphas = [0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 0.9, 1];
    interpolateBoth(a, b, alphas);
    gpu.cudaSetChunk!(100_000);
    interpolateBoth(a, b, alphas);
    interpolateBoth(a.subarray(1), b.subarray(3, n - 2), alphas);
  });

  it('interpolation with masks: bit for bit, copied tensors taken from the base', () => {
    const n = 1_000_003;
    const a = randomFloats(n, 21), b = randomFloats(n, 22), base = randomFloats(n, 23);
    for (const chunk of [DEFAULT_CHUNK, 50_000]) {
      gpu.cudaSetChunk!(chunk);
      interpolateBoth(a, b, [0, 0.5, 0.6, 1], randomMask(n, 24, base));
      interpolateBoth(a, b, [0.3], { offsets: new Float64Array([0]), lengths: new Float64Array([n]), interpolate: new Uint8Array([0]), base });
    }
  });

  it('resident arenas: the same bits without re-uploading, refreshed after a write', () => {
    const n = 2_000_001;
    const a = randomFloats(n, 31), b = randomFloats(n, 32);
    gpu.cudaResident!(a);
    gpu.cudaResident!(b);
    expect(gpu.cudaInfo!().residentBytes).toBe(2 * n * 4);
    interpolateBoth(a, b, [0.2, 0.5]);
    interpolateBoth(a.subarray(5, 5 + 10_000), b.subarray(5, 5 + 10_000), [0.4]); // a tensor inside
    a.fill(0.5, 100, 200);
    gpu.cudaResident!(a.subarray(100, 200)); // refresh the part that changed
    interpolateBoth(a, b, [0.2, 0.5]);
    expect(gpu.cudaRelease!(a)).toBe(1);
    expect(gpu.cudaRelease!()).toBe(1);
    expect(gpu.cudaInfo!().residentBytes).toBe(0);
  });

  it('cosine statistics: within 1e-9 relative in float64, skipped samples counted alike', () => {
    for (const [n, d, k] of [[1, 1, 1], [7, 3, 2], [256, 784, 11], [64, 100_352, 3], [3000, 10, 5]] as const) {
      const fa = randomFloats(n * d, 41 + d, 2), fb = randomFloats(n * d, 42 + d, 2);
      if (n > 2) {
        fa.fill(0, d, 2 * d);
        fb.fill(0, d, 2 * d);
      }
      const alphas = Float64Array.from({ length: k }, (_, i) => (k === 1 ? 0.5 : i / (k - 1)));
      const as = Array.from(alphas, (al, i) => {
        const x = randomFloats(n * d, 50 + i, 0.01);
        return x.map((v, j) => (1 - al) * fa[j]! + al * fb[j]! + v);
      });
      for (const chunk of [DEFAULT_CHUNK, 4096]) {
        gpu.cudaSetChunk!(chunk);
        const accGpu = new Float64Array(k * 5), accCpu = new Float64Array(k * 5);
        gpu.cosineStats({ compared: as, alphas, fa, fb, samples: n, acc: accGpu });
        cpu.cosineStats({ compared: as, alphas, fa, fb, samples: n, acc: accCpu });
        // The distance is 1 − cos: near a = m its absolute error is ~1e-16 per sample.
        expectClose(accGpu, accCpu, 1e-9, (i) => (i % 5 < 2 ? 1e-12 * n : 0));
        const baseGpu = new Float64Array(5), baseCpu = new Float64Array(5);
        gpu.cosineStats({ compared: [fa], alphas: new Float64Array([1]), fa, fb, samples: n, acc: baseGpu });
        cpu.cosineStats({ compared: [fa], alphas: new Float64Array([1]), fa, fb, samples: n, acc: baseCpu });
        expectClose(baseGpu, baseCpu, 1e-9);
      }
    }
  });

  it('sums of squares: within 1e-9 relative in float64', () => {
    for (const n of [1, 2047, 2049, 1_000_000, 30_000_001]) {
      const x = randomFloats(n, 61, 3), y = randomFloats(n, 62, 3);
      for (const chunk of [DEFAULT_CHUNK, 1 << 20]) {
        gpu.cudaSetChunk!(chunk);
        const g = new Float64Array([1, 2, 3]), c = new Float64Array([1, 2, 3]);
        gpu.sumSquares(x, y, g);
        cpu.sumSquares(x, y, c);
        expectClose(g, c, 1e-9);
      }
    }
  });

  it('GEMM (cuBLAS SGEMM, A·Bᵀ): within float32 rounding of the CPU product', (ctx) => {
    const info = gpu.cudaInfo!();
    if (!info.cublas) ctx.skip(`cuBLAS not loaded: ${info.cublasError}`);
    for (const [n, m, k] of [[1, 1, 1], [3, 5, 7], [512, 512, 784], [1000, 10, 4096], [2048, 2048, 2304]] as const) {
      const a = randomFloats(n * k, 71), b = randomFloats(m * k, 72);
      const g = new Float32Array(n * m), c = new Float32Array(n * m);
      gpu.gemmAbt(a, b, n, m, k, g);
      cpu.gemmAbt(a, b, n, m, k, c);
      // Both sum k products of |·| ≤ 1 in float32: differences stay far below 1e-5·k.
      g.forEach((v, i) => {
        if (!(Math.abs(v - c[i]!) <= 1e-5 * k)) throw new Error(`${n}×${m}×${k} [${i}]: GPU ${v}, CPU ${c[i]}`);
      });
    }
    const zeros = new Float32Array(6).fill(3);
    gpu.gemmAbt(new Float32Array(0), new Float32Array(0), 2, 3, 0, zeros);
    expect(Array.from(zeros)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
