/**
 * Linear mode connectivity (SCIENCE.md §1): loss and accuracy along θ(α) and the barriers.
 */
import type { Checkpoint } from '../checkpoint.js';
import { pairCheckpoints } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { interpolateArenas } from '../interpolate.js';
import { alphaGrid, CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import type { CalibrationResult, LmcResult, RepairResult } from '../results.js';
import { repairedCurve } from './repair.js';
import { PathCalibration } from './calibration.js';
import { ModelSession, type ParameterFeed } from '../session.js';
import type { Sums } from '../sums.js';
import { addBatchLoss, lmcResult, lossCount, lossMeans, lossSetup, lossSums } from './loss.js';

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
