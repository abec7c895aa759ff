/**
 * Linear mode connectivity (SCIENCE.md §1): loss and accuracy along θ(α) and the barriers.
 */
import type { Checkpoint } from '../checkpoint.js';
import { pairCheckpoints } from '../checkpoint.js';
import { checkLabels, type Dataset } from '../dataset/index.js';
import { InvalidArgumentError, LabelError, ShapeMismatchError } from '../errors.js';
import { interpolateArenas } from '../interpolate.js';
import { native } from '../native.js';
import { alphaGrid, CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import type { CalibrationResult, LmcResult, RepairResult } from '../results.js';
import { repairedCurve } from './repair.js';
import { PathCalibration } from './calibration.js';
import { ModelSession, type ParameterFeed } from '../session.js';
import { Sums } from '../sums.js';

export interface LmcOptions extends RunControl {
  /** α values (default: 11 evenly spaced from 0 to 1). */
  readonly alphas?: readonly number[];
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
  /** How parameters reach onnxruntime (default 'initializers': a session per α, measured faster by bench/runtime.ts). */
  readonly feed?: ParameterFeed;
  /** Also the temperature-calibrated curve, one T per α (default false; Ito et al. 2025). */
  readonly calibrate?: boolean;
  /** A separate labelled set to fit the temperatures on (default: the data itself). */
  readonly calibrationData?: Dataset;
  /** Also the curve after REPAIR (default false; Jordan et al. 2023). */
  readonly repair?: boolean;
  /** REPAIR: samples of the statistics set (default 2000). */
  readonly repairSamples?: number;
  /** REPAIR: a separate statistics set (default: the data's first samples). */
  readonly repairData?: Dataset;
}

/** An LMC result, with the calibrated and the repaired curves when asked for. */
export interface CalibratedLmcResult extends LmcResult {
  readonly calibration?: CalibrationResult;
  readonly repair?: RepairResult;
}

/** The option kinds LMC takes (defaults and validation: lib/options.ts). */
export const LMC_OPTIONS = { alphas: 'lmcAlphas', batchSize: 'batchSize', feed: 'feed', calibrate: 'calibrate', calibrationData: 'dataset', repair: 'repair', repairSamples: 'repairSamples', repairData: 'dataset', ...CONTROL_OPTIONS } as const satisfies OptionSchema<LmcOptions>;

export { alphaGrid };

function endpoints(alphas: readonly number[], values: readonly number[]): [number, number] {
  const i0 = alphas.indexOf(0);
  const i1 = alphas.indexOf(1);
  if (i0 < 0 || i1 < 0) throw new InvalidArgumentError('barriers need α = 0 and α = 1 among the α values');
  return [values[i0]!, values[i1]!];
}

/** Loss barrier against the linear path between the endpoint losses. */
export function lossBarrier(alphas: readonly number[], loss: readonly number[]): number {
  const [l0, l1] = endpoints(alphas, loss);
  return Math.max(...alphas.map((a, i) => loss[i]! - ((1 - a) * l0 + a * l1)));
}

/** Loss barrier against the mean of the endpoint losses (Git Re-Basin). */
export function midpointLossBarrier(alphas: readonly number[], loss: readonly number[]): number {
  const [l0, l1] = endpoints(alphas, loss);
  return Math.max(...loss) - 0.5 * (l0 + l1);
}

/** Accuracy barrier: the largest drop below the line between the endpoint accuracies. */
export function accuracyBarrier(alphas: readonly number[], accuracy: readonly number[]): number {
  const [a0, a1] = endpoints(alphas, accuracy);
  return Math.max(...alphas.map((a, i) => (1 - a) * a0 + a * a1 - accuracy[i]!));
}

/** A batch's sums: cross-entropy, top-1 hits, and the labelled positions they cover. */
export interface LossSums {
  loss: number;
  hits: number;
  count: number;
}

/** Slots of a pass's loss sums (lib/sums.ts): cross-entropy, hits, labelled positions. */
const LOSS = 0;
const HITS = 1;
const COUNT = 2;

/** A pass's loss sums: [Σ cross-entropy, hits, labelled positions] (hits and count exact integers). */
export const lossSums = (): Sums => new Sums(3);

/**
 * Sums over the labelled positions of cross-entropy (float64, log-sum-exp stabilised) and of
 * top-1 hits (ties go to the lowest index, as argmax does), by the native kernel. `logits` hold
 * one row of `classes` per label: N×C for class labels, N×T×V for token labels; labels equal to
 * `ignoreIndex` are left out of both and of the count.
 */
export function crossEntropyAndHits(logits: Float32Array, labels: Int32Array, classes: number, ignoreIndex?: number): LossSums {
  const out = new Float64Array(3);
  native().crossEntropySums({ logits, labels, classes, ...(ignoreIndex !== undefined ? { ignoreIndex } : {}), out });
  return { loss: out[0]!, hits: out[1]!, count: out[2]! };
}

/** What the loss of a checkpoint on labelled data reads; the labels are checked against the logits. */
export interface LossSetup {
  /** Logit row width: classes, or the vocabulary for token labels. */
  readonly classes: number;
  readonly ignoreIndex: number | undefined;
  /** Where the logits and the data come from, for messages. */
  readonly where: string;
}

/** The loss setup of `checkpoint` on `data`: its first output must hold one logit row per label. */
export function lossSetup(checkpoint: Checkpoint, data: Dataset): LossSetup {
  if (!data.labels) throw new InvalidArgumentError(`${data.source}: LMC needs labels`);
  const classes = logitClasses(checkpoint, data.labelShape ?? []);
  checkLabels(data.labels, classes, data.labelsSource ?? data.source, data.ignoreIndex);
  return { classes, ignoreIndex: data.ignoreIndex, where: `${checkpoint.file} on ${data.source}` };
}

/** Adds the sums of one batch's logits against its labels to a pass's `sums`; logits of another size are a ShapeMismatchError. */
export function addBatchLoss(sums: Sums, setup: LossSetup, logits: Float32Array, labels: Int32Array): void {
  if (logits.length !== labels.length * setup.classes) {
    throw new ShapeMismatchError(`${setup.where}: ${logits.length} logits for ${labels.length} labels of ${setup.classes} classes each; the logits must hold one row per label`);
  }
  const r = crossEntropyAndHits(logits, labels, setup.classes, setup.ignoreIndex);
  sums.add(LOSS, r.loss);
  sums.add(HITS, r.hits);
  sums.add(COUNT, r.count);
}

/** The labelled positions a pass's sums cover (tokens, for token labels). */
export const lossCount = (sums: Sums): number => sums.value(COUNT);

/** Mean loss and accuracy of a pass's sums; a pass whose every label is ignored has none. */
export function lossMeans(setup: LossSetup, sums: Sums): { loss: number; accuracy: number } {
  const count = sums.value(COUNT);
  if (count === 0) throw new LabelError(`${setup.where}: every label equals the ignore index ${setup.ignoreIndex}; nothing to measure`);
  return { loss: sums.value(LOSS) / count, accuracy: sums.value(HITS) / count };
}

/** The LMC result from the per-α mean losses and accuracies; barriers need α = 0 and 1. */
export function lmcResult(alphas: number[], loss: number[], accuracy: number[], samples: number, positions: number): LmcResult {
  const ends = alphas.includes(0) && alphas.includes(1);
  return {
    alphas,
    loss,
    accuracy,
    barriers: ends ? { loss: lossBarrier(alphas, loss), lossMidpoint: midpointLossBarrier(alphas, loss), accuracy: accuracyBarrier(alphas, accuracy) } : null,
    samples,
    ...(positions !== samples ? { tokens: positions } : {}),
  };
}

/** Number of classes of a model whose first output is N×C logits (N×T×V for token labels of shape [T]). */
export function logitClasses(checkpoint: Checkpoint, labelShape: readonly number[] = []): number {
  const shape = checkpoint.outputs[0]?.shape ?? [];
  const classes = shape[shape.length - 1] ?? -1;
  if (shape.length !== 2 + labelShape.length || classes <= 0) {
    const expected = labelShape.length === 0 ? 'N×C logits' : `N×T×V logits for N×T token labels`;
    throw new ShapeMismatchError(`${checkpoint.file}: the first output '${checkpoint.outputs[0]?.name}' has shape [${shape.join(', ')}], not ${expected}`);
  }
  return classes;
}

/** One pass of a session over the data: the mean loss and accuracy of the parameters it runs with (`theta`, fed when the session takes them as inputs). */
async function passLoss(
  session: ModelSession,
  data: Dataset,
  setup: LossSetup,
  theta: Float32Array,
  control: { batchSize: number; signal?: AbortSignal | undefined; onBatch?: () => void },
): Promise<{ loss: number; accuracy: number }> {
  session.checkData(data);
  const sums = lossSums();
  for await (const batch of data.batches(control.batchSize, control.signal ? { signal: control.signal } : {})) {
    throwIfAborted(control.signal);
    const out = await session.runBatch(batch, data, theta);
    addBatchLoss(sums, setup, out[session.outputNames[0]!]!.data as Float32Array, batch.labels!);
    control.onBatch?.();
  }
  return lossMeans(setup, sums);
}

/** Mean loss and accuracy of one model: `arena` in the checkpoint's layout, on labelled data. */
export async function modelLoss(
  checkpoint: Checkpoint,
  arena: Float32Array,
  data: Dataset,
  control: { batchSize: number; signal?: AbortSignal | undefined; onBatch?: () => void },
): Promise<{ loss: number; accuracy: number }> {
  const setup = lossSetup(checkpoint, data);
  const session = await ModelSession.create(checkpoint, { parameters: arena });
  try {
    return await passLoss(session, data, setup, arena, control);
  } finally {
    await session.release();
  }
}

/**
 * The loss sums of θ(α) for every α on the dataset (one per α, in order). α is the outer loop:
 * one arena buffer is reused, so memory stays at one model. With `path` (the calibrated curve,
 * single runs only), each θ(α) first runs over `calibrationSet`, when one is given, to fit its
 * T, and its logits on the data feed the calibrated loss too.
 */
export async function lmcSums(a: Checkpoint, b: Checkpoint, data: Dataset, options: LmcOptions = {}, path?: PathCalibration): Promise<Sums[]> {
  const { alphas, batchSize, feed, calibrationData, signal, onProgress } = resolveOptions('linearModeConnectivity()', LMC_OPTIONS, options);
  pairCheckpoints(a, b);
  const loss = lossSetup(a, data);
  const calibrationSet = path ? calibrationData : undefined;
  if (calibrationSet) lossSetup(a, calibrationSet);
  const batchesPerPass = Math.ceil(data.length / batchSize) + (calibrationSet ? Math.ceil(calibrationSet.length / batchSize) : 0);
  const total = batchesPerPass * alphas.length;
  let done = 0;

  const theta = new Float32Array(a.arena.length);
  const shared = feed === 'inputs' ? await ModelSession.create(a) : undefined;
  const passes: Sums[] = [];
  try {
    for (const alpha of alphas) {
      throwIfAborted(signal);
      interpolateArenas(a.arena, b.arena, [alpha], [theta]);
      const session = shared ?? (await ModelSession.create(a, { parameters: theta }));
      try {
        session.checkData(data);
        if (calibrationSet) {
          session.checkData(calibrationSet);
          for await (const batch of calibrationSet.batches(batchSize, signal ? { signal } : {})) {
            throwIfAborted(signal);
            const out = await session.runBatch(batch, calibrationSet, theta);
            path!.alpha(alpha).addCalibration(out[session.outputNames[0]!]!.data as Float32Array, batch.labels!);
            onProgress?.({ phase: 'lmc', done: ++done, total });
          }
        }
        const sums = lossSums();
        for await (const batch of data.batches(batchSize, signal ? { signal } : {})) {
          throwIfAborted(signal);
          const out = await session.runBatch(batch, data, theta);
          const logits = out[session.outputNames[0]!]!.data as Float32Array;
          addBatchLoss(sums, loss, logits, batch.labels!);
          path?.alpha(alpha).addEvaluation(logits, batch.labels!);
          onProgress?.({ phase: 'lmc', done: ++done, total });
        }
        // Fitted now, so the kept logits of this α are dropped before the next α runs.
        path?.alpha(alpha).loss();
        passes.push(sums);
      } finally {
        if (!shared) await session.release();
      }
    }
  } finally {
    await shared?.release();
  }
  return passes;
}

/** The LMC result of the per-α loss sums of a pass over `data` (lmcSums); `tokens` where the labelled positions are not the samples. */
export function lmcOfSums(a: Checkpoint, data: Dataset, alphas: readonly number[], passes: readonly Sums[]): LmcResult {
  const loss = lossSetup(a, data);
  const means = passes.map((sums) => lossMeans(loss, sums));
  return lmcResult([...alphas], means.map((m) => m.loss), means.map((m) => m.accuracy), data.length, passes.length > 0 ? lossCount(passes[0]!) : data.length);
}

/**
 * Loss and accuracy of θ(α) for every α on the dataset, and the three barriers; with
 * `calibrate`, the calibrated curve too (each θ(α) first runs over the calibration set, when
 * one is given, to fit its T).
 */
export async function linearModeConnectivity(a: Checkpoint, b: Checkpoint, data: Dataset, options: LmcOptions = {}): Promise<CalibratedLmcResult> {
  const { alphas, calibrate, calibrationData, repair, repairSamples, repairData, batchSize, signal, onProgress } = resolveOptions('linearModeConnectivity()', LMC_OPTIONS, options);
  const calibrationSet = calibrate ? calibrationData : undefined;
  const path = calibrate ? new PathCalibration(alphas, lossSetup(a, data), calibrationSet ? { source: calibrationSet.source, length: calibrationSet.length } : undefined) : undefined;
  const result = lmcOfSums(a, data, alphas, await lmcSums(a, b, data, options, path));
  const repaired = repair ? await repairedCurve(a, b, data, alphas, { batchSize, repairSamples, ...(repairData ? { repairData } : {}), ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) }) : undefined;
  return { ...result, ...(path ? { calibration: path.result(data.length) } : {}), ...(repaired ? { repair: repaired } : {}) };
}
