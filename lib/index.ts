/** llfc: the public API. */
export * from './errors.js';
export { lmc, analyze, analyzeAligned, alignFiles, interpolate, interpolateRepaired, layerwise, type PairRequest, type CalibratedPairRequest, type AlignRequest, type AnalyzeResult, type AlignFilesRequest, type AlignFilesResult } from './api.js';
export type { ProgressEvent, ProgressListener, RunControl } from './progress.js';
export { foldedBatchNorm, type FoldedBatchNorm, type CheckpointNotes } from './folded-batchnorm.js';
export { loadCheckpoints, loadPair, restoreDroppedBiases } from './load-checkpoints.js';
export { loadCheckpoint, pairCheckpoints, withParameters, type Checkpoint, type LoadOptions, type Parameter, type ValueSpec, type NodeSignature, type InputSignature } from './checkpoint.js';
export { openDataset, checkLabels } from './dataset/index.js';
export type { Batch, BatchOptions, Dataset, DataFormat, NamedInput, Normalization, OpenDatasetOptions, TokenDTypeName } from './dataset/index.js';
export { interpolateArenas, interpolatedModel, modelOfArena, type InterpolationMask } from './interpolate.js';
export { checkAlphas, invalidArgument, optionDefault, OPTIONS, type OptionKind, type OptionRule, type DefaultedOptionKind } from './options.js';
export { ModelSession, type ModelSessionOptions, type ParameterFeed, type RunParameters, type RunOutputs, type FloatTensor } from './session.js';
export { OutputBuffers } from './runner.js';
export {
  linearModeConnectivity,
  alphaGrid,
  type LmcOptions,
  type CalibratedLmcResult,
} from './checks/lmc.js';
export { lossBarrier, midpointLossBarrier, accuracyBarrier } from './checks/loss.js';
export { analyzePair, DEFAULT_LAYER_ALPHAS, type AnalyzeOptions } from './checks/analyze.js';
export { analyzeNaiveAndAligned, type NaiveAndAligned } from './studies/aligned.js';
export { Repair, repairCheckpoints, repairEndpoints, repairLayers, repairedModel, keepsBatchNorm, REPAIR_EPSILON, type RepairedModel, type RepairOptions, type FoldTarget, type BatchNormTarget, type RepairPair, type RepairEndpoints, type RepairLayer, type RepairStatistics, type StatisticsSet } from './studies/repair.js';
export { repairedCurve } from './checks/repair.js';
export { layerwiseBarriers, layerwiseGroups, cumulativeOrders, type LayerwiseOptions, type LayerwiseParameterGroup } from './studies/layerwise.js';
export { merge, series } from './api.js';
export { mergeModels, type MergeOptions, type MergeResult, type MergeMethod, type MergeMatch, type MergeRound } from './studies/merge.js';
export type { MergeRequest, MergeOutputs, MergeReport, MergeRepairReport, MergeFilesOptions, MergeFilesResult, Evaluation } from './studies/merge-files.js';
export { repairedMerge, type RepairedMerge } from './studies/merge-repair.js';
export { checkpointSeries, splitStepFromName, splitStepsFromManifest, type SeriesOptions, type SeriesRequest, type SeriesResult, type InstabilityPoint } from './studies/series.js';
export { CHECKS, CHECK_OPTIONS, type CheckSwitches, type CheckSwitchName } from './checks/registry.js';
export type { CheckDefinition, PairCheck, PairSetup, PairBatch, CheckNeeds, CheckResult, LayerColumns, HtmlPart } from './checks/check.js';
export type { Chart } from './present/charts.js';
export type { ReportSections } from './present/sections.js';
export { linearDepths } from './checks/lewc.js';
export { selectLayers, linearLayers, type LayerSpec, type LinearLayerSpec } from './checks/layers.js';
export type { LmcResult, LmcBarriers, LewcPoint, LewcReport, LlfcPoint, WeakAdditivityPoint, LayerKind, LayerReport, CommutativityReport, PairAnalysis, SpecSummary, SymmetryKind, AlignedAnalysis, OrthogonalSummary, LayerwisePoint, LayerwiseGroup, LayerwiseLayer, LayerwiseOrder, CumulativeCurve, LayerwiseResult, CalibrationResult, RepairResult } from './results.js';
export { alignmentName } from './results.js';
export { buildReport, reportJson, writeReport, REPORT_SCHEMA_VERSION, type Report, type ReportSettings } from './report/json.js';
export { modulePath } from './onnx/names.js';
export { readModel, writeModel, type OnnxModel } from './onnx/model.js';
export { resolveExternalData, type ExternalLocation, type ExternalBytes } from './onnx/external-data.js';
export { checkOutputs, commitOutputs, writeOutputs, writeFileAtomic, type DeclaredOutput, type OutputPlan, type OutputFile } from './outputs.js';
// ---- permutation alignment (lib/align/)
export {
  align,
  activationMatching,
  weightMatching,
  inferSpec,
  checkSameSpec,
  describeAction,
  BoundSpec,
  type GroupAction,
  permuteArena,
  permutedModel,
  randomPermutations,
  identityPermutations,
  inversePermutation,
  checkPermutations,
  permutationsToJson,
  permutationsFromJson,
  torchStateDict,
  encodeSafetensors,
  decodeSafetensors,
  type AlignMethod,
  type AlignSymmetry,
  type StreamMap,
  type StreamNorm,
  type OrthogonalAlignment,
  orthogonalAlignment,
  streamCrossOfActivations,
  streamNorms,
  streamGroups,
  type AlignOptions,
  type PlainAlignOptions,
  type AlignResult,
  type ActivationMatchingOptions,
  type ActivationMatchingResult,
  type CorrelationForm,
  type WeightMatchingOptions,
  type WeightMatchingResult,
  type PermutationSpec,
  type PermutationGroup,
  type ParameterAction,
  type AxisAction,
  type ValueAction,
  type FixedChannels,
  type TrivialGroup,
  type ExpertParameter,
  type SpecOptions,
  type PermutedModel,
  type PermutationsFile,
  type TorchStateDict,
  type TorchTensor,
  type SafetensorsTensor,
  type SafetensorsFile,
} from './align/index.js';
export { writeAlignment, alignmentFiles, alignmentOutputs, alignmentJson, type AlignmentOutputs, type WrittenAlignment } from './align/output.js';
// ---- end permutation alignment
// ---- sharded runs (lib/shard/, SCIENCE.md §8)
export { shard, reduce, type ReduceOutputs, type ReduceResult } from './api.js';
export { Sums, type NamedSums } from './sums.js';
export type { ShardRequest, ShardOutcome } from './shard/run.js';
export { parseShard, shardSamples, SLURM_INDEX, SLURM_COUNT, type Shard } from './shard/range.js';
export { PARTIAL_FORMAT, PARTIAL_VERSION, type PartialShard, type ShardedCommand } from './shard/partial.js';
export type { ShardedResult } from './shard/commands.js';
export type { ReportFields } from './report/fields.js';
// ---- end sharded runs
export { version } from './version.js';
export { linearSumAssignment, linearSumAssignmentAsync, type LinearSumAssignmentOptions, type LinearSumAssignmentResult, type LinearSumAssignmentStats, type Cost } from './lap.js';
export {
  renderHtmlReport,
  writeHtmlReport,
  writePlots,
  writeReportOutputs,
  renderReportOutputs,
  reportOutputs,
  plotFiles,
  checkReportOutputs,
  describeOutputs,
  type ReportOutputFlags,
  type ReportPages,
  type WrittenOutputs,
} from './report/write.js';
