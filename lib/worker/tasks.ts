/**
 * Work that runs in a worker thread, so the caller's event loop stays free while onnxruntime
 * (whose run() blocks its thread) and the native kernels work. Inputs are files and options,
 * which cross the thread boundary as plain data.
 */
import { loadPair } from '../load-checkpoints.js';
import type { LoadOptions } from '../checkpoint.js';
import { SEGMENTED_PASS_LOAD } from '../checks/pass-models.js';
import { analyzePair, type AnalyzeOptions } from '../checks/analyze.js';
import { linearModeConnectivity, type CalibratedLmcResult, type LmcOptions } from '../checks/lmc.js';
import type { AlignedAnalysis, LayerwiseResult, LmcResult, PairAnalysis } from '../results.js';
import { openDataset, type OpenDatasetOptions } from '../dataset/index.js';
import { checkpointNotes, type CheckpointNotes } from '../folded-batchnorm.js';
import type { RunControl } from '../progress.js';
import { align, type AlignResult, type PlainAlignOptions } from '../align/index.js';
import { alignFilesResult, type AlignFilesResult, type AlignmentOutputs } from '../align/output.js';

export type { AlignFilesResult };
import type { OutputFile } from '../outputs.js';
import { analyzeNaiveAndAligned, type AlignRequest } from '../studies/aligned.js';
import { layerwiseBarriers, type LayerwiseOptions } from '../studies/layerwise.js';
import { repairedModel, type RepairedModel, type RepairOptions } from '../studies/repair.js';
import { modelFiles } from '../onnx/external-output.js';
import { mergeFiles, type MergeFilesOptions, type MergeFilesResult, type MergeRequest } from '../studies/merge-files.js';
import { seriesOfFiles, type SeriesOptions, type SeriesRequest, type SeriesResult } from '../studies/series.js';
import type { ShardedResult } from '../shard/commands.js';
import { reducePartials } from '../shard/reduce.js';
import { shardPass, type ShardPassRequest, type ShardPassResult } from '../shard/run.js';

/** Options without the callbacks, which cannot cross threads. */
type Plain<T> = Omit<T, keyof RunControl>;

export interface PairRequest {
  /** Checkpoint A (α = 0), an ONNX file. */
  readonly a: string;
  /** Checkpoint B (α = 1), an ONNX file. */
  readonly b: string;
  readonly data: OpenDatasetOptions;
}

/** The keys of a request type, listed in one object that the compiler checks is complete. */
const keysOf = <T>(all: { readonly [K in keyof T]-?: true }): readonly (keyof T)[] => Object.keys(all) as (keyof T)[];

/** The keys of a {@link PairRequest}. */
export const PAIR_REQUEST_KEYS = keysOf<PairRequest>({ a: true, b: true, data: true });

/** A pair request whose temperature calibration may be fitted on a separate labelled set. */
export interface CalibratedPairRequest extends PairRequest {
  /** The calibration set (with labels); without it, T is fitted on `data`. */
  readonly calibration?: OpenDatasetOptions;
  /** REPAIR's statistics set (no labels needed); without it, the statistics come from `data`'s first samples. */
  readonly repairSet?: OpenDatasetOptions;
}

/** The keys of a {@link CalibratedPairRequest}. */
export const CALIBRATED_PAIR_REQUEST_KEYS = keysOf<CalibratedPairRequest>({ a: true, b: true, data: true, calibration: true, repairSet: true });

/** The naive analysis, and with an alignment request, the aligned one beside it. */
export interface AnalyzeResult extends CheckpointNotes {
  readonly naive: PairAnalysis;
  readonly aligned?: AlignedAnalysis;
  /** `alsoAlign`: the pair analyzed again with B aligned by each further method. */
  readonly alsoAligned?: AlignedAnalysis[];
}

/** `alignFiles`: align B to A and write the outputs. */
export interface AlignFilesRequest {
  readonly a: string;
  readonly b: string;
  /** The inputs both models run on (activation matching only). */
  readonly data?: OpenDatasetOptions;
  readonly options: Omit<PlainAlignOptions, keyof RunControl>;
  readonly outputs: AlignmentOutputs;
}

/** The keys of an `alignFiles` request (its options come as their own argument). */
export const ALIGN_FILES_REQUEST_KEYS = keysOf<Omit<AlignFilesRequest, 'options'>>({ a: true, b: true, data: true, outputs: true });


/** `interpolate --repair`: the repaired θ(α) of A and B, its statistics from `data`. */
export interface RepairedInterpolationRequest {
  readonly a: string;
  readonly b: string;
  readonly alpha: number;
  readonly data: OpenDatasetOptions;
  readonly output: string;
  readonly options: Plain<Omit<RepairOptions, 'repairData'>>;
}

/** The keys of a `merge` request (its options come as their own argument). */
export const MERGE_REQUEST_KEYS = keysOf<MergeRequest>({ models: true, data: true, repairSet: true, outputs: true });

/** The keys of a `series` request. */
export const SERIES_REQUEST_KEYS = keysOf<SeriesRequest>({ models: true, data: true, manifest: true });

export interface TaskMap {
  /** The files come back to be committed by the caller's thread (lib/api.ts alignFiles), where Ctrl-C is handled. */
  align: { request: AlignFilesRequest; result: AlignFilesResult & { readonly files: readonly OutputFile[] } };
  lmc: { request: CalibratedPairRequest & { options?: Plain<Omit<LmcOptions, 'calibrationData' | 'repairData'>> }; result: CalibratedLmcResult & CheckpointNotes };
  analyze: { request: CalibratedPairRequest & { options?: Plain<Omit<AnalyzeOptions, 'calibrationData' | 'repairData'>>; align?: AlignRequest }; result: AnalyzeResult };
  layerwise: { request: PairRequest & { options?: Plain<LayerwiseOptions> }; result: LayerwiseResult & CheckpointNotes };
  /** As `align`: the merged model's files come back to be committed by the caller. */
  merge: { request: MergeRequest & { options: Plain<MergeFilesOptions> }; result: MergeFilesResult & { readonly files: readonly OutputFile[] } };
  series: { request: SeriesRequest & { options?: Plain<SeriesOptions> }; result: SeriesResult };
  /** As `align`: the repaired model's files come back to be committed by the caller. */
  repairedInterpolation: { request: RepairedInterpolationRequest; result: Omit<RepairedModel, 'model'> & CheckpointNotes & { readonly files: readonly OutputFile[] } };
  /** One shard's pass of a sharded run (lib/shard/run.ts). */
  shard: { request: ShardPassRequest; result: ShardPassResult };
  /** The reduction of a sharded run's partial files (lib/shard/reduce.ts). */
  reduce: { request: { readonly files: readonly string[]; readonly alignment?: AlignmentOutputs }; result: ShardedResult };
}

export type TaskName = keyof TaskMap;

/**
 * Loads and aligns a pair, returning what rendering the outputs needs: A's and B's arenas are
 * let go here, so the outputs are rendered holding the aligned B alone.
 */
async function alignPair(request: AlignFilesRequest, control: RunControl): Promise<{ result: AlignResult; reference: { file: string }; notes: CheckpointNotes }> {
  const [[a, b], data] = await Promise.all([loadPair(request.a, request.b), request.data ? openDataset(request.data) : undefined]);
  // B is not used after: its arena becomes the aligned B's (no third arena).
  const result = await align(a, b, { ...request.options, ...(data ? { data } : {}), ...control, consumeB: true });
  return { result, reference: { file: a.file }, notes: checkpointNotes(a) };
}

async function openPair(request: PairRequest, load: LoadOptions = {}) {
  return Promise.all([loadPair(request.a, request.b, load), openDataset(request.data)]).then(([[a, b], data]) => [a, b, data] as const);
}

/** The calibration set and REPAIR's statistics set of a request as options ({} without them). */
async function calibrationOption(request: CalibratedPairRequest) {
  return {
    ...(request.calibration ? { calibrationData: await openDataset(request.calibration) } : {}),
    ...(request.repairSet ? { repairData: await openDataset(request.repairSet) } : {}),
  };
}

/** The implementations, run inside the worker (or inline, see runTask). */
export const tasks: { [K in TaskName]: (request: TaskMap[K]['request'], control: RunControl) => Promise<TaskMap[K]['result']> } = {
  async align(request, control) {
    const { result, reference, notes } = await alignPair(request, control);
    return alignFilesResult(reference, notes, result, request.outputs);
  },
  async lmc(request, control) {
    const [a, b, data] = await openPair(request);
    return { ...(await linearModeConnectivity(a, b, data, { ...request.options, ...(await calibrationOption(request)), ...control })), ...checkpointNotes(a) };
  },
  async layerwise(request, control) {
    const [a, b, data] = await openPair(request);
    return { ...(await layerwiseBarriers(a, b, data, { ...request.options, ...control })), ...checkpointNotes(a) };
  },
  async analyze(request, control) {
    const [a, b, data] = await openPair(request, SEGMENTED_PASS_LOAD);
    const options = { ...request.options, ...(await calibrationOption(request)), ...control };
    if (!request.align) return { naive: await analyzePair(a, b, data, options), ...checkpointNotes(a) };
    return { ...(await analyzeNaiveAndAligned(a, b, data, request.align, options)), ...checkpointNotes(a) };
  },
  async repairedInterpolation(request, control) {
    const [a, b, data] = await openPair(request);
    const { model, ...repaired } = await repairedModel(a, b, request.alpha, data, { ...request.options, ...control });
    return { ...repaired, ...checkpointNotes(a), files: modelFiles(model, request.output, a.externalData) };
  },
  async merge({ options, ...request }, control) {
    return mergeFiles(request, options, control);
  },
  async series({ options, ...request }, control) {
    return seriesOfFiles(request, { ...options, ...control });
  },
  shard: (request, control) => shardPass(request, control),
  reduce: (request) => reducePartials(request.files, request.alignment),
};
