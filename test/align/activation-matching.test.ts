import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset } from '../../lib/dataset/index.js';
import { activationMatching } from '../../lib/align/activation-matching.js';
import { align } from '../../lib/align/index.js';
import { inversePermutation, permuteArena, randomPermutations } from '../../lib/align/permute.js';
import { inferSpec } from '../../lib/align/spec/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { native } from '../../lib/native.js';
import { fixture } from '../helpers.js';
import { randomDataset, randomFloats } from './helpers.js';

const model = (name: string): string => fixture('models', `${name}.onnx`);
const fashion = (limit: number) =>
  openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit });

describe('the cross-correlation kernel', () => {
  it('matches a direct float64 computation on a channel block with inner positions', () => {
    const [outer, len, after] = [3, 10, 4];
    const [offset, count, inner] = [2, 3, 2];
    const za = randomFloats(outer * len * after, 1);
    const zb = randomFloats(outer * len * after, 2);
    const cross = new Float64Array(count * count);
    const sums = new Float64Array(4 * count);
    const n = native().accumulateCross({ za, zb, outer, len, after, offset, count, inner, cross, sums });
    expect(n).toBe(outer * inner * after);
    const want = new Float64Array(count * count);
    const ws = new Float64Array(4 * count);
    for (let o = 0; o < outer; o++)
      for (let r = 0; r < inner; r++)
        for (let t = 0; t < after; t++) {
          const at = (c: number): number => (o * len + offset + c * inner + r) * after + t;
          for (let i = 0; i < count; i++) {
            ws[i]! += za[at(i)]!;
            ws[count + i]! += zb[at(i)]!;
            ws[2 * count + i]! += za[at(i)]! ** 2;
            ws[3 * count + i]! += zb[at(i)]! ** 2;
            for (let j = 0; j < count; j++) want[i * count + j]! += za[at(i)]! * zb[at(j)]!;
          }
        }
    cross.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 12));
    sums.forEach((v, k) => expect(v).toBeCloseTo(ws[k]!, 12));
    // accumulates: a second call doubles everything
    native().accumulateCross({ za, zb, outer, len, after, offset, count, inner, cross, sums });
    cross.forEach((v, k) => expect(v).toBeCloseTo(2 * want[k]!, 12));
  });

  it('refuses inconsistent sizes instead of reading out of bounds', () => {
    const z = new Float32Array(12);
    expect(() => native().accumulateCross({ za: z, zb: z, outer: 1, len: 12, after: 1, offset: 10, count: 3, inner: 1, cross: new Float64Array(9), sums: new Float64Array(12) })).toThrow(/exceeds the axis of length 12/);
    expect(() => native().accumulateCross({ za: z, zb: z, outer: 2, len: 12, after: 1, offset: 0, count: 3, inner: 1, cross: new Float64Array(9), sums: new Float64Array(12) })).toThrow(/must hold outer·len·after = 24 floats/);
    expect(() => native().accumulateCross({ za: z, zb: z, outer: 1, len: 12, after: 1, offset: 0, count: 3, inner: 1, cross: new Float64Array(8), sums: new Float64Array(12) })).toThrow(/cross has 8 elements, expected 9/);
  });
});

async function plantedRecovery(a: Checkpoint, data: Awaited<ReturnType<typeof fashion>> | ReturnType<typeof randomDataset>, correlation: 'cross' | 'pearson'): Promise<void> {
  const spec = await inferSpec(a);
  const perms = randomPermutations(spec, 13);
  const b = { ...a, file: `${a.file} (permuted)`, arena: permuteArena(a, spec, perms) };
  const r = await activationMatching(a, b, spec, { data, correlation, batchSize: 64 });
  r.permutations.forEach((p, g) => expect(Array.from(p)).toEqual(Array.from(inversePermutation(perms[g]!))));
  expect(Buffer.from(permuteArena(b, spec, r.permutations).buffer).equals(Buffer.from(a.arena.buffer))).toBe(true);
  r.score.forEach((s, g) => expect(s).toBeGreaterThanOrEqual(r.identityScore[g]!));
}

describe('activation matching', () => {
  it.each([
    ['mlp_a', 'cross'],
    ['mlp_a', 'pearson'],
    ['cnn_bn_a', 'cross'],
    ['resnet_a', 'pearson'],
  ] as const)('recovers a planted permutation exactly (%s, %s)', async (name, form) => {
    await plantedRecovery(await loadCheckpoint(model(name)), await fashion(256), form);
  });

  it.each(['squeezenet1_1', 'mobilenet_v3_small'])('recovers a planted permutation exactly on random inputs (%s)', async (name) => {
    await plantedRecovery(await loadCheckpoint(model(name)), randomDataset(16, [3, 64, 64]), 'cross');
  });

  it('brings the loss barrier of the real MLP pair far below the naive one', async () => {
    const a = await loadCheckpoint(model('mlp_a'));
    const b = await loadCheckpoint(model('mlp_b'));
    const data = await fashion(1000);
    const result = await align(a, b, { method: 'activation', data, correlation: 'pearson' });
    expect(result.activationMatching!.samples).toBe(1000);
    const alphas = [0, 0.5, 1];
    const naive = await linearModeConnectivity(a, b, data, { alphas });
    const aligned = await linearModeConnectivity(a, result.aligned, data, { alphas });
    expect(aligned.barriers!.loss).toBeLessThan(0.25 * naive.barriers!.loss);
    expect(result.objective[0]!).toBeGreaterThan(result.initialObjective);
  });

  it('says that data is missing, and that samples must fit the model', async () => {
    const a = await loadCheckpoint(model('mlp_a'));
    const b = await loadCheckpoint(model('mlp_b'));
    const spec = await inferSpec(b);
    await expect(activationMatching(a, b, spec)).rejects.toThrow(InvalidArgumentError);
    await expect(align(a, b, { method: 'activation' })).rejects.toThrow(/activation matching needs data/);
    await expect(activationMatching(a, b, spec, { data: randomDataset(4, [3, 8, 8]) })).rejects.toThrow(/samples of shape \[3, 8, 8\] do not fit the input 'input'/);
    await expect(activationMatching(a, b, spec, { data: await fashion(10), correlation: 'spearman' as 'cross' })).rejects.toThrow(/correlation must be 'cross' or 'pearson'/);
  });
});
