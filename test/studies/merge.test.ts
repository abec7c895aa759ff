import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { modelLoss } from '../../lib/checks/loss.js';
import { openDataset, type Dataset } from '../../lib/dataset/index.js';
import { CancelledError, CheckpointMismatchError, InvalidArgumentError } from '../../lib/errors.js';
import type { PermutationSpec } from '../../lib/align/spec/index.js';
import { mergeModels, type MergeResult } from '../../lib/studies/merge.js';
import { fixture } from '../helpers.js';
import { agrees, groupMap, load, reference, type MergeEntry } from './merge-reference.js';

/**
 * Where the permutations are the reference's, the merged model's accuracy is within one sample
 * of the reference's and its loss within 1e-4; otherwise the reference's objective is the bar
 * our (different local) optimum must reach.
 */
async function expectLikeReference(result: MergeResult, entry: MergeEntry, spec: PermutationSpec, models: Checkpoint[], data: Dataset): Promise<void> {
  const map = groupMap(spec);
  expect(map.every((g) => g >= 0)).toBe(true);
  expect(result.initialObjective).toBeCloseTo(entry.initialObjective, 6);
  expect(result.weights).toEqual(entry.weights);
  if (agrees(result, entry, map)) {
    expect(Math.abs(result.objective - entry.objective)).toBeLessThanOrEqual(1e-9 * Math.abs(entry.objective));
    const merged = await modelLoss(models[0]!, result.merged, data, { batchSize: 500 });
    expect(Math.abs(merged.accuracy - entry.accuracy)).toBeLessThanOrEqual(1 / reference.samples + 1e-12);
    expect(Math.abs(merged.loss - entry.loss)).toBeLessThanOrEqual(1e-4 * entry.loss);
  } else {
    expect(result.objective).toBeGreaterThanOrEqual(entry.objective * (1 - 1e-9));
  }
}

describe('merging many models', () => {
  it('MergeMany of four MLP seeds reaches the numpy + scipy reference (same permutations: accuracy within one sample; else an objective at least the reference objective)', async () => {
    const { models, data, spec } = await load();
    const result = await mergeModels(models, { method: 'mergemany', spec });
    expect(result.converged).toBe(true);
    expect(result.rounds!.at(-1)!.changed).toBe(0);
    await expectLikeReference(result, reference.mergemany, spec, models, data);
  });

  it('the binary tree of four MLP seeds reaches the numpy + scipy reference (same rule as MergeMany)', async () => {
    const { models, data, spec } = await load();
    const result = await mergeModels(models, { method: 'tree', spec });
    expect(result.levels).toEqual([
      [
        [[0], [1]],
        [[2], [3]],
      ],
      [[[0, 1], [2, 3]]],
    ]);
    await expectLikeReference(result, reference.tree, spec, models, data);
  });

  it('the plain mean is the float64 mean of the four arenas, and its loss is the reference loss (1e-4 relative)', async () => {
    const { models, data } = await load();
    const result = await mergeModels(models, { method: 'mean' });
    expect(result.objective).toBeCloseTo(reference.mean.objective, 6);
    const k = 1234;
    expect(result.merged[k]).toBe(Math.fround(models.reduce((s, m) => s + m.arena[k]! / 4, 0)));
    const merged = await modelLoss(models[0]!, result.merged, data, { batchSize: 500 });
    expect(Math.abs(merged.loss - reference.mean.loss)).toBeLessThanOrEqual(1e-4 * reference.mean.loss);
    expect(Math.abs(merged.accuracy - reference.mean.accuracy)).toBeLessThanOrEqual(1 / reference.samples + 1e-12);
  });

  it('each model evaluates to its reference loss (1e-4 relative) and accuracy (within one sample)', async () => {
    const { models, data } = await load();
    for (const [i, m] of models.entries()) {
      const r = await modelLoss(m, m.arena, data, { batchSize: 500 });
      expect(Math.abs(r.loss - reference.evaluations[i]!.loss)).toBeLessThanOrEqual(1e-4 * reference.evaluations[i]!.loss);
      expect(Math.abs(r.accuracy - reference.evaluations[i]!.accuracy)).toBeLessThanOrEqual(1 / reference.samples + 1e-12);
    }
  });

  it('MergeMany by activation matching merges far better than the plain mean', async () => {
    const { models, data, spec } = await load();
    const small = await openDataset({ data: fixture(reference.data), labels: fixture(reference.labels), normalize: reference.normalize, limit: 500 });
    const result = await mergeModels(models, { method: 'mergemany', match: 'activation', data: small, spec, maxRounds: 3 });
    expect(result.rounds!.length).toBeGreaterThan(0);
    const merged = await modelLoss(models[0]!, result.merged, data, { batchSize: 500 });
    expect(merged.accuracy).toBeGreaterThan(reference.mean.accuracy + 0.5);
  });

  it('a padded tree of three models carries the odd one up and gives it weight ½', async () => {
    const { models, spec } = await load();
    const result = await mergeModels(models.slice(0, 3), { method: 'tree', pad: true, spec });
    expect(result.weights).toEqual([0.25, 0.25, 0.5]);
    expect(result.levels).toEqual([[[[0], [1]]], [[[0, 1], [2]]]]);
    expect(result.objective).toBeGreaterThan(result.initialObjective);
  });

  it('refuses fewer than two models, a non-power-of-two tree without pad, and a model of another architecture (naming it and the tensor)', async () => {
    const { models } = await load();
    await expect(mergeModels(models.slice(0, 1), { method: 'mean' })).rejects.toThrow(/at least 2 models, got 1/);
    await expect(mergeModels(models.slice(0, 3), { method: 'tree' })).rejects.toThrow(InvalidArgumentError);
    await expect(mergeModels(models.slice(0, 3), { method: 'tree' })).rejects.toThrow(/power of two.*got 3.*--pad/);
    const other = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    const error = await mergeModels([...models.slice(0, 2), other], { method: 'mergemany' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(/mlp_a\.onnx/);
    expect((error as Error).message).toMatch(/fc1\.weight.*\[128, 784\].*\[256, 784\]/);
    await expect(mergeModels(models, { method: 'mergemany', match: 'activation' })).rejects.toThrow(/needs data/);
  });

  it('stops on an aborted signal', async () => {
    const { models, spec } = await load();
    const controller = new AbortController();
    controller.abort();
    await expect(mergeModels(models, { method: 'mergemany', spec, signal: controller.signal })).rejects.toThrow(CancelledError);
  });
});
