/**
 * Per-layer checks on the byte-level LMs against PyTorch forward hooks
 * (reference/transformer_lm_mechanisms.json, scripts/fixtures/lm_mechanisms_reference.py):
 * samples are the 1024 tokens of 32 held-out sequences.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { openDataset } from '../../lib/dataset/index.js';
import { expectCommutativity, expectLayer, type MechanismsReference } from '../checks/mechanisms-reference.js';
import { fixture } from '../helpers.js';

type Reference = MechanismsReference & { a: string; b: string; data: string; tokens: number };
const references = JSON.parse(readFileSync(fixture('reference', 'transformer_lm_mechanisms.json'), 'utf8')) as Record<string, Reference>;

describe('byte-level LMs: per-layer checks against PyTorch forward hooks, tokens as samples', () => {
  it.each(['lm_untied', 'lm_tied'])('%s: LLFC, weak additivity and commutativity at every reference layer (attention outputs, residual sums, GELUs, logits; every linear layer, the tied head included) within 1e-4', async (name) => {
    const ref = references[name]!;
    const [a, b, data] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), openDataset({ data: fixture(ref.data), limit: ref.samples })]);
    const result = await analyzePair(a, b, data, { alphas: ref.alphas, batchSize: 16 });
    const expected = Object.values(ref.layers);
    // llfc also reports the token + position embedding sum (a root Add), which no module computes.
    expect(result.layers.filter((l) => expected.some((e) => e.onnxTensor === l.name)).map((l) => l.name)).toEqual(expected.map((e) => e.onnxTensor));
    for (const e of expected) {
      const ours = result.layers.find((l) => l.name === e.onnxTensor)!;
      expectLayer(ours, e);
      expect(ours.tokens).toBe(ref.tokens);
    }
    expectCommutativity(result.commutativity, ref.commutativity);
  });
});
