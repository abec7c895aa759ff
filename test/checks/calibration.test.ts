import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import type { LossSetup } from '../../lib/checks/loss.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { fitTemperature, LogitRows, scaledCrossEntropy } from '../../lib/checks/temperature.js';
import { openDataset } from '../../lib/dataset/index.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../lib/errors.js';
import type { CalibrationResult } from '../../lib/results.js';
import { fashionSlice, writeNpy } from '../dataset/helpers.js';
import { fixture, readNpy, tempDir } from '../helpers.js';

interface RefFit {
  temperature: (number | 'infinity')[];
  loss: number[];
  barriers: { loss: number; lossMidpoint: number };
}
interface RefPair {
  a: string;
  b: string;
  alphas: number[];
  loss: number[];
  evaluation: RefFit;
  calibration: RefFit;
  /** A pair on other data (the byte-level GPT's token windows) names it, and its sample ranges, over the top-level ones. */
  data?: string;
  labels?: string;
  evaluationRange?: { start: number; end: number };
  calibrationRange?: { start: number; end: number };
}
interface Reference {
  data: string;
  labels: string;
  normalize: { mean: number[]; std: number[] };
  evaluation: { start: number; end: number };
  calibration: { start: number; end: number };
  [pair: string]: unknown;
}

const reference = JSON.parse(readFileSync(fixture('reference', 'calibration.json'), 'utf8')) as Reference;
const pairs = Object.entries(reference).filter((e): e is [string, RefPair] => typeof e[1] === 'object' && e[1] !== null && 'evaluation' in (e[1] as object) && 'alphas' in (e[1] as object));
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** The calibration samples (a slice of the fixture's .npy files) written as their own .npy files. */
const calibration = fashionSlice(fixture(reference.data), fixture(reference.labels), reference.calibration.start, reference.calibration.end, tmp.path);

const evaluationData = () => openDataset({ data: fixture(reference.data), labels: fixture(reference.labels), normalize: reference.normalize, limit: reference.evaluation.end });
const calibrationData = () => openDataset({ ...calibration, normalize: reference.normalize });

/** Rows [start, end) of an int64 .npy file (token windows, next-token labels) as a file of their own. */
function int64Rows(file: string, start: number, end: number): string {
  const { shape, data } = readNpy(fixture(file));
  const row = shape.slice(1).reduce((n, d) => n * d, 1);
  return writeNpy(tmp.path(`rows_${start}_${end}_${file.replace(/\W/g, '_')}`), '<i8', [end - start, ...shape.slice(1)], (data as BigInt64Array).slice(start * row, end * row));
}

/** The pair's evaluation and calibration sets: the fashion images of the top level, or the pair's own token windows. */
async function pairData(ref: RefPair) {
  if (!ref.data || !ref.labels || !ref.evaluationRange || !ref.calibrationRange) {
    return { data: await evaluationData(), cal: await calibrationData(), source: calibration.data, samples: { evaluation: reference.evaluation.end, calibration: reference.calibration.end - reference.calibration.start } };
  }
  const [e, c] = [ref.evaluationRange, ref.calibrationRange];
  const data = await openDataset({ data: fixture(ref.data), labels: fixture(ref.labels), limit: e.end });
  const source = int64Rows(ref.data, c.start, c.end);
  const cal = await openDataset({ data: source, labels: int64Rows(ref.labels, c.start, c.end) });
  return { data, cal, source, samples: { evaluation: e.end, calibration: c.end - c.start } };
}

/** T within 1e-6 relative (∞ as ∞), the calibrated loss within 1e-4 relative, the barriers likewise. */
function expectFit(got: CalibrationResult, want: RefFit, where: string): void {
  got.temperature.forEach((t, i) => {
    const w = want.temperature[i]!;
    if (w === 'infinity') expect(t, `${where} T[${i}]`).toBe('infinity');
    else expect(Math.abs((t as number) - w), `${where} T[${i}] = ${t} vs ${w}`).toBeLessThanOrEqual(1e-6 * w);
  });
  got.loss.forEach((l, i) => expect(Math.abs(l - want.loss[i]!), `${where} loss[${i}]`).toBeLessThanOrEqual(1e-4 * want.loss[i]!));
  expect(Math.abs(got.barriers!.loss - want.barriers.loss)).toBeLessThanOrEqual(1e-4 * Math.max(...want.loss));
  expect(Math.abs(got.barriers!.lossMidpoint - want.barriers.lossMidpoint)).toBeLessThanOrEqual(1e-4 * Math.max(...want.loss));
}

describe('temperature calibration against PyTorch + SciPy (MLP, CNNs, ResNet, a LayerNorm ViT, a byte-level GPT with every next-token position a row)', () => {
  it('covers the transformer pairs', () => expect(pairs.map(([n]) => n)).toEqual(expect.arrayContaining(['vit_hand', 'lm_untied'])));

  it.each(pairs)('%s: T(α) to 1e-6 and the calibrated curve and barriers, fitted on the evaluation data and on a separate set', async (_name, ref) => {
    const [a, b, { data, cal, source, samples }] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), pairData(ref)]);
    const own = await linearModeConnectivity(a, b, data, { alphas: ref.alphas, calibrate: true, batchSize: 500 });
    own.loss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]!)).toBeLessThanOrEqual(1e-4 * ref.loss[i]!));
    expect(own.calibration).toMatchObject({ fittedOn: 'evaluation', samples: samples.evaluation });
    expectFit(own.calibration!, ref.evaluation, 'evaluation');
    const separate = await linearModeConnectivity(a, b, data, { alphas: ref.alphas, calibrate: true, calibrationData: cal, batchSize: 500 });
    expect(separate.calibration).toMatchObject({ fittedOn: 'calibration', samples: samples.calibration, source });
    expectFit(separate.calibration!, ref.calibration, 'calibration set');
  }, 120_000);

  it('gives the same calibration in analyze (a check of the shared pass) as in lmc, with and without a separate set', async () => {
    const ref = pairs.find(([n]) => n === 'cnn_bn')![1];
    const [a, b, data, cal] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), evaluationData(), calibrationData()]);
    const options = { lmcAlphas: ref.alphas, calibrate: true, commutativity: false, weakAdditivity: false, layers: ['logits'], batchSize: 250 };
    expectFit((await analyzePair(a, b, data, options)).calibration!, ref.evaluation, 'analyze');
    expectFit((await analyzePair(a, b, data, { ...options, calibrationData: cal })).calibration!, ref.calibration, 'analyze, separate set');
    expect((await analyzePair(a, b, data, { ...options, calibrate: false })).calibration).toBeUndefined();
  });
});

describe('fitting T', () => {
  const setup: LossSetup = { classes: 3, ignoreIndex: -100, where: 'test' };
  const rows = (logits: number[][], labels: number[]): LogitRows => {
    const r = new LogitRows(setup);
    r.add(Float32Array.from(logits.flat()), Int32Array.from(labels));
    return r;
  };

  it('is ∞ when the mean logit is at least the true-class logit (no finite T beats uniform predictions)', () => {
    expect(fitTemperature(rows([[3, 0, 0], [0, 3, 0]], [1, 2]), 3)).toBe('infinity');
  });

  it('is 0 when every label holds its row’s largest logit (the loss only falls as T → 0)', () => {
    expect(fitTemperature(rows([[3, 0, 0], [0, 3, 1]], [0, 1]), 3)).toBe(0);
  });

  it('is the stationary point of the loss in 1/T: the loss is larger on both sides', () => {
    const r = rows([[2, 0, -1], [0, 1, 0.5], [1, 0.2, 0], [-1, 2, 0]], [0, 2, 0, 1]);
    const t = fitTemperature(r, 3) as number;
    const mean = (beta: number): number => {
      let s = 0;
      r.each((z, o, label) => (s += scaledCrossEntropy(z, o, 3, label, beta)));
      return s / r.rows;
    };
    expect(mean(1 / t)).toBeLessThan(mean(1 / t + 1e-3));
    expect(mean(1 / t)).toBeLessThan(mean(1 / t - 1e-3));
  });

  it('leaves out rows whose label is the ignore index', () => {
    const r = rows([[2, 0, -1], [0, 1, 0.5], [9, 0, 0]], [0, 2, -100]);
    expect(r.rows).toBe(2);
    expect(fitTemperature(r, 3)).toEqual(fitTemperature(rows([[2, 0, -1], [0, 1, 0.5]], [0, 2]), 3));
  });
});

describe('calibration input errors', () => {
  it('refuses a calibration set without labels, or with samples of another shape', async () => {
    const ref = pairs[0]![1];
    const [a, b, data] = await Promise.all([loadCheckpoint(fixture(ref.a)), loadCheckpoint(fixture(ref.b)), evaluationData()]);
    const unlabelled = await openDataset({ data: calibration.data, normalize: reference.normalize });
    await expect(linearModeConnectivity(a, b, data, { calibrate: true, calibrationData: unlabelled })).rejects.toThrow(/needs labels/);
    await expect(analyzePair(a, b, data, { calibrate: true, calibrationData: unlabelled })).rejects.toThrow(InvalidArgumentError);
    const wrong = await openDataset({ data: writeNpy(tmp.path('wrong.npy'), '<f4', [4, 1, 14, 14], new Float32Array(4 * 196)), labels: writeNpy(tmp.path('wrong_y.npy'), '<i8', [4], new BigInt64Array(4)) });
    await expect(linearModeConnectivity(a, b, data, { calibrate: true, calibrationData: wrong, alphas: [0, 1] })).rejects.toThrow(ShapeMismatchError);
  });
});
