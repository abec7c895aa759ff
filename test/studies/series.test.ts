import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { openDataset } from '../../lib/dataset/index.js';
import { CheckpointMismatchError, DatasetError, InvalidArgumentError } from '../../lib/errors.js';
import { checkpointSeries, splitStepFromName, splitStepsFromManifest } from '../../lib/studies/series.js';
import { fixture, tempDir } from '../helpers.js';
import type { SeriesReference } from './series-reference.js';


const reference = JSON.parse(readFileSync(fixture('reference', 'series.json'), 'utf8')) as SeriesReference;
const files = reference.models.map((m) => fixture(m));
const openData = () => openDataset({ data: fixture(reference.data), labels: fixture(reference.labels), normalize: reference.normalize });

/** A loss barrier is a difference of losses: 1e-4 relative, with a floor for barriers at 0. */
const closeLoss = (x: number, ref: number): boolean => Math.abs(x - ref) <= 1e-4 * Math.abs(ref) + 1e-6;
/** An accuracy barrier moves by 1/samples when one near-tied sample flips. */
const closeAccuracy = (x: number, ref: number): boolean => Math.abs(x - ref) <= 1 / reference.samples + 1e-12;

describe('checkpoint series', () => {
  it('split steps come from file names (…_k500_…) and not from other k-words', () => {
    expect(splitStepFromName('/x/spawn_k500_c1.onnx')).toBe(500);
    expect(splitStepFromName('run-k0.onnx')).toBe(0);
    expect(splitStepFromName('mlp_kernel3.onnx')).toBeNull();
    expect(splitStepFromName('k12/model.onnx')).toBeNull();
  });

  it('the pairwise barrier matrix and the instability curve of six spawned children equal the PyTorch reference (loss 1e-4 relative, accuracy within one sample)', async () => {
    const models = await Promise.all(files.map((f) => loadCheckpoint(f)));
    const steps = files.map(splitStepFromName);
    expect(steps).toEqual(reference.steps);
    const result = await checkpointSeries(models, await openData(), { steps, source: 'names' });
    expect(result.pairs.length).toBe(reference.pairs.length);
    for (const ref of reference.pairs) {
      const ours = result.pairs.find((p) => p.i === ref.i && p.j === ref.j)!;
      expect(ours.lmc.alphas).toEqual(reference.alphas);
      ours.lmc.loss.forEach((l, k) => expect(Math.abs(l - ref.loss[k]!)).toBeLessThanOrEqual(1e-4 * ref.loss[k]!));
      expect(closeLoss(result.matrix.loss[ref.i]![ref.j]!, ref.barriers.loss)).toBe(true);
      expect(closeLoss(result.matrix.lossMidpoint[ref.j]![ref.i]!, ref.barriers.lossMidpoint)).toBe(true);
      expect(closeAccuracy(result.matrix.accuracy[ref.i]![ref.j]!, ref.barriers.accuracy)).toBe(true);
    }
    expect(result.matrix.loss.map((row, i) => row[i])).toEqual([0, 0, 0, 0, 0, 0]);
    expect(result.instability.map((p) => p.step)).toEqual(reference.instability.map((p) => p.step));
    result.instability.forEach((p, k) => {
      const ref = reference.instability[k]!;
      expect(p.pairs).toEqual(ref.pairs);
      p.loss.forEach((x, q) => expect(closeLoss(x, ref.loss[q]!)).toBe(true));
      p.accuracy.forEach((x, q) => expect(closeAccuracy(x, ref.accuracy[q]!)).toBe(true));
    });
  });

  it('a manifest gives the split steps (files relative to it) and refuses a file that is not among the checkpoints', async () => {
    const tmp = tempDir();
    try {
      const manifest = tmp.path('manifest.json');
      writeFileSync(manifest, JSON.stringify({ children: [{ file: files[0], step: 7 }, { file: files[1], step: 7 }] }));
      expect(await splitStepsFromManifest(manifest, files.slice(0, 3))).toEqual([7, 7, null]);
      expect(await splitStepsFromManifest(manifest, files.slice(0, 2))).toEqual([7, 7]);
      await expect(splitStepsFromManifest(manifest, files.slice(2))).rejects.toThrow(/not among the checkpoints/);
      writeFileSync(manifest, JSON.stringify({ children: [{ file: 'a.onnx', step: -1 }] }));
      await expect(splitStepsFromManifest(manifest, files)).rejects.toThrow(DatasetError);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses fewer than two checkpoints, α without both ends, and a checkpoint of another architecture', async () => {
    const models = await Promise.all(files.slice(0, 2).map((f) => loadCheckpoint(f)));
    const data = await openData();
    const steps = { steps: [null, null], source: 'names' as const };
    await expect(checkpointSeries(models.slice(0, 1), data, steps)).rejects.toThrow(InvalidArgumentError);
    await expect(checkpointSeries(models, data, steps, { alphas: [0, 0.5] })).rejects.toThrow(/α = 0 and α = 1/);
    const other = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    await expect(checkpointSeries([models[0]!, other], data, steps)).rejects.toThrow(CheckpointMismatchError);
  });
});
