import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset } from '../../lib/dataset/index.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../lib/errors.js';
import { readModel, writeModel } from '../../lib/onnx/model.js';
import { modulePath } from '../../lib/onnx/names.js';
import { floatValueInfo } from '../../lib/onnx/graph.js';
import { newNode } from '../../lib/onnx/proto.js';
import { fixture, tempDir } from '../helpers.js';
import { expectCommutativity, expectLayer, type MechanismsReference } from './mechanisms-reference.js';

const references = JSON.parse(readFileSync(fixture('reference', 'mechanisms.json'), 'utf8')) as Record<string, MechanismsReference>;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const fashion = (limit: number, labels = true) =>
  openDataset({ data: fixture('data', 'fashion_test_x.npy'), ...(labels ? { labels: fixture('data', 'fashion_test_y.npy') } : {}), normalize: { mean: [0.286], std: [0.353] }, limit });
const pair = async (name: string) => [await loadCheckpoint(fixture('models', `${name}_a.onnx`)), await loadCheckpoint(fixture('models', `${name}_b.onnx`))] as const;

describe('per-layer checks against PyTorch forward hooks', () => {
  it.each(['mlp', 'cnn_bn', 'resnet'])('%s: LLFC, weak additivity and commutativity equal the reference within 1e-4', async (name) => {
    const ref = references[name]!;
    const [a, b] = await pair(name);
    const result = await analyzePair(a, b, await fashion(ref.samples), { alphas: ref.alphas, batchSize: 128, lmcAlphas: [0, 0.5, 1] });
    expect(result.layers.map((l) => l.name)).toEqual(Object.values(ref.layers).map((l) => l.onnxTensor));
    for (const [module, expected] of Object.entries(ref.layers)) {
      const ours = result.layers.find((l) => l.name === expected.onnxTensor)!;
      expect(ours.module).toBe(module === 'fc3' || module === 'fc' ? ours.module : module);
      expectLayer(ours, expected);
    }
    expectCommutativity(result.commutativity, ref.commutativity);
  });

  it('computes the LMC curve of the same pass equal to the LMC check and to the PyTorch reference', async () => {
    const ref = JSON.parse(readFileSync(fixture('reference', 'lmc.json'), 'utf8')).cnn_bn;
    const [a, b] = await pair('cnn_bn');
    const data = await fashion(2000);
    const result = await analyzePair(a, b, data, { alphas: [0.5], batchSize: 500, commutativity: false, weakAdditivity: false });
    const check = await linearModeConnectivity(a, b, data, { batchSize: 500 });
    expect(result.lmc!.alphas).toEqual(check.alphas);
    expect(result.lmc!.accuracy).toEqual(check.accuracy);
    result.lmc!.loss.forEach((l, i) => expect(Math.abs(l - check.loss[i]!) / check.loss[i]!).toBeLessThan(1e-6));
    expect(result.lmc!.barriers!.loss).toBeCloseTo(check.barriers!.loss, 6);
    expect(result.lmc!.accuracy).toEqual(ref.accuracy);
    result.lmc!.loss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]) / ref.loss[i]).toBeLessThan(1e-4));
  });
});

describe('properties of the definitions', () => {
  it('A = B gives distance 0 and coefficient 1 everywhere, and no weak-additivity or commutativity gap', async () => {
    const [a] = await pair('resnet');
    const result = await analyzePair(a, a, await fashion(64), { batchSize: 32 });
    for (const layer of result.layers) {
      for (const p of layer.llfc) {
        expect(p.distance).toBeLessThan(1e-6);
        expect(p.coefficient).toBeCloseTo(1, 5);
      }
      expect(layer.baseline).toBeLessThan(1e-6);
      for (const p of layer.weakAdditivity ?? []) expect(p.distance).toBeLessThan(1e-6);
    }
    for (const c of result.commutativity) expect(c.distCom).toBe(0);
  });

  it('α ∈ {0, 1} gives LLFC distance 0', async () => {
    const [a, b] = await pair('cnn_bn');
    const result = await analyzePair(a, b, await fashion(64), { alphas: [0, 1], batchSize: 64, commutativity: false });
    for (const layer of result.layers) for (const p of layer.llfc) expect(p.distance).toBeLessThan(1e-6);
  });

  it('a network without activations (one linear layer) has LLFC distance 0 at every α', async () => {
    const [a, b] = await pair('mlp');
    const result = await analyzePair(a, b, await fashion(64), { layers: ['/fc1/Gemm'], alphas: [0.1, 0.5, 0.9], batchSize: 64, commutativity: false });
    expect(result.layers).toHaveLength(1);
    for (const p of result.layers[0]!.llfc) {
      expect(p.distance).toBeLessThan(1e-6);
      expect(p.coefficient).toBeCloseTo(1, 5);
    }
  });

  it('weak additivity is 0 where the pre-activations of A and B agree in sign everywhere', async () => {
    // B = A with every pre-activation scaled by 2 (W1, b1 ×2; b2 ×2): same signs, so ReLU is additive.
    const [a] = await pair('mlp');
    const scale: Record<string, number> = { 'fc1.weight': 2, 'fc1.bias': 2, 'fc2.bias': 2, 'fc3.bias': 2 };
    const arena = Float32Array.from(a.arena);
    for (const p of a.parameters) arena.subarray(p.offset, p.offset + p.length).forEach((v, i, view) => (view[i] = v * (scale[p.tensor] ?? 1)));
    const b: Checkpoint = { ...a, arena };
    const result = await analyzePair(a, b, await fashion(128), { batchSize: 64, commutativity: false });
    const relus = result.layers.filter((l) => l.kind === 'activation');
    expect(relus).toHaveLength(2);
    for (const layer of relus) for (const p of layer.weakAdditivity!) expect(p.distance).toBeLessThan(1e-6);
  });

  it('reads PyTorch module paths from node names', () => {
    expect(modulePath('/layer1/0/conv1/Conv')).toBe('layer1.0.conv1');
    expect(modulePath('/layer2/layer2.0/downsample/downsample.0/Conv')).toBe('layer2.0.downsample.0');
    expect(modulePath('/fc1/Gemm')).toBe('fc1');
    expect(modulePath('Gemm_3')).toBeNull();
    expect(modulePath('/Relu')).toBeNull();
  });
});

describe('analyze bad input', () => {
  it('names an unknown layer and suggests real ones', async () => {
    const [a] = await pair('mlp');
    expect(() => selectLayers(a, ['layer9.conv'])).toThrow(InvalidArgumentError);
    expect(() => selectLayers(a, ['layer9.conv'])).toThrow(/no layer matches 'layer9\.conv'.*fc1/);
  });

  it('selects layers by op type, module path and tensor name', async () => {
    const [a] = await pair('resnet');
    expect(selectLayers(a, ['Add']).map((l) => l.module)).toEqual(['layer1.0.add', 'layer2.0.add', 'layer3.0.add']);
    expect(selectLayers(a, ['layer2.0.relu1', '/layer3/layer3.0/relu2/Relu_output_0']).map((l) => l.module)).toEqual(['layer2.0.relu1', 'layer3.0.relu2']);
  });

  it('refuses a layer with no float output, naming it', async () => {
    const model = (await readModel(fixture('models', 'mlp_a.onnx'))).proto;
    model.graph!.node!.push(newNode({ opType: 'Shape', input: ['/relu1/Relu_output_0'], output: ['relu1_shape'], name: '/relu1/Shape' }));
    const file = join(tmp.dir, 'with-shape.onnx');
    await writeModel(model, file);
    const a = await loadCheckpoint(file);
    await expect(analyzePair(a, a, await fashion(8), { layers: ['/relu1/Shape'] })).rejects.toThrow(/relu1_shape' is int64, not a float tensor/);
  });

  it('refuses α outside [0, 1]', async () => {
    const [a, b] = await pair('mlp');
    await expect(analyzePair(a, b, await fashion(8), { alphas: [0.5, 2] })).rejects.toThrow(InvalidArgumentError);
  });

  it('runs LLFC and the mechanism checks without labels and reports no LMC', async () => {
    const [a, b] = await pair('mlp');
    const result = await analyzePair(a, b, await fashion(32, false), { batchSize: 16 });
    expect(result.lmc).toBeNull();
    expect(result.layers.length).toBe(3);
  });

  it('with labels, refuses a model whose output is not logits; without labels, analyzes it', async () => {
    const model = (await readModel(fixture('models', 'cnn_bn_a.onnx'))).proto;
    model.graph!.output = [floatValueInfo('/relu2/Relu_output_0')];
    const file = join(tmp.dir, 'features.onnx');
    await writeModel(model, file);
    const a = await loadCheckpoint(file);
    await expect(analyzePair(a, a, await fashion(8))).rejects.toThrow(ShapeMismatchError);
    const result = await analyzePair(a, a, await fashion(8, false), { commutativity: false });
    expect(result.layers.at(-1)!.kind).toBe('logits');
  });
});
