import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { alphaGrid, linearModeConnectivity } from '../../lib/checks/lmc.js';
import { accuracyBarrier, lossBarrier, midpointLossBarrier } from '../../lib/checks/loss.js';
import { openDataset } from '../../lib/dataset/index.js';
import { CancelledError, CheckpointMismatchError, EmptyDatasetError, InvalidArgumentError, LabelError, ShapeMismatchError } from '../../lib/errors.js';
import { writeNpy } from '../dataset/helpers.js';
import { fixture, tempDir } from '../helpers.js';
import { expectLmcReference } from './lmc-reference.js';

interface LmcReference {
  a: string;
  b: string;
  data: string;
  labels: string;
  normalize: { mean: number[]; std: number[] };
  alphas: number[];
  loss: number[];
  accuracy: number[];
  barriers: { loss: number; lossMidpoint: number; accuracy: number };
}

const references = JSON.parse(readFileSync(fixture('reference', 'lmc.json'), 'utf8')) as Record<string, LmcReference | string>;
const pairs = Object.entries(references).filter((e): e is [string, LmcReference] => typeof e[1] === 'object');

async function openPair(ref: LmcReference, limit?: number) {
  const [a, b, data] = await Promise.all([
    loadCheckpoint(fixture(ref.a)),
    loadCheckpoint(fixture(ref.b)),
    openDataset({ data: fixture(ref.data), labels: fixture(ref.labels), normalize: ref.normalize, ...(limit ? { limit } : {}) }),
  ]);
  return { a, b, data };
}

describe('LMC against PyTorch', () => {
  it.each(pairs)('the %s curve equals the PyTorch reference (loss 1e-4 relative, accuracy exact)', async (_name, ref) => {
    const { a, b, data } = await openPair(ref);
    expectLmcReference(await linearModeConnectivity(a, b, data, { alphas: ref.alphas, batchSize: 300 }), ref);
  });

  it('gives the same curve with parameters fed as inputs and baked in as initializers', async () => {
    const { a, b, data } = await openPair(pairs.find(([n]) => n === 'cnn_bn')![1], 400);
    const alphas = [0, 0.5, 1];
    const viaInputs = await linearModeConnectivity(a, b, data, { alphas, feed: 'inputs' });
    const baked = await linearModeConnectivity(a, b, data, { alphas, feed: 'initializers' });
    viaInputs.loss.forEach((l, i) => expect(l).toBeCloseTo(baked.loss[i]!, 6));
    expect(viaInputs.accuracy).toEqual(baked.accuracy);
  });

  it('does not depend on the batch size', async () => {
    const { a, b, data } = await openPair(pairs.find(([n]) => n === 'mlp')![1], 500);
    const one = await linearModeConnectivity(a, b, data, { alphas: [0.5], batchSize: 500 });
    const many = await linearModeConnectivity(a, b, data, { alphas: [0.5], batchSize: 37 });
    expect(many.loss[0]).toBeCloseTo(one.loss[0]!, 6);
    expect(many.accuracy).toEqual(one.accuracy);
    expect(one.barriers).toBeNull();
  });

  it('reports progress and stops with CancelledError when aborted', async () => {
    const { a, b, data } = await openPair(pairs.find(([n]) => n === 'mlp')![1], 500);
    const controller = new AbortController();
    const events: number[] = [];
    const run = linearModeConnectivity(a, b, data, {
      batchSize: 50,
      signal: controller.signal,
      onProgress: (e) => {
        events.push(e.done);
        if (e.done === 3) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(CancelledError);
    expect(events).toEqual([1, 2, 3]);
  });
});

describe('barrier definitions', () => {
  it('measure the bump above the chord, above the endpoint mean, and the accuracy dip', () => {
    const alphas = [0, 0.5, 1];
    expect(lossBarrier(alphas, [1, 3, 2])).toBe(1.5);
    expect(midpointLossBarrier(alphas, [1, 3, 2])).toBe(1.5);
    expect(midpointLossBarrier(alphas, [1, 1.2, 2])).toBeCloseTo(0.5);
    expect(lossBarrier(alphas, [1, 1.2, 2])).toBe(0);
    expect(accuracyBarrier(alphas, [0.9, 0.5, 0.8])).toBeCloseTo(0.35);
  });

  it('alphaGrid gives i/(n−1) and refuses fewer than two points', () => {
    expect(alphaGrid(5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(() => alphaGrid(1)).toThrow(InvalidArgumentError);
  });
});

describe('LMC bad input', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const mlp = pairs.find(([n]) => n === 'mlp')![1];

  it('refuses α outside [0, 1]', async () => {
    const { a, b, data } = await openPair(mlp, 10);
    await expect(linearModeConnectivity(a, b, data, { alphas: [0, 1.2] })).rejects.toThrow(InvalidArgumentError);
  });

  it('refuses a mismatched pair', async () => {
    const { a, data } = await openPair(mlp, 10);
    const cnn = await loadCheckpoint(fixture('models', 'cnn_bn_a.onnx'));
    await expect(linearModeConnectivity(a, cnn, data)).rejects.toThrow(CheckpointMismatchError);
  });

  it('refuses data whose shape does not fit the model input, naming both shapes', async () => {
    const { a, b } = await openPair(mlp, 10);
    const file = writeNpy(join(tmp.dir, 'flat.npy'), '<f4', [10, 784], new Float32Array(7840));
    const labelsFile = writeNpy(join(tmp.dir, 'labels.npy'), '<i8', [10], new BigInt64Array(10));
    const flat = await openDataset({ data: file, labels: labelsFile });
    await expect(linearModeConnectivity(a, b, flat)).rejects.toThrow(ShapeMismatchError);
    await expect(linearModeConnectivity(a, b, flat)).rejects.toThrow(/\[784\].*\[N, 1, 28, 28\]/);
  });

  it('refuses labels outside the model’s classes', async () => {
    const { a, b, data } = await openPair(mlp, 10);
    const labels = Int32Array.from(data.labels!);
    labels[3] = 10;
    const bad = { ...data, labels, batches: data.batches.bind(data), source: data.source, length: data.length, sampleShape: data.sampleShape };
    await expect(linearModeConnectivity(a, b, bad)).rejects.toThrow(LabelError);
  });

  it('refuses labels of the wrong length when opening the data', async () => {
    await expect(openDataset({ data: fixture('data', 'fashion_test_x_f32.npy'), labels: fixture('data', 'fashion_test_y.npy') })).rejects.toThrow(LabelError);
  });

  it('refuses an empty dataset', async () => {
    const file = writeNpy(join(tmp.dir, 'empty.npy'), '<f4', [0, 1, 28, 28], new Float32Array(0));
    await expect(openDataset({ data: file })).rejects.toThrow(EmptyDatasetError);
  });
});

describe('torchvision ResNet-18 (random init; generated by `npm run fixtures -- --large`, too large to commit)', () => {
  const file = fixture('generated', 'resnet18_reference.json');
  it.skipIf(!existsSync(file))('the LMC curve equals the PyTorch reference (skipped where the generated files are absent)', async () => {
    const ref = JSON.parse(readFileSync(file, 'utf8')) as Omit<LmcReference, 'normalize'> & { nearTies: { count: number[] } };
    const [a, b, data] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), openDataset({ data: fixture(ref.data), labels: fixture(ref.labels) })]);
    const result = await linearModeConnectivity(a, b, data, { alphas: ref.alphas, batchSize: 32 });
    result.loss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]!) / ref.loss[i]!).toBeLessThan(1e-4));
    // Random-init logits are nearly tied; the reference counts the samples a float32 runtime may flip.
    result.accuracy.forEach((acc, i) => expect(Math.abs(acc - ref.accuracy[i]!)).toBeLessThanOrEqual(ref.nearTies.count[i]! / data.length));
  });
});

describe('endpoints', () => {
  it.each(['cnn_bn', 'resnet'])('%s: θ(0) and θ(1) give exactly the outputs onnxruntime computes from the A and B files', async (name) => {
    const ort = await import('onnxruntime-node');
    const { ModelSession } = await import('../../lib/session.js');
    const { interpolateArenas } = await import('../../lib/interpolate.js');
    const [a, b] = await Promise.all([loadCheckpoint(fixture('models', `${name}_a.onnx`)), loadCheckpoint(fixture('models', `${name}_b.onnx`))]);
    const x = Float32Array.from({ length: 5 * 784 }, (_, i) => Math.sin(i));
    const [t0, t1] = interpolateArenas(a.arena, b.arena, [0, 1]);
    for (const [theta, file] of [[t0!, `${name}_a.onnx`], [t1!, `${name}_b.onnx`]] as const) {
      const ours = await ModelSession.create(a, { parameters: theta });
      const direct = await ort.InferenceSession.create(fixture('models', file));
      const y1 = (await ours.run(x, [5, 1, 28, 28]))[ours.outputNames[0]!]!.data;
      const y2 = (await direct.run({ [direct.inputNames[0]!]: new ort.Tensor('float32', x, [5, 1, 28, 28]) }))[direct.outputNames[0]!]!.data;
      expect(y1).toEqual(y2);
      await Promise.all([ours.release(), direct.release()]);
    }
  });
});
