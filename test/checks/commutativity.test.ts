import { describe, expect, it } from 'vitest';
import { analyzePair } from '../../lib/checks/analyze.js';
import { commutativityCheck } from '../../lib/checks/commutativity.js';
import type { Checkpoint } from '../../lib/checkpoint.js';
import { randomDataset, tinyCheckpoint, tinyModel, type TinyNode } from '../align/helpers.js';

const SAMPLES = 23;
const WIDTH = 6;

/**
 * x → Gemm (C of shape [5]) → Relu → Gemm (β = 0.5, C of shape [1, 3]) → y. With `computedBias`
 * the second Gemm's C is computed (C·1 through a Mul), so it is no parameter of the layer.
 */
function mlp(seed: number, computedBias: boolean): Checkpoint {
  const nodes: TinyNode[] = [
    { op: 'Gemm', inputs: ['x', 'w1', 'c1'], outputs: ['h1'], attrs: { transB: 1 }, name: '/fc1/Gemm' },
    { op: 'Relu', inputs: ['h1'], outputs: ['r1'], name: '/relu/Relu' },
    ...(computedBias ? [{ op: 'Mul', inputs: ['c2', 'one'], outputs: ['c2x'], name: '/scale/Mul' }] : []),
    { op: 'Gemm', inputs: ['r1', 'w2', computedBias ? 'c2x' : 'c2'], outputs: ['y'], attrs: { transB: 1, beta: { float: 0.5 } }, name: '/fc2/Gemm' },
  ];
  const params: Record<string, number[]> = { w1: [5, WIDTH], c1: [5], w2: [3, 5], c2: [1, 3], ...(computedBias ? { one: [1] } : {}) };
  const model = tinyModel({ inputShape: [WIDTH], nodes, params, seed });
  if (computedBias) {
    // The factor is 1 exactly, so both forms compute the same layers.
    const one = model.graph!.initializer.find((t) => t.name === 'one')!;
    one.rawData = new Uint8Array(Float32Array.of(1).buffer);
    one.floatData = [];
  }
  return tinyCheckpoint(model, `mlp${seed}${computedBias ? '-computed' : ''}.onnx`);
}

function weights(c: Checkpoint, name: string): Float64Array {
  const p = c.parameters.find((q) => q.tensor === name)!;
  return Float64Array.from(c.arena.subarray(p.offset, p.offset + p.length));
}

/** rows×k times (out×k)ᵀ, plus the bias, in float64. */
function linear(h: Float64Array, rows: number, w: Float64Array, out: number, bias?: Float64Array): Float64Array {
  const k = w.length / out;
  return Float64Array.from({ length: rows * out }, (_, i) => {
    const [r, o] = [Math.floor(i / out), i % out];
    let s = bias ? bias[o]! : 0;
    for (let j = 0; j < k; j++) s += h[r * k + j]! * w[o * k + j]!;
    return s;
  });
}

/** dist_com of one layer from its definition (SCIENCE.md §4): X = W_A·H_A + W_B·H_B, Y = W_A·H_B + W_B·H_A. */
function distCom(hA: Float64Array, hB: Float64Array, rows: number, wA: Float64Array, wB: Float64Array, out: number): number {
  const [aa, bb, ab, ba] = [linear(hA, rows, wA, out), linear(hB, rows, wB, out), linear(hB, rows, wA, out), linear(hA, rows, wB, out)];
  let [xy, xx, yy] = [0, 0, 0];
  for (let i = 0; i < aa.length; i++) {
    const [x, y] = [aa[i]! + bb[i]!, ab[i]! + ba[i]!];
    xy += (x - y) ** 2;
    xx += x * x;
    yy += y * y;
  }
  return xy / Math.sqrt(xx * yy);
}

describe('commutativity of linear layers with a bias', () => {
  const data = randomDataset(SAMPLES, [WIDTH]);

  it('X from the layers’ outputs less their biases (β·C for Gemm) and X from a second product both equal the definition', async () => {
    const x = new Float64Array(SAMPLES * WIDTH);
    for await (const batch of data.batches(SAMPLES)) x.set(batch.inputs as Float32Array);
    const want = (a: Checkpoint, b: Checkpoint): number[] => {
      const [hA, hB] = [a, b].map((c) => linear(x, SAMPLES, weights(c, 'w1'), 5, weights(c, 'c1')).map((v) => Math.max(v, 0)));
      return [distCom(x, x, SAMPLES, weights(a, 'w1'), weights(b, 'w1'), 5), distCom(hA!, hB!, SAMPLES, weights(a, 'w2'), weights(b, 'w2'), 3)];
    };
    for (const computed of [false, true]) {
      const [a, b] = [mlp(1, computed), mlp(2, computed)];
      const result = await analyzePair(a, b, data, { alphas: [0.5], batchSize: 10 });
      const expected = want(a, b);
      expect(result.commutativity.map((c) => c.node)).toEqual(['/fc1/Gemm', '/fc2/Gemm']);
      result.commutativity.forEach((c, i) => expect(Math.abs(c.distCom - expected[i]!)).toBeLessThanOrEqual(1e-5 * expected[i]! + 1e-12));
      expect(expected[1]).toBeGreaterThan(0.01);
    }
  });

  it('reads a layer’s outputs exactly where its bias is a parameter of the pair', async () => {
    for (const computed of [false, true]) {
      const [a, b] = [mlp(1, computed), mlp(2, computed)];
      const check = await commutativityCheck.create({ a, b, data, layers: [], alphas: [], lmcAlphas: [] });
      try {
        expect(check.needs.endpointValues).toEqual(computed ? ['x', 'h1', 'r1'] : ['x', 'h1', 'r1', 'y']);
      } finally {
        await check.release();
      }
    }
  });
});
