/**
 * The transformer fixtures of scripts/fixtures/make_transformer_fixtures.py (ViTs with hand-written
 * and nn.MultiheadAttention attention, a mixture of experts, byte-level language models) against
 * their PyTorch references.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, pairCheckpoints } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset, type OpenDatasetOptions } from '../../lib/dataset/index.js';
import { interpolateArenas } from '../../lib/interpolate.js';
import { fixture, readNpy, runCliInProcess, tempDir } from '../helpers.js';
import { expectLmcReference, type LmcCurveReference } from '../checks/lmc-reference.js';
import { expectSpecAndRandomPermutation, TRANSFORMERS } from '../dynamo/transformer-inputs.js';

type Curve = LmcCurveReference & {
  a: string;
  b: string;
  data: string;
  labels: string;
  normalize?: { mean: number[]; std: number[] };
  logits?: { a: string; b: string; sequences: number };
};

const references = JSON.parse(readFileSync(fixture('reference', 'transformer_lmc.json'), 'utf8')) as Record<string, Curve>;
const classifiers = ['vit_hand', 'vit_mha', 'moe'].map((name) => [name, references[name]!] as const);
const languageModels = ['lm_untied', 'lm_tied'].map((name) => [name, references[name]!] as const);

describe('transformer classifiers: LMC against PyTorch', () => {
  it.each(classifiers)('%s: the curve equals the PyTorch reference (loss 1e-4 relative, accuracy exact)', async (_name, ref) => {
    const [a, b, data] = await Promise.all([
      loadCheckpoint(fixture(ref.a)),
      loadCheckpoint(fixture(ref.b)),
      openDataset({ data: fixture(ref.data), labels: fixture(ref.labels), normalize: ref.normalize }),
    ]);
    const result = await linearModeConnectivity(a, b, data, { alphas: ref.alphas, batchSize: 500 });
    expectLmcReference(result, ref);
  });

  it('llfc lmc prints the same curve for the nn.MultiheadAttention ViT', async () => {
    const ref = references.vit_mha!;
    const r = await runCliInProcess('lmc', fixture(ref.a), fixture(ref.b), '--data', fixture(ref.data), '--labels', fixture(ref.labels),
      '--mean', '0.2860', '--std', '0.3530', '--json', '--quiet');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { lmc: { loss: number[]; accuracy: number[] } };
    report.lmc.loss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]!) / ref.loss[i]!).toBeLessThan(1e-4));
    expect(report.lmc.accuracy).toEqual(ref.accuracy);
  });
});

describe('transformer fixtures, legacy and dynamo-style exports: spec and random permutations', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  // What `spec` finds (test/align/transformer-spec.test.ts checks the groups one by one; the
  // explanations of what stays fixed are pinned in test/align/spec/__snapshots__): the residual
  // stream (embeddings, LayerNorms, every writer and reader, the LM head), each MLP hidden layer,
  // per attention layer a head group carrying the within-head QK and V groups (q/k/v projections
  // or the sliced fused in_proj); the MoE, the stem, each expert's hidden layer and the experts'
  // shared output. The logits stay in place everywhere.
  const cases = TRANSFORMERS.flatMap((name) => [[name, 'legacy', fixture('models', `${name}_a.onnx`)], [name, 'dynamo', fixture('models', 'dynamo', `${name}_a.onnx`)]] as const);
  it.each(cases)('%s (%s export): spec finds groups, explains what it leaves fixed, and permute --random keeps the logits (1e-4)', async (name, exporter, file) => {
    await expectSpecAndRandomPermutation(file, name, join(tmp.dir, `${name}_${exporter}_permuted.onnx`));
  });
});

describe('byte-level language models', () => {
  const sources: [string, (ref: Curve) => OpenDatasetOptions][] = [
    ['N×T int64 ids and next-token labels (.npy)', (ref) => ({ data: fixture(ref.data), labels: fixture(ref.labels) })],
    ['the same windows from the flat uint16 token file', () => ({ tokens: fixture('data', 'lm_heldout.bin'), dtype: 'uint16', context: 32 })],
  ];
  it.each(languageModels.flatMap(([name, ref]) => sources.map(([what, options]) => [name, what, ref, options] as const)))(
    '%s on %s: the LMC curve (mean token cross-entropy, token accuracy) equals the PyTorch reference',
    async (_name, _what, ref, options) => {
      const [a, b, data] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), openDataset(options(ref))]);
      expectLmcReference(await linearModeConnectivity(a, b, data, { alphas: ref.alphas, batchSize: 32 }), ref);
    },
  );

  it.each(languageModels)('%s: both checkpoints load and pair, and onnxruntime gives PyTorch’s logits at α=0 and 1 (1e-4)', async (_name, ref) => {
    const [a, b] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b))]);
    pairCheckpoints(a, b);
    const [theta0, theta1] = interpolateArenas(a.arena, b.arena, [0, 1]);
    expect(theta0).toEqual(a.arena);
    expect(theta1).toEqual(b.arena);
    const ids = readNpy(fixture(ref.data));
    const [, t] = ids.shape;
    const n = ref.logits!.sequences;
    const input = new ort.Tensor('int64', (ids.data as BigInt64Array).subarray(0, n * t!), [n, t!]);
    for (const [file, stored] of [[ref.a, ref.logits!.a], [ref.b, ref.logits!.b]] as const) {
      const session = await ort.InferenceSession.create(fixture(file));
      const out = (await session.run({ input_ids: input })).logits!;
      await session.release();
      const expected = readNpy(fixture(stored));
      expect(out.dims).toEqual(expected.shape);
      const y = out.data as Float32Array;
      const e = expected.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(y[i]! - e[i]!) / Math.max(1, Math.abs(e[i]!)));
      expect(worst).toBeLessThan(1e-4);
    }
  });
});
