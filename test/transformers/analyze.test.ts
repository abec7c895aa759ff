/**
 * Per-layer checks (`analyze`) on the transformer classifier fixtures against PyTorch forward hooks
 * (reference/transformer_mechanisms.json, scripts/fixtures/make_transformer_fixtures.py).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { openDataset } from '../../lib/dataset/index.js';
import { fixture } from '../helpers.js';
import { expectCommutativity, expectLayer, type MechanismsReference } from '../checks/mechanisms-reference.js';

type Reference = MechanismsReference & { a: string; b: string };

const references = JSON.parse(readFileSync(fixture('reference', 'transformer_mechanisms.json'), 'utf8')) as Record<string, Reference>;

// The reference layers compared: the MoE's every layer; the ViTs' residual sums, GELU outputs (with
// weak additivity) and logits, samples being tokens (SCIENCE.md §7). Not their attention outputs:
// llfc takes the out-projection's output (for nn.MultiheadAttention the Gemm on flattened tokens),
// the reference the last node of the attention module's scope.
const compared: [string, string[] | 'all'][] = [
  ['moe', 'all'],
  ['vit_hand', ['blocks.0.add1', 'blocks.0.mlp.act', 'blocks.0.add2', 'blocks.1.add1', 'blocks.1.mlp.act', 'blocks.1.add2', 'head']],
  ['vit_mha', ['blocks.0.add1', 'blocks.0.mlp.act', 'blocks.0.add2', 'blocks.1.add1', 'blocks.1.mlp.act', 'blocks.1.add2', 'head']],
];

describe('transformer classifiers: per-layer checks against PyTorch forward hooks', () => {
  it.each(compared)('%s: LLFC and weak additivity at the compared layers, and every linear layer’s commutativity, equal the reference within 1e-4', async (name, layers) => {
    const ref = references[name]!;
    const [a, b, data] = await Promise.all([
      loadCheckpoint(fixture(ref.a)),
      loadCheckpoint(fixture(ref.b)),
      openDataset({ data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: ref.samples }),
    ]);
    const result = await analyzePair(a, b, data, { alphas: ref.alphas, batchSize: 125 });
    const expectedLayers = Object.entries(ref.layers).filter(([module]) => layers === 'all' || layers.includes(module));
    if (layers === 'all') expect(result.layers.map((l) => l.name)).toEqual(expectedLayers.map(([, l]) => l.onnxTensor));
    for (const [, expected] of expectedLayers) {
      const ours = result.layers.find((l) => l.name === expected.onnxTensor);
      expect(ours, expected.onnxTensor).toBeDefined();
      expectLayer(ours!, expected);
    }
    expectCommutativity(result.commutativity, ref.commutativity);
  });
});
