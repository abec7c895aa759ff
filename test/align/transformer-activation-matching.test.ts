/**
 * Activation matching over the transformer and mixture-of-experts groups (SCIENCE.md §7): heads
 * matched by their best within-head correlation score (QK dims on the keys, V dims on the heads'
 * outputs), experts by the gate outputs plus their best within-expert score; samples are tokens.
 */
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset, type Dataset } from '../../lib/dataset/index.js';
import { activationMatching } from '../../lib/align/activation-matching.js';
import { align } from '../../lib/align/index.js';
import { inversePermutation, permuteArena, permutedModel, randomPermutations } from '../../lib/align/permute.js';
import { inferSpec } from '../../lib/align/spec/index.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { readFileSync } from 'node:fs';
import { fixture } from '../helpers.js';
import { logits, worstRelative } from './transformer-helpers.js';

const model = (name: string): string => fixture('models', `${name}.onnx`);

/** Fashion-MNIST test images (the classifiers) or held-out byte windows (the LMs). */
function dataFor(name: string, limit: number): Promise<Dataset> {
  if (name.startsWith('lm_')) return openDataset({ data: fixture('data', 'lm_heldout_ids.npy'), limit });
  return openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit });
}

async function plantedPair(name: string): Promise<{ a: Checkpoint; b: Checkpoint; perms: Int32Array[] }> {
  const a = await loadCheckpoint(model(name));
  const spec = await inferSpec(a);
  let seed = 31;
  let perms = randomPermutations(spec, seed);
  while (perms.some((p) => p.length > 1 && p.every((v, i) => v === i))) perms = randomPermutations(spec, ++seed);
  return { a, b: { ...a, file: `${a.file} (permuted)`, arena: permuteArena(a, spec, perms) }, perms };
}

describe('activation matching over heads, within-head dims and experts', () => {
  it.each([
    ['vit_hand_a', 'cross'],
    ['vit_mha_a', 'pearson'],
    ['lm_tied_a', 'cross'],
    ['moe_a', 'pearson'],
    ['moe_topk_a', 'cross'],
  ] as const)('%s: B = A with every group (heads, within-head, experts, residual) permuted at random; matching on tokens recovers A exactly (%s)', async (name, correlation) => {
    const { a, b, perms } = await plantedPair(name);
    const spec = await inferSpec(a);
    const r = await activationMatching(a, b, spec, { data: await dataFor(name, 64), correlation });
    expect(r.skipped).toEqual([]);
    // Plain groups: the inverse of the planted permutation (carried groups are composed with their blocks' moves).
    spec.groups.forEach((g, gi) => {
      if (!g.carries && !spec.groups.some((h) => h.carries?.some((members) => members.includes(gi)))) expect(Array.from(r.permutations[gi]!), `group ${gi}`).toEqual(Array.from(inversePermutation(perms[gi]!)));
    });
    expect(Buffer.from(permuteArena(b, spec, r.permutations).buffer).equals(Buffer.from(a.arena.buffer))).toBe(true);
    r.score.forEach((s, g) => expect(s).toBeGreaterThanOrEqual(r.identityScore[g]! - 1e-9 * Math.abs(s)));
  });

  it.each(['vit_hand', 'vit_mha', 'lm_untied', 'lm_tied', 'moe', 'moe_topk'])(
    '%s: the activation-aligned B computes what B computes (1e-4) and its loss barrier with A is below the naive one',
    async (name) => {
      const a = await loadCheckpoint(model(`${name}_a`));
      const b = await loadCheckpoint(model(`${name}_b`));
      const data = await dataFor(name, name.startsWith('lm_') ? 64 : 500);
      const result = await align(a, b, { method: 'activation', data });
      // Every head group is matched (none left at the identity for want of activations).
      expect(result.activationMatching!.skipped).toEqual([]);
      const written = permutedModel(b, result.aligned.arena);
      expect(worstRelative(await logits(encodeModel(b.model), name), await logits(encodeModel(written.model), name))).toBeLessThan(1e-4);
      const evaluation = name.startsWith('lm_')
        ? await openDataset({ data: fixture('data', 'lm_heldout_ids.npy'), labels: fixture('data', 'lm_heldout_labels.npy'), limit: 64 })
        : await dataFor(name, 500);
      const alphas = [0, 0.5, 1];
      const naive = await linearModeConnectivity(a, b, evaluation, { alphas });
      const aligned = await linearModeConnectivity(a, result.aligned, evaluation, { alphas });
      expect(aligned.barriers!.loss).toBeLessThan(naive.barriers!.loss);
    },
  );

  it.each(['cross', 'pearson'] as const)(
    'vit_hand: the head and within-head QK/V assignments of both layers equal the numpy + scipy reference, their scores within 1e-6 relative (%s)',
    async (form) => {
      interface LayerForm {
        heads: number[];
        qk: number[][];
        v: number[][];
        qkScore: number[];
        vScore: number[];
      }
      const ref = JSON.parse(readFileSync(fixture('reference', 'head_matching.json'), 'utf8')) as { samples: number; layers: Record<'cross' | 'pearson', LayerForm>[] };
      const a = await loadCheckpoint(model('vit_hand_a'));
      const b = await loadCheckpoint(model('vit_hand_b'));
      const spec = await inferSpec(b);
      const r = await activationMatching(a, b, spec, { data: await dataFor('vit_hand', ref.samples), correlation: form });
      const heads = spec.groups.filter((g) => g.carries);
      expect(heads).toHaveLength(ref.layers.length);
      heads.forEach((h, layer) => {
        const want = ref.layers[layer]![form];
        expect(Array.from(r.permutations[h.index]!)).toEqual(want.heads);
        const [qk, v] = h.carries! as number[][];
        want.heads.forEach((j, i) => {
          expect(Array.from(r.permutations[qk![j]!]!)).toEqual(want.qk[i]);
          expect(Array.from(r.permutations[v![j]!]!)).toEqual(want.v[i]);
          expect(Math.abs(r.score[qk![j]!]! - want.qkScore[i]!)).toBeLessThan(1e-6 * Math.abs(want.qkScore[i]!));
          expect(Math.abs(r.score[v![j]!]! - want.vScore[i]!)).toBeLessThan(1e-6 * Math.abs(want.vScore[i]!));
        });
      });
    },
  );
});
