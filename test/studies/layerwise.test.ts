import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset, type Dataset } from '../../lib/dataset/index.js';
import { ResidentBatches } from '../../lib/dataset/resident.js';
import { CancelledError, InvalidArgumentError, UnknownOptionError } from '../../lib/errors.js';
import type { LayerwisePoint, LayerwiseResult } from '../../lib/results.js';
import { cumulativeOrders, layerwiseBarriers, layerwiseGroups } from '../../lib/studies/layerwise.js';
import { fixture } from '../helpers.js';

interface RefPoint {
  loss: number;
  accuracy: number;
  lossBarrier: number;
  errorBarrier: number;
}
interface RefGrouping {
  groups: { name: string; tensors: string[] }[];
  layers: { group: string; a: RefPoint; b: RefPoint }[];
  cumulative: { order: string; groups: number[]; a: RefPoint[]; b: RefPoint[] }[];
}
interface RefPair {
  a: string;
  b: string;
  data: string;
  labels: string;
  /** Image data only. */
  normalize?: { mean: number[]; std: number[] };
  samples: number;
  /** Rows of logits the loss and accuracy average over: the samples, or every next-token position of an LM's sequences. */
  positions: number;
  seed: number;
  draws: number;
  endpoints: { a: { loss: number; accuracy: number }; b: { loss: number; accuracy: number } };
  midpoint: RefPoint;
  layer: RefGrouping;
  module: RefGrouping;
}

const reference = JSON.parse(readFileSync(fixture('reference', 'layerwise.json'), 'utf8')) as Record<string, RefPair | string>;
const pairs = Object.entries(reference).filter((e): e is [string, RefPair] => typeof e[1] === 'object');

async function openPair(ref: RefPair, limit = ref.samples) {
  const [a, b, data] = await Promise.all([
    loadCheckpoint(fixture(ref.a)),
    loadCheckpoint(fixture(ref.b)),
    openDataset({ data: fixture(ref.data), labels: fixture(ref.labels), ...(ref.normalize ? { normalize: ref.normalize } : {}), limit }),
  ]);
  return { a, b, data };
}

/** Loss within 1e-4 relative; the error barrier within one sample or token (a near-tie may fall the other way in another float32 runtime). */
function expectPoint(got: LayerwisePoint, want: RefPoint, samples: number, where: string): void {
  expect(Math.abs(got.loss - want.loss), `${where} loss`).toBeLessThanOrEqual(1e-4 * Math.abs(want.loss));
  expect(Math.abs(got.lossBarrier - want.lossBarrier), `${where} loss barrier`).toBeLessThanOrEqual(1e-4 * Math.abs(want.loss));
  expect(Math.abs(got.errorBarrier - want.errorBarrier), `${where} error barrier`).toBeLessThanOrEqual(1 / samples + 1e-12);
}

function expectGrouping(got: LayerwiseResult, ref: RefGrouping, samples: number): void {
  expect(got.groups.map((g) => g.name)).toEqual(ref.groups.map((g) => g.name));
  got.layers.forEach((l, i) => {
    expectPoint(l.a, ref.layers[i]!.a, samples, `${l.group} base A`);
    expectPoint(l.b, ref.layers[i]!.b, samples, `${l.group} base B`);
  });
  expect(got.cumulative.map((c) => [c.order, c.groups])).toEqual(ref.cumulative.map((c) => [c.order, c.groups]));
  got.cumulative.forEach((c, i) => {
    c.a.forEach((p, j) => expectPoint(p, ref.cumulative[i]!.a[j]!, samples, `${c.order} base A step ${j}`));
    c.b.forEach((p, j) => expectPoint(p, ref.cumulative[i]!.b[j]!, samples, `${c.order} base B step ${j}`));
  });
}

describe('layer-wise barriers against PyTorch (MLP, CNNs with BatchNorm kept and folded, ResNet, a LayerNorm ViT, a byte-level GPT on token data)', () => {
  it.each(pairs)('%s: per-layer and cumulative barriers (fixed and seeded random orders, both bases) equal the reference', async (_name, ref) => {
    const { a, b, data } = await openPair(ref);
    const result = await layerwiseBarriers(a, b, data, { draws: ref.draws, seed: ref.seed, batchSize: 500 });
    expectPoint(result.midpoint, ref.midpoint, ref.positions, 'midpoint');
    expect(result.endpoints.a.loss).toBeCloseTo(ref.endpoints.a.loss, 5);
    expect(result.endpoints.b.loss).toBeCloseTo(ref.endpoints.b.loss, 5);
    expectGrouping(result, ref.layer, ref.positions);
  }, 120_000);

  it.each(pairs.filter(([n]) => ['resnet', 'vit_hand', 'lm_untied'].includes(n)))('%s: grouping by module prefix equals the reference', async (_name, ref) => {
    const { a, b, data } = await openPair(ref);
    expectGrouping(await layerwiseBarriers(a, b, data, { groupBy: 'module', draws: ref.draws, seed: ref.seed, batchSize: 500 }), ref.module, ref.positions);
  });

  it('covers the transformer pairs: a ViT whose root-level pos is a layer of its own, and an LM scored over every next-token position', () => {
    expect(pairs.map(([n]) => n)).toEqual(expect.arrayContaining(['vit_hand', 'lm_untied']));
    expect(reference.vit_hand && (reference.vit_hand as RefPair).layer.groups.map((g) => g.name).slice(0, 3)).toEqual(['patch', 'pos', 'blocks.0.ln1']);
    const lm = reference.lm_untied as RefPair;
    expect(lm.positions).toBe(lm.samples * 32);
  });
});

describe('layer-wise barriers', () => {
  const mlp = pairs.find(([n]) => n === 'mlp')![1];

  it('with S = all layers equal the LMC midpoint barrier (and every cumulative curve ends there, for both bases)', async () => {
    const { a, b, data } = await openPair(mlp, 300);
    const result = await layerwiseBarriers(a, b, data, { draws: 1 });
    const lmc = await linearModeConnectivity(a, b, data, { alphas: [0, 0.5, 1] });
    expect(result.midpoint.loss).toBeCloseTo(lmc.loss[1]!, 6);
    expect(result.midpoint.lossBarrier).toBeCloseTo(lmc.loss[1]! - 0.5 * (lmc.loss[0]! + lmc.loss[2]!), 6);
    for (const c of result.cumulative) {
      expect(c.a.at(-1)).toEqual(result.midpoint);
      expect(c.b.at(-1)).toEqual(result.midpoint);
    }
  });

  it('measures each distinct model once: 2L + 1 passes for the per-layer barriers and endpoints of an L = 3 MLP with one fixed order', async () => {
    const { a, b, data } = await openPair(mlp, 64);
    // L = 3: A, B, 3 × 2 single layers, θ(½); the two-layer prefixes of shallow→deep and deep→shallow add 2 × 2.
    const result = await layerwiseBarriers(a, b, data, { draws: 0 });
    expect(result.passes).toBe(2 + 2 * 3 + 1 + 4);
  });

  it('reads the data files once for all its passes when the batches fit in memory (the other passes replay them); over the budget every pass reads them again, giving the same batches', async () => {
    const { a, b, data } = await openPair(mlp, 64);
    let reads = 0;
    const counted = Object.create(data) as Dataset;
    counted.batches = (...args: Parameters<Dataset['batches']>) => (reads++, data.batches(...args));
    const result = await layerwiseBarriers(a, b, counted, { draws: 0, batchSize: 16 });
    expect([reads, result.passes]).toEqual([1, 13]);
    const resident = new ResidentBatches(data, 16);
    const streamed = new ResidentBatches(data, 16, 1000);
    const collect = async (r: ResidentBatches) => {
      const out = [];
      for await (const batch of r.pass()) out.push(batch);
      return out;
    };
    const [first, again] = [await collect(resident), await collect(resident)];
    expect(resident.resident).toBe(true);
    expect(again).toEqual(first);
    expect(again.every((batch, i) => batch === first[i])).toBe(true);
    // Over the budget (1000 bytes < 64 samples of 784 floats): every pass reads the files again.
    const [s1, s2] = [await collect(streamed), await collect(streamed)];
    expect(streamed.resident).toBe(false);
    expect(s2).toEqual(s1);
    expect(s2[0]).not.toBe(s1[0]);
    expect(s1).toEqual(first);
  });

  it('keeps a BatchNorm kept in the graph as a layer of its own, and folds it into the conv when the export folded it', async () => {
    const bn = await loadCheckpoint(fixture('models', 'cnn_bn_a.onnx'));
    expect(layerwiseGroups(bn, 'layer').map((g) => [g.name, g.parameters.length])).toEqual([['conv1', 2], ['bn1', 4], ['conv2', 2], ['bn2', 4], ['fc', 2]]);
    const folded = await loadCheckpoint(fixture('models', 'cnn_folded_a.onnx'));
    expect(layerwiseGroups(folded, 'layer').map((g) => [g.name, g.parameters.length])).toEqual([['conv1', 2], ['conv2', 2], ['fc', 2]]);
  });

  it('groups by explicit module prefixes in graph order, leaving the other tensors to the base', async () => {
    const resnet = await loadCheckpoint(fixture('models', 'resnet_a.onnx'));
    const groups = layerwiseGroups(resnet, 'layer', ['layer3', 'layer1']);
    expect(groups.map((g) => g.name)).toEqual(['layer1', 'layer3']);
    expect(groups[0]!.parameters.every((p) => p.node.startsWith('/layer1/'))).toBe(true);
  });

  it('refuses an unknown module prefix, naming the layers there are', async () => {
    const resnet = await loadCheckpoint(fixture('models', 'resnet_a.onnx'));
    expect(() => layerwiseGroups(resnet, 'layer', ['layer9'])).toThrow(/no layer is under the module prefix 'layer9'; its layers are conv1, layer1\.0\.conv1/);
    expect(() => layerwiseGroups(resnet, 'layer', ['layer1', 'layer1.0'])).toThrow(InvalidArgumentError);
  });

  it('refuses bad options with typed errors', async () => {
    const { a, b, data } = await openPair(mlp, 16);
    await expect(layerwiseBarriers(a, b, data, { draws: -1 })).rejects.toThrow(/draws must be an integer ≥ 0/);
    await expect(layerwiseBarriers(a, b, data, { groupBy: 'block' as 'layer' })).rejects.toThrow(InvalidArgumentError);
    await expect(layerwiseBarriers(a, b, data, { order: 'random' } as object)).rejects.toThrow(UnknownOptionError);
    const unlabelled = await openDataset({ data: fixture(mlp.data), normalize: mlp.normalize, limit: 16 });
    await expect(layerwiseBarriers(a, b, unlabelled)).rejects.toThrow(/needs labels/);
  });

  it('draws the same random orders for the same seed and reports progress up to its total; an abort cancels it', async () => {
    expect(cumulativeOrders(6, 2, 3)).toEqual(cumulativeOrders(6, 2, 3));
    expect(cumulativeOrders(6, 2, 3)[2]!.groups).not.toEqual(cumulativeOrders(6, 2, 4)[2]!.groups);
    const { a, b, data } = await openPair(mlp, 64);
    const events: { done: number; total: number }[] = [];
    await layerwiseBarriers(a, b, data, { draws: 0, batchSize: 32, onProgress: (e) => events.push(e) });
    expect(events.at(-1)).toEqual({ phase: 'layerwise', done: 26, total: 26 });
    const controller = new AbortController();
    const run = layerwiseBarriers(a, b, data, { batchSize: 8, signal: controller.signal, onProgress: (e) => e.done === 3 && controller.abort() });
    await expect(run).rejects.toThrow(CancelledError);
  });
});

describe('layer groups of a transformer from both exporters', () => {
  it('the legacy and the dynamo export of the ViT give the same groups: the root-level `pos` is its own, the dynamo exporter’s lifted constants (equal in A and B) join none', async () => {
    const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 16 });
    const groups = async (dir: string) => {
      const [a, b] = await Promise.all([loadCheckpoint(fixture('models', dir, 'vit_hand_a.onnx')), loadCheckpoint(fixture('models', dir, 'vit_hand_b.onnx'))]);
      const result = await layerwiseBarriers(a, b, data, { draws: 0 });
      return { named: result.groups.map((g) => [g.name, g.size]), ungrouped: result.ungrouped };
    };
    const [legacy, dynamo] = [await groups(''), await groups('dynamo')];
    expect(legacy.named.map(([name]) => name)).toContain('pos');
    expect(dynamo.named).toEqual(legacy.named);
    expect(legacy.ungrouped).toEqual([]);
    expect(dynamo.ungrouped.length).toBeGreaterThan(0);
    expect(dynamo.ungrouped.every((t) => /^val_\d+$/.test(t))).toBe(true);
  });
});
