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

// The reference layers compared: the MoE's every layer (ReLU outputs and logits, one sample per
// image). The ViTs' logits only: their token features (residual sums, attention outputs, GELU
// outputs) are N×16×32, whose samples are tokens in the reference (SCIENCE.md §7), and their
// GELUs are exported decompositions that the default layers do not pick yet.
const compared: [string, string[] | 'all'][] = [['moe', 'all'], ['vit_hand', ['head']], ['vit_mha', ['head']]];

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
