/**
 * merge and series over N dynamo-style checkpoints where some drop an all-zero bias that others
 * keep (scripts/fixtures/dynamo_variants.py: four spawned children, models/dynamo/zero_bias_*):
 * one loader (lib/load-checkpoints.ts) restores each dropped bias as zeros across all N, and the
 * numbers equal the PyTorch / numpy reference (reference/dynamo_series.json).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { merge, series } from '../../lib/api.js';
import { loadCheckpoint, pairCheckpoints } from '../../lib/checkpoint.js';
import { modelLoss } from '../../lib/checks/loss.js';
import { openDataset } from '../../lib/dataset/index.js';
import { loadCheckpoints } from '../../lib/load-checkpoints.js';
import type { StudyReport } from '../../lib/report/study.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';
import type { SeriesReference } from './series-reference.js';

interface Evaluation { loss: number; accuracy: number }
interface Reference extends SeriesReference {
  zeroed: Record<string, string[]>;
  evaluations: Evaluation[];
  mean: Evaluation;
  mergemany: Evaluation & { objective: number; initialObjective: number };
}

const reference = JSON.parse(readFileSync(fixture('reference', 'dynamo_series.json'), 'utf8')) as Reference;
const files = reference.models.map((m) => fixture(m));
const data = { data: fixture(reference.data), labels: fixture(reference.labels), normalize: reference.normalize };
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Loss within 1e-4 relative (barriers: with a floor at 0), accuracy within one near-tied sample. */
const closeLoss = (x: number, ref: number): boolean => Math.abs(x - ref) <= 1e-4 * Math.abs(ref) + 1e-6;
const closeAccuracy = (x: number, ref: number): boolean => Math.abs(x - ref) <= 1 / reference.samples + 1e-12;
const expectEvaluation = (ours: Evaluation, ref: Evaluation) => {
  expect(closeLoss(ours.loss, ref.loss)).toBe(true);
  expect(closeAccuracy(ours.accuracy, ref.accuracy)).toBe(true);
};

describe('N dynamo-style checkpoints, some with a zero bias dropped', () => {
  it('the fixture: each zeroed bias is missing from its file; one loader restores it as zeros in those and leaves every other parameter as read, so all N pair', async () => {
    const raw = await Promise.all(files.map((f) => loadCheckpoint(f)));
    const zeroed = Object.values(reference.zeroed);
    raw.forEach((c, k) => expect(c.parameters.filter((p) => p.tensor.endsWith('.bias')).length).toBe(3 - zeroed[k]!.length));
    const loaded = await loadCheckpoints(files);
    loaded.forEach((c, k) => {
      pairCheckpoints(loaded[0]!, c);
      for (const p of c.parameters.filter((q) => q.tensor.endsWith('.bias'))) {
        const values = [...c.arena.subarray(p.offset, p.offset + p.length)];
        expect(values.every((v) => v === 0)).toBe(zeroed[k]!.includes(p.tensor));
      }
    });
  });

  it('llfc series: the pairwise barrier matrix and the instability curve equal the PyTorch reference (loss 1e-4 relative, accuracy within one sample)', async () => {
    const result = await series({ models: files, data }, { alphas: reference.alphas });
    for (const ref of reference.pairs) {
      const ours = result.pairs.find((p) => p.i === ref.i && p.j === ref.j)!;
      ours.lmc.loss.forEach((l, k) => expect(Math.abs(l - ref.loss[k]!)).toBeLessThanOrEqual(1e-4 * ref.loss[k]!));
      expect(closeLoss(result.matrix.loss[ref.i]![ref.j]!, ref.barriers.loss)).toBe(true);
      expect(closeAccuracy(result.matrix.accuracy[ref.i]![ref.j]!, ref.barriers.accuracy)).toBe(true);
    }
    expect(result.instability.map((p) => [p.step, p.pairs])).toEqual(reference.instability.map((p) => [p.step, p.pairs]));
    result.instability.forEach((p, k) => p.loss.forEach((x, q) => expect(closeLoss(x, reference.instability[k]!.loss[q]!)).toBe(true)));
  });

  it('llfc merge --method mean: every model’s and the merge’s loss and accuracy equal the reference; the written model (the first file’s graph, its dropped bias restored) computes the merge', async () => {
    const out = tmp.path('mean.onnx');
    const json = tmp.path('mean.json');
    const r = await runCliInProcess('merge', ...files, '-o', out, '--method', 'mean', '--data', data.data, '--labels', data.labels, '--mean', '0.286', '--std', '0.353', '--out', json, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as StudyReport;
    report.merge!.evaluation!.models.forEach((e, k) => expectEvaluation(e, reference.evaluations[k]!));
    expectEvaluation(report.merge!.evaluation!.merged, reference.mean);
    const written = await loadCheckpoint(out);
    const dataset = await openDataset(data);
    const evaluated = await modelLoss(written, written.arena, dataset, { batchSize: 500 });
    expect(evaluated.accuracy).toBe(report.merge!.evaluation!.merged.accuracy);
    expect(Math.abs(evaluated.loss - report.merge!.evaluation!.merged.loss)).toBeLessThan(1e-9);
    // The first model lacks fc3's bias; the merge has the mean of the others' (non-zero).
    const zeroedFirst = Object.values(reference.zeroed)[0]!;
    expect(zeroedFirst.length).toBeGreaterThan(0);
    for (const tensor of zeroedFirst) {
      const p = written.parameters.find((q) => q.tensor === tensor)!;
      expect([...written.arena.subarray(p.offset, p.offset + p.length)].some((v) => v !== 0)).toBe(true);
    }
  });

  it('merge --method mergemany: the objective starts at the reference’s and reaches at least the reference’s MergeMany objective; where it is the same optimum, the merge’s loss and accuracy are the reference’s', async () => {
    const result = await merge({ models: files, data, outputs: {} }, { method: 'mergemany' });
    const { report } = result;
    expect(Math.abs(report.initialObjective - reference.mergemany.initialObjective)).toBeLessThanOrEqual(1e-6 * Math.abs(reference.mergemany.initialObjective));
    const tolerance = 1e-6 * Math.abs(reference.mergemany.objective);
    expect(report.objective).toBeGreaterThanOrEqual(reference.mergemany.objective - tolerance);
    if (Math.abs(report.objective - reference.mergemany.objective) <= tolerance) expectEvaluation(report.evaluation!.merged, reference.mergemany);
  });
});
