/**
 * The loss and accuracy of logits against labels (SCIENCE.md §1, §7: tokens as samples for
 * N×T labels), summed per pass, and the barriers of a curve of them: what LMC, calibration,
 * REPAIR, layer-wise barriers, merging and series all measure.
 */
import type { Checkpoint } from '../checkpoint.js';
import { checkLabels, type Batch, type Dataset } from '../dataset/index.js';
import { InvalidArgumentError, LabelError, ShapeMismatchError } from '../errors.js';
import { native } from '../native.js';
import type { LmcResult } from '../results.js';
import { ModelSession } from '../session.js';
import { throwIfAborted } from '../progress.js';
import { Sums } from '../sums.js';

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

/**
 * One pass of a session over `batches` of the data: the mean loss and accuracy of the parameters
 * it runs with (`theta`, fed when the session takes them as inputs).
 */
export async function passLoss(
  session: ModelSession,
  data: Dataset,
  batches: AsyncIterable<Batch>,
  setup: LossSetup,
  theta: Float32Array,
  control: { signal?: AbortSignal | undefined; onBatch?: () => void },
): Promise<{ loss: number; accuracy: number }> {
  session.checkData(data);
  const sums = lossSums();
  for await (const batch of batches) {
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
    return await passLoss(session, data, data.batches(control.batchSize, control.signal ? { signal: control.signal } : {}), setup, arena, control);
  } finally {
    await session.release();
  }
}
