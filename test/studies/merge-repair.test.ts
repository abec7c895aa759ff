import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { merge } from '../../lib/api.js';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { modelLoss } from '../../lib/checks/loss.js';
import { openDataset } from '../../lib/dataset/index.js';
import { CancelledError, InvalidArgumentError } from '../../lib/errors.js';
import { mergeModels, type MergeMethod } from '../../lib/studies/merge.js';
import { repairedMerge } from '../../lib/studies/merge-repair.js';
import { fixture, tempDir } from '../helpers.js';
import { agrees, groupMap, load, reference as mergeReference } from './merge-reference.js';
import { withoutFc1Bias } from './unbiased.js';

interface Evaluation {
  loss: number;
  accuracy: number;
}
interface Reference {
  models: string[];
  samples: number;
  epsilon: number;
  statistics: { start: number; end: number };
  [method: string]: unknown;
}
interface Entry {
  weights: number[];
  layers: string[];
  merged: Evaluation;
  repaired: Evaluation;
}

const reference = JSON.parse(readFileSync(fixture('reference', 'merge_repair.json'), 'utf8')) as Reference;
const statisticsSamples = reference.statistics.end - reference.statistics.start;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('REPAIR of a merge against the PyTorch reference (merge_repair_reference.py: the reference’s own permutations, the N-model target)', () => {
  for (const method of ['mean', 'mergemany', 'tree'] as MergeMethod[]) {
    const entry = reference[method] as Entry;
    it(`${method} of four MLP seeds: the permutations are the reference’s, the merge before and after REPAIR has the reference’s loss (1e-4 relative) and accuracy (within one sample), the same layers corrected; REPAIR lowers the merge’s loss`, async () => {
      const { models, data, spec } = await load();
      const result = await mergeModels(models, { method, spec });
      if (method !== 'mean') expect(agrees(result, mergeReference[method], groupMap(spec))).toBe(true);
      expect(result.weights).toEqual(entry.weights);
      const repaired = await repairedMerge(models, result, data, { repairSamples: statisticsSamples });
      expect(repaired.form).toBe('fold');
      expect(repaired.layers).toEqual(entry.layers);
      expect([repaired.statistics.statistics, repaired.statistics.samples]).toEqual(['evaluation', statisticsSamples]);
      const before = await modelLoss(models[0]!, result.merged, data, { batchSize: 500 });
      const after = await modelLoss(repaired.graph, repaired.arena, data, { batchSize: 500 });
      for (const [ours, ref] of [[before, entry.merged], [after, entry.repaired]] as const) {
        expect(Math.abs(ours.loss - ref.loss), `loss ${ours.loss} vs ${ref.loss}`).toBeLessThanOrEqual(1e-4 * ref.loss);
        expect(Math.abs(ours.accuracy - ref.accuracy)).toBeLessThanOrEqual(1 / reference.samples + 1e-12);
      }
      expect(after.loss).toBeLessThan(before.loss);
    }, 120_000);
  }
});

describe('REPAIR of a merge', () => {
  for (const [name, copies, method, strip] of [
    ['three copies, mean', 3, 'mean', false],
    ['four copies, MergeMany', 4, 'mergemany', false],
    ['three copies without fc1’s bias, mean (a bias added, the arenas carried)', 3, 'mean', true],
  ] as const) {
    it(`REPAIR of a merge of copies of one model is the identity: the repaired arena is the model’s bit for bit (${name})`, async () => {
      const { data, spec } = await load();
      const one = await loadCheckpoint(fixture(mergeReference.models[0]!));
      const models = await Promise.all(Array.from({ length: copies }, async () => (strip ? withoutFc1Bias(await loadCheckpoint(fixture(mergeReference.models[0]!))) : loadCheckpoint(fixture(mergeReference.models[0]!)))));
      const result = await mergeModels(models, { method, ...(strip ? {} : { spec }) });
      const repaired = await repairedMerge(models, result, data, { repairSamples: 300 });
      if (!strip) {
        expect(repaired.graph).toBe(models[0]);
        const differing = repaired.arena.findIndex((v, i) => !Object.is(v, one.arena[i]));
        expect(differing, 'first arena element REPAIR changed').toBe(-1);
        return;
      }
      const added = repaired.graph.parameters.find((p) => p.tensor === 'llfc_repair_bias_0')!;
      expect(added.length).toBe(128);
      // Every parameter the model has keeps its value; the added bias stays +0.
      for (const p of repaired.graph.parameters) {
        const got = repaired.arena.subarray(p.offset, p.offset + p.length);
        const source = models[0]!.parameters.find((q) => q.tensor === p.tensor);
        const want = source ? models[0]!.arena.subarray(source.offset, source.offset + source.length) : new Float32Array(p.length);
        expect(got.findIndex((v, i) => !Object.is(v, want[i])), p.tensor).toBe(-1);
      }
    }, 120_000);
  }

  it('a merge of models that keep their BatchNorm nodes gets the statistics reset of the merge: only the running means and variances change', async () => {
    const models = await Promise.all(['cnn_bn_a.onnx', 'cnn_bn_b.onnx'].map((f) => loadCheckpoint(fixture('models', f))));
    const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 300 });
    const result = await mergeModels(models, { method: 'mean' });
    const repaired = await repairedMerge(models, result, data, { repairSamples: 200 });
    expect(repaired.form).toBe('batchnorm');
    const statistics = models[0]!.parameters.filter((p) => p.op === 'BatchNormalization' && p.inputIndex >= 3);
    expect(repaired.layers.length * 2).toBe(statistics.length);
    const changed = new Set(repaired.graph.parameters.filter((p) => repaired.arena.subarray(p.offset, p.offset + p.length).some((v, i) => !Object.is(v, result.merged[p.offset + i]))).map((p) => p.tensor));
    expect([...changed].sort()).toEqual(statistics.map((p) => p.tensor).sort());
  }, 60_000);

  it('merge() with repair and neither data nor a statistics set is an InvalidArgumentError before any work, and writes nothing', async () => {
    const out = tmp.path('merged.onnx');
    const run = merge({ models: mergeReference.models.slice(0, 2).map((m) => fixture(m)), outputs: { onnx: out } }, { method: 'mean', repair: true });
    await expect(run).rejects.toThrow(InvalidArgumentError);
    await expect(run).rejects.toThrow(/REPAIR of the merge \(repair\) measures statistics on data/);
    expect(existsSync(out)).toBe(false);
  });

  it('stops on an aborted signal', async () => {
    const { models, data } = await load();
    const result = await mergeModels(models, { method: 'mean' });
    const controller = new AbortController();
    controller.abort();
    await expect(repairedMerge(models, result, data, { repairSamples: 100, signal: controller.signal })).rejects.toThrow(CancelledError);
  });
});
