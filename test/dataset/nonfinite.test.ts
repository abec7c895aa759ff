import { afterAll, describe, expect, it } from 'vitest';
import { analyze, lmc } from '../../lib/api.js';
import { openDataset } from '../../lib/dataset/index.js';
import { DatasetError, NonFiniteDataError, NonFiniteOutputError } from '../../lib/errors.js';
import { fixture } from '../helpers.js';
import { concatBatches, tempDir, writeNpy } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function readAll(options: Parameters<typeof openDataset>[0], batchSize: number): Promise<Float32Array> {
  const ds = await openDataset(options);
  const batches = [];
  for await (const b of ds.batches(batchSize)) batches.push(b);
  return concatBatches(batches).inputs;
}

describe('non-finite input values', () => {
  it.each([
    ['NaN', '<f4', Number.NaN],
    ['+Inf', '<f8', Number.POSITIVE_INFINITY],
    ['-Inf', '<f4', Number.NEGATIVE_INFINITY],
  ])('%s in a later batch is a NonFiniteDataError naming the file, the sample and the feature', async (_what, descr, bad) => {
    const values = (descr.endsWith('8') ? new Float64Array(10 * 6) : new Float32Array(10 * 6)).fill(1);
    values[7 * 6 + 4] = bad;
    const file = writeNpy(tmp.path(`bad-${String(bad)}.npy`), descr, [10, 2, 3], values);
    const error = await readAll({ data: file }, 4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteDataError);
    expect(error).toBeInstanceOf(DatasetError);
    expect(error).toMatchObject({ file, sample: 7, feature: 4, value: bad, code: 'DATASET' });
    expect((error as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: sample 7 holds ${String(bad).replace('+', '')} at feature 4 \\(\\[1, 1\\] of its 2×3 values\\)`));
  });

  it('the batches before the bad one are delivered', async () => {
    const values = new Float32Array(10 * 6).fill(1);
    values[9 * 6] = Number.NaN;
    const ds = await openDataset({ data: writeNpy(tmp.path('late.npy'), '<f4', [10, 6], values) });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const b of ds.batches(3)) seen.push(b.start);
      })(),
    ).rejects.toThrow(/sample 9 holds NaN at feature 0:/);
    expect(seen).toEqual([0, 3, 6]);
  });

  it('allowNonfinite: true lets the values through unchanged', async () => {
    const values = new Float32Array(4 * 3).fill(2);
    values[5] = Number.NaN;
    values[6] = Number.POSITIVE_INFINITY;
    const inputs = await readAll({ data: writeNpy(tmp.path('allowed.npy'), '<f4', [4, 3], values), allowNonfinite: true }, 2);
    expect(Array.from(inputs)).toEqual(Array.from(values));
  });

  it('finite data passes untouched (the fixture data, normalized)', async () => {
    const inputs = await readAll({ data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 300 }, 128);
    expect(inputs.length).toBe(300 * 784);
    expect(inputs.every(Number.isFinite)).toBe(true);
  });

  it('lmc() rejects with the typed error and its fields, from the worker thread', async () => {
    const values = new Float32Array(4 * 784);
    values[2 * 784 + 783] = Number.NaN;
    const data = writeNpy(tmp.path('nan-input.npy'), '<f4', [4, 1, 28, 28], values);
    const labels = writeNpy(tmp.path('nan-labels.npy'), '<i8', [4], new BigInt64Array(4));
    const error = await lmc({ a: fixture('models', 'mlp_a.onnx'), b: fixture('models', 'mlp_b.onnx'), data: { data, labels } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteDataError);
    expect(error).toMatchObject({ file: data, sample: 2, feature: 783, sampleShape: [1, 28, 28] });
    expect((error as Error).message).toContain('sample 2 holds NaN at feature 783 ([0, 27, 27] of its 1×28×28 values)');
  });
});

describe('non-finite model outputs on finite inputs', () => {
  const a = fixture('models', 'mlp_a.onnx');
  const b = fixture('models', 'mlp_b.onnx');
  /** 8 samples of ones, sample `huge` at 1e38 (finite, but the MLP's first layer overflows float32 on it). */
  function data(name: string, huge: number, extra?: (values: Float32Array) => void): { data: string; labels: string } {
    const values = new Float32Array(8 * 784).fill(1);
    values.fill(1e38, huge * 784, (huge + 1) * 784);
    extra?.(values);
    return { data: writeNpy(tmp.path(`${name}.npy`), '<f4', [8, 1, 28, 28], values), labels: writeNpy(tmp.path(`${name}-labels.npy`), '<i8', [8], new BigInt64Array(8)) };
  }

  it('lmc() and analyze() reject with NonFiniteOutputError naming the model, the output and the sample, instead of NaN losses', async () => {
    const set = data('overflow', 5);
    for (const run of [() => lmc({ a, b, data: set }, { batchSize: 3 }), () => analyze({ a, b, data: set }, { batchSize: 3 })]) {
      const error = await run().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NonFiniteOutputError);
      expect(error).toMatchObject({ code: 'NON_FINITE_OUTPUT', file: a, output: 'logits', sample: 5 });
      expect((error as Error).message).toMatch(/its output 'logits' is (NaN|-?Infinity) on sample 5 of .*overflow\.npy, whose inputs are finite: the model overflows float32/);
    }
  });

  it('inputs let through by allowNonfinite make non-finite outputs expected: no error', async () => {
    const set = data('allowed-overflow', 5, (values) => (values[2 * 784] = Number.NaN));
    const result = await lmc({ a, b, data: { ...set, allowNonfinite: true } }, { batchSize: 8 });
    expect(result.loss.some((l) => !Number.isFinite(l))).toBe(true);
  });
});

