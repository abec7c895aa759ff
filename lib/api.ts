/**
 * The high-level API: each function takes files and options, runs in a worker thread (the
 * caller's event loop keeps running), reports progress and stops on an AbortSignal.
 * The in-process building blocks (loadCheckpoint, openDataset, linearModeConnectivity,
 * analyzePair) are exported too, for callers who hold checkpoints and datasets in memory.
 */
import { datasetFiles, type OpenDatasetOptions } from './dataset/index.js';
import { REPAIR_OPTIONS, type RepairedModel, type RepairOptions } from './studies/repair.js';
import { loadPair } from './load-checkpoints.js';
import { ANALYZE_OPTIONS, type AnalyzeOptions } from './checks/analyze.js';
import { LMC_OPTIONS, type CalibratedLmcResult, type LmcOptions } from './checks/lmc.js';
import type { LayerwiseResult, LmcResult, PairAnalysis } from './results.js';
import { LAYERWISE_OPTIONS, type LayerwiseOptions } from './studies/layerwise.js';
import { checkpointNotes, type CheckpointNotes } from './folded-batchnorm.js';
import { interpolatedModelOverB } from './interpolate.js';
import { externalDataFiles, modelFiles, modelOutputs } from './onnx/external-output.js';
import { checkKnownKeys, checkOption, resolveOptions } from './options.js';
import { checkOutputs, commitOutputs, type OutputFile, type OutputPlan } from './outputs.js';
import type { RunControl } from './progress.js';
import { runTask } from './worker/host.js';
import { PLAIN_ALIGN_OPTIONS, type PlainAlignOptions } from './align/index.js';
import { alignmentOutputs, type AlignFilesResult, type AlignmentOutputs } from './align/output.js';
import { ALIGN_REQUEST_OPTIONS, type AlignRequest } from './studies/aligned.js';
import {
  ALIGN_FILES_REQUEST_KEYS,
  CALIBRATED_PAIR_REQUEST_KEYS,
  MERGE_REQUEST_KEYS,
  PAIR_REQUEST_KEYS,
  SERIES_REQUEST_KEYS,
  type AlignFilesRequest,
  type AnalyzeResult,
  type CalibratedPairRequest,
  type PairRequest,
} from './worker/tasks.js';
import { checkMergeInputs } from './studies/merge.js';
import { checkMergeRepair, MERGE_FILES_OPTIONS, mergeOutputs, type MergeFilesOptions, type MergeFilesResult, type MergeRequest } from './studies/merge-files.js';
import { SERIES_OPTIONS, type SeriesOptions, type SeriesRequest, type SeriesResult } from './studies/series.js';
import { buildReport, reportJson, type Report } from './report/json.js';
import { renderReportOutputs, reportOutputs, type ReportOutputFlags, type WrittenOutputs } from './report/write.js';
import type { ShardedResult } from './shard/commands.js';
import { readPartial } from './shard/partial.js';
import { resolve } from 'node:path';
import { InvalidArgumentError } from './errors.js';
import { runShard, SHARD_REQUEST_KEYS, type ShardOutcome, type ShardRequest } from './shard/run.js';

export type { AlignFilesRequest, AlignFilesResult, AnalyzeResult, CalibratedPairRequest, PairRequest } from './worker/tasks.js';
export type { AlignRequest } from './studies/aligned.js';

/** The options of lmc() and analyze(): a calibration set and REPAIR's statistics set come in the request, as files, not as opened datasets. */
const { calibrationData: _lmcSet, repairData: _lmcRepairSet, ...LMC_FILE_OPTIONS } = LMC_OPTIONS;
const { calibrationData: _analyzeSet, repairData: _analyzeRepairSet, ...ANALYZE_FILE_OPTIONS } = ANALYZE_OPTIONS;

/** Linear mode connectivity of two ONNX files on a dataset (SCIENCE.md §1); with `calibrate`, the temperature-calibrated curve too (§6), fitted on `request.calibration` when given; with `repair`, the curve after REPAIR (§6), its statistics from `request.repairSet` when given. */
export async function lmc(request: CalibratedPairRequest, options: Omit<LmcOptions, 'calibrationData' | 'repairData'> = {}): Promise<CalibratedLmcResult & CheckpointNotes> {
  checkKnownKeys('lmc() request', request, CALIBRATED_PAIR_REQUEST_KEYS);
  const { signal, onProgress, ...plain } = resolveOptions('lmc()', LMC_FILE_OPTIONS, options);
  return runTask('lmc', { ...request, options: plain }, control(signal, onProgress));
}

/** LMC plus LLFC, weak additivity and commutativity per layer (SCIENCE.md §1–4); with `calibrate`, T is fitted on `request.calibration` when given. */
export async function analyze(request: CalibratedPairRequest, options: Omit<AnalyzeOptions, 'calibrationData' | 'repairData'> = {}): Promise<PairAnalysis & CheckpointNotes> {
  checkKnownKeys('analyze() request', request, CALIBRATED_PAIR_REQUEST_KEYS);
  const { signal, onProgress, ...plain } = resolveOptions('analyze()', ANALYZE_FILE_OPTIONS, options);
  const { naive, foldedBatchNorm } = await runTask('analyze', { ...request, options: plain }, control(signal, onProgress));
  return { ...naive, ...(foldedBatchNorm ? { foldedBatchNorm } : {}) };
}

/**
 * Layer-wise and cumulative barriers (SCIENCE.md §6, Adilova et al. 2024): per layer (or module
 * prefix) and base model, the barrier of the model with that group at α = ½ and the rest from
 * the base; and as groups are added shallow → deep, deep → shallow and in seeded random orders.
 */
export async function layerwise(request: PairRequest, options: LayerwiseOptions = {}): Promise<LayerwiseResult & CheckpointNotes> {
  checkKnownKeys('layerwise() request', request, PAIR_REQUEST_KEYS);
  const { signal, onProgress, ...plain } = resolveOptions('layerwise()', LAYERWISE_OPTIONS, options);
  return runTask('layerwise', { ...request, options: plain }, control(signal, onProgress));
}

/**
 * Aligns B to A by permutation (SCIENCE.md §5; weight or activation matching), then analyzes
 * the naive pair and the aligned pair (A with the permuted B) with the same options.
 */
export async function analyzeAligned(request: CalibratedPairRequest, alignment: AlignRequest, options: Omit<AnalyzeOptions, 'calibrationData' | 'repairData'> = {}): Promise<AnalyzeResult> {
  checkKnownKeys('analyzeAligned() request', request, CALIBRATED_PAIR_REQUEST_KEYS);
  const align = resolveOptions('analyzeAligned() alignment', ALIGN_REQUEST_OPTIONS, alignment);
  const { signal, onProgress, ...plain } = resolveOptions('analyzeAligned()', ANALYZE_FILE_OPTIONS, options);
  return runTask('analyze', { ...request, options: plain, align }, control(signal, onProgress));
}

/**
 * Aligns B to A by permutation (weight or activation matching over the inferred spec) and
 * writes the aligned ONNX, the permutations JSON and/or the safetensors the outputs name.
 * Activation matching reads `request.data`. The outputs are checked before any work (never
 * A, B or the data; see lib/outputs.ts) and written together at the end.
 */
export async function alignFiles(request: Omit<AlignFilesRequest, 'options'>, options: PlainAlignOptions): Promise<AlignFilesResult> {
  checkKnownKeys('alignFiles() request', request, ALIGN_FILES_REQUEST_KEYS);
  const { signal, onProgress, ...plain } = resolveOptions('alignFiles()', PLAIN_ALIGN_OPTIONS, options);
  if (plain.symmetry !== 'orthogonal' && (request.outputs.orthogonal !== undefined || request.outputs.orthogonalNpy !== undefined)) {
    throw new InvalidArgumentError("outputs.orthogonal and outputs.orthogonalNpy are written with symmetry 'orthogonal'");
  }
  const [dataA, dataB] = await Promise.all([externalDataFiles(request.a), externalDataFiles(request.b)]);
  const inputs = [request.a, request.b, ...dataA, ...dataB, ...(request.data ? datasetFiles(request.data) : [])];
  const outputs = await checkOutputs(alignmentOutputs(request.outputs, dataB.length > 0), inputs);
  const { files, ...result } = await runTask('align', { ...request, options: plain }, control(signal, onProgress));
  await commitOutputs(outputs, files, signal ? { signal } : {});
  return result;
}

/**
 * Merges N ONNX checkpoints of one architecture into one (SCIENCE.md §6: the mean, MergeMany or
 * the binary tree; weight or activation matching), with `repair` repairs the merge (its
 * statistics from `request.repairSet` when given, else from `request.data`), evaluates every
 * model and the merge (before and after REPAIR) when the data has labels, and writes the merged
 * (repaired) ONNX and safetensors the outputs name, together. The outputs are checked before any
 * work (never an input).
 */
export async function merge(request: MergeRequest, options: MergeFilesOptions): Promise<MergeFilesResult> {
  checkKnownKeys('merge() request', request, MERGE_REQUEST_KEYS);
  const { signal, onProgress, ...plain } = resolveOptions('merge()', MERGE_FILES_OPTIONS, options);
  checkMergeInputs(request.models, plain.method, plain.pad);
  checkMergeRepair(request, plain.repair);
  const external = await Promise.all(request.models.map((m) => externalDataFiles(m)));
  const inputs = [...request.models, ...external.flat(), ...(request.data ? datasetFiles(request.data) : []), ...(request.repairSet ? datasetFiles(request.repairSet) : [])];
  const outputs = await checkOutputs(mergeOutputs(request.outputs, external[0]!.length > 0), inputs);
  const { files, ...result } = await runTask('merge', { ...request, options: plain }, control(signal, onProgress));
  await commitOutputs(outputs, files, signal ? { signal } : {});
  return result;
}

/** The pairwise barrier matrix of N checkpoints and the instability curve of spawned children (SCIENCE.md §6). */
export async function series(request: SeriesRequest, options: SeriesOptions = {}): Promise<SeriesResult> {
  checkKnownKeys('series() request', request, SERIES_REQUEST_KEYS);
  const { signal, onProgress, ...plain } = resolveOptions('series()', SERIES_OPTIONS, options);
  return runTask('series', { ...request, options: plain }, control(signal, onProgress));
}

/**
 * One shard of a sharded `lmc`, `analyze` or activation-matching run (SCIENCE.md §8): its share
 * of the data (lib/shard/range.ts) in one pass, written as a partial file to `request.out`, or
 * kept when `out` already holds this shard's partial of the same run. `llfc reduce` (reduce())
 * adds the partials of every shard into the single run's report.
 */
export async function shard(request: ShardRequest, control: RunControl = {}): Promise<ShardOutcome> {
  checkKnownKeys('shard() request', request, SHARD_REQUEST_KEYS);
  return runShard(request, (pass) => runTask('shard', pass, control));
}

/** Where `reduce` writes: the report of `lmc`/`analyze` partials, or the alignment of activation-matching partials. */
export interface ReduceOutputs extends ReportOutputFlags {
  /** The JSON report. */
  readonly out?: string;
  /** The aligned B, its permutations and parameters (partials of `align --method activation`). */
  readonly aligned?: AlignmentOutputs;
}

/** What `reduce` gives: the report and its result, or the alignment. */
export type ReduceResult =
  | (Exclude<ShardedResult, { command: 'align' }> & { readonly report: Report; readonly written: WrittenOutputs })
  | Omit<Extract<ShardedResult, { command: 'align' }>, 'files'>;

/**
 * Reduces the partial files of every shard of one run into what the single run writes: the
 * report of `lmc` and `analyze` (JSON at `outputs.out`, HTML at `outputs.html`, charts in
 * `outputs.plots`), or the alignment of activation matching (`outputs.aligned`). Refuses
 * partials of different runs, missing or repeated shards, other format versions and damaged
 * files (PartialError naming them).
 */
export async function reduce(files: readonly string[], outputs: ReduceOutputs = {}, control: RunControl = {}): Promise<ReduceResult> {
  if (files.length === 0) throw new InvalidArgumentError('reduce: give the partial files of every shard');
  const { run, cwd } = await readPartial(files[0]!);
  const commit = (plan: OutputPlan, written: readonly OutputFile[]) => commitOutputs(plan, written, control.signal ? { signal: control.signal } : {});
  if (run.command === 'align') {
    const given = (['out', 'html', 'plots'] as const).filter((k) => outputs[k] !== undefined);
    if (given.length > 0 || !outputs.aligned) throw new InvalidArgumentError(`${files[0]}: partials of activation matching reduce to an alignment: give the aligned model's files (-o, --perm-out, --safetensors)${given.length > 0 ? `, not ${given.map((k) => `--${k}`).join(', ')}` : ''}`);
    const external = (await externalDataFiles(resolve(cwd, run.b))).length > 0;
    const plan = await checkOutputs(alignmentOutputs(outputs.aligned, external), files);
    const result = await runTask('reduce', { files, alignment: outputs.aligned }, control);
    if (result.command !== 'align') throw new InvalidArgumentError(`${files[0]}: not an alignment's partial`);
    const { files: aligned, ...rest } = result;
    await commit(plan, aligned);
    return rest;
  }
  if (outputs.aligned) throw new InvalidArgumentError(`${files[0]}: partials of ${run.command} reduce to a report (--out, --html), not an aligned model`);
  const plan = await checkOutputs([...(outputs.out !== undefined ? [{ path: outputs.out, label: '--out' }] : []), ...reportOutputs(outputs)], files);
  const result = await runTask('reduce', { files }, control);
  if (result.command === 'align') throw new InvalidArgumentError(`${files[0]}: an alignment's partial`);
  const report = buildReport(result.fields);
  const { files: rendered, written } = await renderReportOutputs(report, outputs);
  await commit(plan, [...(outputs.out !== undefined ? [{ path: outputs.out, content: reportJson(report) }] : []), ...rendered]);
  return { ...result, report, written };
}

function control(signal: AbortSignal | undefined, onProgress: RunControl['onProgress']): RunControl {
  return { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
}

/**
 * Writes θ(α) of two ONNX files as a new ONNX file (A's graph and initializer names); the
 * output is checked by the output gate before anything is read (never A or B). Fast (one pass over the parameters), so it runs inline.
 */
export async function interpolate(a: string, b: string, alpha: number, output: string): Promise<{ perUse: boolean } & CheckpointNotes> {
  checkOption('alpha', alpha);
  const [dataA, dataB] = await Promise.all([externalDataFiles(a), externalDataFiles(b)]);
  const outputs = await checkOutputs(modelOutputs(output, undefined, dataA.length > 0), [a, b, ...dataA, ...dataB]);
  const [ca, cb] = await loadPair(a, b);
  const { model, perUse } = interpolatedModelOverB(ca, cb, alpha);
  await commitOutputs(outputs, modelFiles(model, output, ca.externalData));
  return { perUse, ...checkpointNotes(ca) };
}

/** The options of interpolateRepaired(): the statistics set is the request's data. */
const { repairData: _statistics, ...REPAIRED_INTERPOLATION_OPTIONS } = REPAIR_OPTIONS;

/**
 * Writes the repaired θ(α) of two ONNX files (SCIENCE.md §6, REPAIR; statistics from the first
 * `repairSamples` of `data`) as a new ONNX file: A's graph, with a bias added where a hidden
 * layer had none. The output is checked before any work (never A, B or the data) and written at
 * the end; runs in a worker, with progress and cancellation.
 */
export async function interpolateRepaired(
  request: { readonly a: string; readonly b: string; readonly alpha: number; readonly data: OpenDatasetOptions; readonly output: string },
  options: Omit<RepairOptions, 'repairData'> = {},
): Promise<Omit<RepairedModel, 'model'> & CheckpointNotes> {
  checkKnownKeys('interpolateRepaired() request', request, ['a', 'b', 'alpha', 'data', 'output']);
  checkOption('alpha', request.alpha);
  const { signal, onProgress, ...plain } = resolveOptions('interpolateRepaired()', REPAIRED_INTERPOLATION_OPTIONS, options);
  const [dataA, dataB] = await Promise.all([externalDataFiles(request.a), externalDataFiles(request.b)]);
  const outputs = await checkOutputs(modelOutputs(request.output, undefined, dataA.length > 0), [request.a, request.b, ...dataA, ...dataB, ...datasetFiles(request.data)]);
  const { files, ...result } = await runTask('repairedInterpolation', { ...request, options: plain }, control(signal, onProgress));
  await commitOutputs(outputs, files, signal ? { signal } : {});
  return result;
}
