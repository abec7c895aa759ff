import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { modelLoss } from '../../lib/checks/loss.js';
import { openDataset, type Dataset } from '../../lib/dataset/index.js';
import { CancelledError, InvalidArgumentError } from '../../lib/errors.js';
import { interpolateArenas } from '../../lib/interpolate.js';
import type { ProgressEvent } from '../../lib/progress.js';
import type { RepairResult } from '../../lib/results.js';
import { ModelSession } from '../../lib/session.js';
import { analyzeNaiveAndAligned } from '../../lib/studies/aligned.js';
import { Repair, repairCheckpoints } from '../../lib/studies/repair.js';
import { fashionSlice } from '../dataset/helpers.js';
import { fixture, tempDir } from '../helpers.js';
import { withoutFc1Bias } from './unbiased.js';

interface RefCurve {
  loss: number[];
  accuracy: number[];
  barriers: { loss: number; lossMidpoint: number; accuracy: number };
}
interface RefPair extends RefCurve {
  a: string;
  b: string;
  form: 'fold' | 'batchnorm';
  layers: string[];
  alphas: number[];
  repaired: RefCurve;
}
interface Reference {
  data: string;
  labels: string;
  normalize: { mean: number[]; std: number[] };
  epsilon: number;
  evaluation: { start: number; end: number };
  statistics: { start: number; end: number };
  [pair: string]: unknown;
}

const reference = JSON.parse(readFileSync(fixture('reference', 'repair.json'), 'utf8')) as Reference;
const refPair = (name: string): RefPair => reference[name] as RefPair;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Samples [start, end) of the fixture's test images and labels as .npy files of their own. */
const sliceFiles = (start: number, end: number): { data: string; labels: string } => fashionSlice(fixture(reference.data), fixture(reference.labels), start, end, tmp.path);
const statisticsFiles = sliceFiles(reference.statistics.start, reference.statistics.end);

const evaluationData = (): Promise<Dataset> => openDataset({ data: fixture(reference.data), labels: fixture(reference.labels), normalize: reference.normalize, limit: reference.evaluation.end });
const statisticsData = (): Promise<Dataset> => openDataset({ ...statisticsFiles, normalize: reference.normalize });
const pairOf = async (name: string): Promise<[Checkpoint, Checkpoint]> => [await loadCheckpoint(fixture(refPair(name).a)), await loadCheckpoint(fixture(refPair(name).b))];

function expectRelative(got: readonly number[], want: readonly number[], tolerance: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!) / Math.max(Math.abs(want[i]!), 1e-12), `${what}[${i}]: ${g} vs ${want[i]}`).toBeLessThanOrEqual(tolerance));
}

/** The logits of the model `arena` (a checkpoint's layout) on the first batch of the data. */
async function logits(checkpoint: Checkpoint, arena: Float32Array, data: Dataset, taps: string[] = []): Promise<Record<string, Float32Array>> {
  const session = await ModelSession.create(checkpoint, { parameters: arena, taps });
  try {
    const batch = (await data.batches(200).next()).value!;
    const out = await session.runBatch(batch, data);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** max |x − y| / max |y|. */
function relativeGap(x: Float32Array, y: Float32Array): number {
  let gap = 0;
  let scale = 0;
  for (let i = 0; i < y.length; i++) {
    gap = Math.max(gap, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return gap / scale;
}

describe('REPAIR against the PyTorch reference (repair_reference.py: BN-folded convs, an MLP, BatchNorm kept, a LayerNorm ViT)', () => {
  for (const name of ['mlp', 'cnn_folded', 'resnet', 'cnn_bn', 'vit_hand']) {
    const ref = refPair(name);
    it(`${name}: the repaired loss curve equals PyTorch's (1e-4 relative), accuracies within one sample, the same layers corrected (${ref.form} form)`, async () => {
      const [a, b] = await pairOf(name);
      const data = await evaluationData();
      const result = await linearModeConnectivity(a, b, data, { alphas: ref.alphas, repair: true, repairData: await statisticsData() });
      const repair = result.repair!;
      expect(repair.form).toBe(ref.form);
      expect(repair.layers).toEqual(ref.layers);
      expect(repair.epsilon).toBe(reference.epsilon);
      expect([repair.statistics, repair.samples]).toEqual(['repair', reference.statistics.end - reference.statistics.start]);
      expectRelative(result.loss, ref.loss, 1e-4, 'loss');
      expectRelative(repair.lmc.loss, ref.repaired.loss, 1e-4, 'repaired loss');
      repair.lmc.accuracy.forEach((acc, i) => expect(Math.abs(acc - ref.repaired.accuracy[i]!)).toBeLessThanOrEqual(1 / data.length + 1e-12));
      expect(Math.abs(repair.lmc.barriers!.loss - ref.repaired.barriers.loss)).toBeLessThanOrEqual(1e-4 * Math.abs(ref.repaired.barriers.loss) + 1e-6);
    }, 240_000);
  }
});

describe('REPAIR', () => {
  for (const [name, files] of [
    ['mlp', ['mlp_a.onnx', 'mlp_b.onnx']],
    ['cnn_folded', ['cnn_folded_a.onnx', 'cnn_folded_b.onnx']],
    ['vit_hand (MatMul + Add, LayerNorm, tokens)', ['vit_hand_a.onnx', 'vit_hand_b.onnx']],
  ] as const) {
    // ε sits under the endpoints' σ as under θ(α)'s, and θ(0) = A is measured as A is (same graph, taps and passes):
    // every channel's scale is exactly 1 and its shift exactly 0, so the repaired endpoint is the endpoint.
    it(`REPAIR at α = 0 and α = 1 is the identity: the repaired arena is A's (B's) bit for bit, its logits equal the endpoint's (1e-6 relative), its loss and accuracy too, ${name}`, async () => {
      const a = await loadCheckpoint(fixture('models', files[0]));
      const b = await loadCheckpoint(fixture('models', files[1]));
      const data = await evaluationData();
      const pair = repairCheckpoints(a, b);
      expect(pair.form).toBe('fold');
      const repair = await Repair.create(pair, data, { repairSamples: 300 });
      const theta = new Float32Array(pair.a.arena.length);
      for (const [alpha, endpoint] of [[0, pair.a], [1, pair.b]] as const) {
        await repair.repairedArena(alpha, theta);
        const differing = theta.findIndex((v, i) => !Object.is(v, endpoint.arena[i]));
        expect(differing, `α = ${alpha}: first arena element that REPAIR changed`).toBe(-1);
        const logit = endpoint.outputs[0]!.name;
        const got = (await logits(pair.a, theta, data))[logit]!;
        const want = (await logits(endpoint, endpoint.arena, data))[logit]!;
        expect(relativeGap(got, want), `α = ${alpha}`).toBeLessThanOrEqual(1e-6);
        const repaired = await modelLoss(pair.a, theta, data, { batchSize: 256 });
        const plain = await modelLoss(endpoint, endpoint.arena, data, { batchSize: 256 });
        expect(Math.abs(repaired.loss - plain.loss) / plain.loss, `α = ${alpha}`).toBeLessThanOrEqual(1e-6);
        expect(repaired.accuracy).toBe(plain.accuracy);
      }
    }, 120_000);
  }

  it('the BatchNorm form (the paper\'s statistics reset) is not the identity at α = 0: it replaces A\'s trained running statistics with the statistics set\'s', async () => {
    const [a, b] = await pairOf('cnn_bn');
    const data = await evaluationData();
    const pair = repairCheckpoints(a, b);
    const repair = await Repair.create(pair, data, { repairSamples: 200 });
    const theta = await repair.repairedArena(0, new Float32Array(a.arena.length));
    const statistics = a.parameters.filter((p) => p.op === 'BatchNormalization' && p.inputIndex >= 3);
    expect(statistics.length).toBe(4);
    for (const p of statistics) expect(theta.subarray(p.offset, p.offset + p.length), p.tensor).not.toEqual(a.arena.subarray(p.offset, p.offset + p.length));
  }, 60_000);

  it('the BatchNorm form changes only the running means and variances of the BatchNormalization nodes', async () => {
    const [a, b] = await pairOf('cnn_bn');
    const data = await evaluationData();
    const pair = repairCheckpoints(a, b);
    expect(pair.form).toBe('batchnorm');
    expect(pair.a).toBe(a);
    const repair = await Repair.create(pair, data, { repairSamples: 200 });
    const theta = await repair.repairedArena(0.5, new Float32Array(a.arena.length));
    const [plain] = interpolateArenas(a.arena, b.arena, [0.5]);
    const changed = new Set<string>();
    for (const p of a.parameters) {
      for (let i = 0; i < p.length; i++) if (theta[p.offset + i] !== plain![p.offset + i]) changed.add(`${p.op}:${p.inputIndex}`);
    }
    expect([...changed].sort()).toEqual(['BatchNormalization:3', 'BatchNormalization:4']);
  }, 60_000);

  it('a channel that is dead in θ(α) gets the target mean (1−α)μ_A + αμ_B', async () => {
    const [a, b0] = await pairOf('mlp');
    const data = await evaluationData();
    // fc2's unit 3 in B is A's negated, so θ(½) computes a constant there: its bias. (fc1 would not
    // do: a first layer reads the same inputs in A, B and θ(α), so its mean is always the target.)
    const weight = a.parameters.find((p) => p.tensor === 'fc2.weight')!;
    const bias = a.parameters.find((p) => p.tensor === 'fc2.bias')!;
    const arenaB = Float32Array.from(b0.arena);
    const unit = 3;
    const row = weight.shape[1]!;
    for (let i = 0; i < row; i++) arenaB[weight.offset + unit * row + i] = -a.arena[weight.offset + unit * row + i]!;
    arenaB[bias.offset + unit] = a.arena[bias.offset + unit]!;
    const b: Checkpoint = { ...b0, arena: arenaB };
    const pair = repairCheckpoints(a, b);
    const layer = pair.layers[1]!;
    expect(layer.name).toBe('fc2');
    const samples = 200;
    const mean = async (c: Checkpoint): Promise<number> => {
      const v = (await logits(c, c.arena, data, [layer.value]))[layer.value]!;
      let s = 0;
      for (let n = 0; n < samples; n++) s += v[n * 256 + unit]!;
      return s / samples;
    };
    const target = 0.5 * (await mean(a)) + 0.5 * (await mean(b));
    const repair = await Repair.create(pair, data, { repairSamples: samples });
    const theta = await repair.repairedArena(0.5, new Float32Array(a.arena.length));
    const repaired = (await logits(pair.a, theta, data, [layer.value]))[layer.value]!;
    for (let n = 0; n < samples; n++) expect(repaired[n * 256 + unit]).toBeCloseTo(target, 5);
    // Unrepaired, the channel holds fc2's bias, not the target.
    expect(Math.abs(a.arena[bias.offset + unit]! - target)).toBeGreaterThan(1e-2);
  }, 60_000);

  it('a hidden layer without a bias gets a new one (llfc_repair_bias_0), and REPAIR still keeps the endpoint', async () => {
    const [a0, b0] = await pairOf('mlp');
    const data = await evaluationData();
    const [a, b] = [withoutFc1Bias(a0), withoutFc1Bias(b0)];
    const pair = repairCheckpoints(a, b);
    expect(pair.a.parameters.filter((p) => p.tensor === 'llfc_repair_bias_0').map((p) => p.length)).toEqual([256]);
    expect(pair.layers.map((l) => l.name)).toEqual(['fc1', 'fc2']);
    const repair = await Repair.create(pair, data, { repairSamples: 200 });
    const theta = await repair.repairedArena(0, new Float32Array(pair.a.arena.length));
    expect(relativeGap((await logits(pair.a, theta, data)).logits!, (await logits(a, a.arena, data)).logits!)).toBeLessThanOrEqual(1e-6);
  }, 60_000);

  it('without repairData the statistics are the evaluation data’s first repairSamples, and the report says so', async () => {
    const [a, b] = await pairOf('mlp');
    const data = await evaluationData();
    const alphas = [0, 0.5, 1];
    const own = (await linearModeConnectivity(a, b, data, { alphas, repair: true, repairSamples: 120 })).repair!;
    const first = await openDataset({ ...sliceFiles(0, 120), normalize: reference.normalize });
    const separate = (await linearModeConnectivity(a, b, data, { alphas, repair: true, repairData: first })).repair!;
    expect([own.statistics, own.samples, own.source]).toEqual(['evaluation', 120, data.source]);
    expect([separate.statistics, separate.samples]).toEqual(['repair', 120]);
    expectRelative(own.lmc.loss, separate.lmc.loss, 1e-12, 'loss');
    // More samples than the set holds: all of it.
    expect((await linearModeConnectivity(a, b, data, { alphas: [0, 1], repair: true })).repair!.samples).toBe(data.length);
  }, 120_000);

  for (const bad of [0, -5, 1.5]) {
    it(`repairSamples ${bad} is an InvalidArgumentError naming the option`, async () => {
      const [a, b] = await pairOf('mlp');
      const data = await evaluationData();
      await expect(linearModeConnectivity(a, b, data, { repair: true, repairSamples: bad })).rejects.toThrow(InvalidArgumentError);
      await expect(linearModeConnectivity(a, b, data, { repair: true, repairSamples: bad })).rejects.toThrow(`repairSamples must be a positive integer, got ${bad}`);
      await expect(analyzePair(a, b, data, { repair: true, repairSamples: bad })).rejects.toThrow(/repairSamples must be a positive integer/);
    });
  }

  it('analyze with repair: the same repaired curve as lmc, naive and aligned; progress reaches its total; an abort cancels it', async () => {
    const [a, b] = await pairOf('mlp');
    const data = await evaluationData();
    const options = { lmcAlphas: [0, 0.5, 1], alphas: [0.5], repair: true, repairSamples: 100, commutativity: false, weakAdditivity: false };
    const events: ProgressEvent[] = [];
    const analysis = await analyzePair(a, b, data, { ...options, onProgress: (e) => events.push(e) });
    const lmc = await linearModeConnectivity(a, b, data, { alphas: [0, 0.5, 1], repair: true, repairSamples: 100 });
    expect(analysis.repair!.lmc.loss).toEqual(lmc.repair!.lmc.loss);
    const repairEvents = events.filter((e) => e.phase === 'repair');
    expect(repairEvents.at(-1)!.done).toBe(repairEvents.at(-1)!.total);
    const both = await analyzeNaiveAndAligned(a, b, data, { method: 'weight' }, options);
    const aligned: RepairResult = both.aligned.repair!;
    expect(aligned.lmc.barriers!.loss).toBeLessThan(both.naive.repair!.lmc.barriers!.loss);
    const controller = new AbortController();
    const run = linearModeConnectivity(a, b, data, { alphas: [0, 0.5, 1], repair: true, signal: controller.signal, onProgress: (e) => e.phase === 'repair' && e.done === 3 && controller.abort() });
    await expect(run).rejects.toThrow(CancelledError);
  }, 180_000);
});
