/**
 * The trained transformer whose norms are RMSNorms written out (x / sqrt(mean(x²) + eps) · w:
 * Pow/ReduceMean/Add/Sqrt/Div/Mul) and whose GELUs are the tanh form
 * (scripts/fixtures/make_rms_fixtures.py), against its float64 PyTorch reference.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset } from '../../lib/dataset/index.js';
import { expectLmcReference, type LmcCurveReference } from '../checks/lmc-reference.js';
import { expectCommutativity, expectLayer, type MechanismsReference } from '../checks/mechanisms-reference.js';
import { fixture } from '../helpers.js';

const reference = JSON.parse(readFileSync(fixture('reference', 'transformer_rms.json'), 'utf8')) as {
  lmc: LmcCurveReference & { a: string; b: string; data: string; labels: string; normalize: { mean: number[]; std: number[] } };
  mechanisms: MechanismsReference & { a: string; b: string };
};
const data = (limit?: number) => ({ data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit });

describe('vit_rms: RMSNorm as a decomposition and the tanh GELU in a trained transformer', () => {
  it('the graph holds the RMSNorm decomposition (no LayerNormalization) and tanh GELUs, each GELU one activation layer', async () => {
    const a = await loadCheckpoint(fixture(reference.lmc.a));
    const ops = new Set(a.model.graph!.node.map((n) => n.opType));
    for (const op of ['Pow', 'ReduceMean', 'Sqrt', 'Div', 'Tanh']) expect(ops.has(op), op).toBe(true);
    expect(ops.has('LayerNormalization')).toBe(false);
    const gelus = selectLayers(a).filter((l) => l.kind === 'activation');
    expect(gelus.map((l) => [l.module, l.op, l.activationPattern?.kernel])).toEqual([
      ['blocks.0.mlp.act', 'Gelu', 'GeluTanh'],
      ['blocks.1.mlp.act', 'Gelu', 'GeluTanh'],
    ]);
  });

  it('the LMC curve equals the PyTorch reference (loss 1e-4 relative, accuracy exact)', async () => {
    const ref = reference.lmc;
    const [a, b, d] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), openDataset({ ...data(), labels: fixture(ref.labels) })]);
    expectLmcReference(await linearModeConnectivity(a, b, d, { alphas: ref.alphas, batchSize: 500 }), ref);
  });

  it('LLFC, weak additivity of the tanh GELU and commutativity at every layer equal the reference within 1e-4, tokens as samples', async () => {
    const ref = reference.mechanisms;
    const [a, b, d] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), openDataset(data(ref.samples))]);
    const result = await analyzePair(a, b, d, { alphas: ref.alphas, batchSize: 125 });
    expect(result.layers.map((l) => l.name)).toEqual(Object.values(ref.layers).map((l) => l.onnxTensor));
    result.layers.forEach((layer, i) => expectLayer(layer, Object.values(ref.layers)[i]!));
    expect(result.layers.filter((l) => l.weakAdditivity).map((l) => l.module)).toEqual(['blocks.0.mlp.act', 'blocks.1.mlp.act']);
    expectCommutativity(result.commutativity, ref.commutativity);
  });
});
