/**
 * Per-layer checks (`analyze`) on the transformer classifier fixtures against PyTorch forward hooks
 * (reference/transformer_mechanisms.json, scripts/fixtures/make_transformer_fixtures.py).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { openDataset } from '../../lib/dataset/index.js';
import { fixture } from '../helpers.js';
import { expectCommutativity, expectLayer, type MechanismsReference } from '../checks/mechanisms-reference.js';

type Reference = MechanismsReference & { a: string; b: string };

const references = JSON.parse(readFileSync(fixture('reference', 'transformer_mechanisms.json'), 'utf8')) as Record<string, Reference>;

// The reference layers compared: every layer of each classifier, samples being tokens (SCIENCE.md
// §7): attention outputs, residual sums, GELU outputs (with weak additivity) and logits.
const compared: [string, string[] | 'all'][] = [
  ['moe', 'all'],
  ['vit_hand', 'all'],
  ['vit_mha', 'all'],
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

  // nn.MultiheadAttention projects the tokens flattened (T·N)×D (the Gemm) and then reshapes them
  // back to the N×T×D the module returns: llfc taps that end of the chain, the tensor a forward
  // hook on the module sees, not the Gemm's output.
  it('vit_mha: the attention layer is the module output the reference hooks (the Transpose after the out-projection Gemm)', async () => {
    const ref = references.vit_mha!;
    const a = await loadCheckpoint(fixture(ref.a));
    const attention = selectLayers(a).filter((l) => l.kind === 'attention');
    expect(attention.map((l) => [l.module, l.op, l.name])).toEqual([
      ['blocks.0.attn.mha', 'Transpose', ref.layers['blocks.0.attn']!.onnxTensor],
      ['blocks.1.attn.mha', 'Transpose', ref.layers['blocks.1.attn']!.onnxTensor],
    ]);
    expect(attention.map((l) => l.name)).toEqual(['/blocks/blocks.0/attn/mha/Transpose_5_output_0', '/blocks/blocks.1/attn/mha/Transpose_5_output_0']);
  });
});
