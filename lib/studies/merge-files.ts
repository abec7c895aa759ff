/**
 * `merge` over files: loads the checkpoints (and the data), merges them (lib/studies/merge.ts),
 * with `repair` repairs the merge (lib/studies/merge-repair.ts), evaluates every model and the
 * merge (before and after REPAIR) when the data has labels, and renders the merged model's ONNX
 * and safetensors files, the repaired one with `repair` (written by the caller through the
 * output gate, together).
 */
import type { Checkpoint } from '../checkpoint.js';
import { modelLoss } from '../checks/loss.js';
import { openDataset, type OpenDatasetOptions } from '../dataset/index.js';
import { parameterFiles, type WrittenAlignment } from '../align/output.js';
import { modelOutputs } from '../onnx/external-output.js';
import { loadCheckpoints } from '../load-checkpoints.js';
import { InvalidArgumentError } from '../errors.js';
import { optionDefault, type OptionSchema } from '../options.js';
import type { DeclaredOutput, OutputFile } from '../outputs.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { checkMergeInputs, mergeModels, PLAIN_MERGE_OPTIONS, type MergeOptions, type MergeResult } from './merge.js';
import { repairedMerge } from './merge-repair.js';
import { REPAIR_EPSILON, type RepairStatistics } from './repair.js';

export interface MergeOutputs {
  /** The merged model as ONNX (the first model's graph). */
  readonly onnx?: string;
  /** The merged parameters under PyTorch state-dict keys. */
  readonly safetensors?: string;
}

export interface MergeRequest {
  /** The checkpoints (ONNX), in order; the merge takes the first one's graph and names. */
  readonly models: readonly string[];
  /** Inputs (and labels) to evaluate every model and the merge on; activation matching and REPAIR's statistics run on them. */
  readonly data?: OpenDatasetOptions;
  /** REPAIR's statistics set (no labels needed); without it, the statistics come from `data`'s first samples. */
  readonly repairSet?: OpenDatasetOptions;
  readonly outputs: MergeOutputs;
}

/** The options of a merge of files: the merge's, and REPAIR of the result. */
export interface MergeFilesOptions extends Omit<MergeOptions, 'data' | 'spec'> {
  /** Repair the merged model (default false): needs `data` or `repairSet`. */
  readonly repair?: boolean;
  /** Samples of the statistics set REPAIR measures on (default 2000; the first ones). */
  readonly repairSamples?: number;
}

/** The option kinds of a merge of files (defaults and validation: lib/options.ts). */
export const MERGE_FILES_OPTIONS = { ...PLAIN_MERGE_OPTIONS, repair: 'repair', repairSamples: 'repairSamples' } as const satisfies OptionSchema<MergeFilesOptions>;

/** The check every merge with REPAIR makes before any work: somewhere to measure the statistics. */
export function checkMergeRepair(request: Pick<MergeRequest, 'data' | 'repairSet'>, repair: boolean): void {
  if (repair && !request.data && !request.repairSet) throw new InvalidArgumentError('REPAIR of the merge (repair) measures statistics on data: give the data (--data) or a statistics set (--repair-data)');
}

/** A model's or the merge's loss and accuracy on the data. */
export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
}

/** What `merge` reports (JSON-ready: permutations as arrays, the spec as its groups). */
export interface MergeReport extends Pick<MergeResult, 'method' | 'match' | 'weights' | 'initialObjective' | 'objective' | 'rounds' | 'converged' | 'levels'> {
  readonly seed: number;
  readonly groups: { readonly label: string; readonly size: number }[];
  /** Per model, per group: unit i of the merge is unit permutations[m][g][i] of model m. */
  readonly permutations: number[][][];
  /** With labelled data: each model's and the merge's loss and accuracy (the merge's before REPAIR). */
  readonly evaluation: { readonly samples: number; readonly models: Evaluation[]; readonly merged: Evaluation } | null;
  /** With `repair`: how the merge was repaired, and with labelled data the repaired merge's loss and accuracy. */
  readonly repair?: MergeRepairReport;
}

/** REPAIR of the merge as reported: the form, the layers, which set the statistics came from, and the repaired merge's evaluation. */
export interface MergeRepairReport extends RepairStatistics {
  readonly form: 'fold' | 'batchnorm';
  readonly epsilon: number;
  readonly layers: string[];
  /** The repaired merge's loss and accuracy on the evaluation data (null without labels). */
  readonly merged: Evaluation | null;
}

export interface MergeFilesResult {
  readonly report: MergeReport;
  readonly written: WrittenAlignment;
}

/** The outputs as the output gate takes them. */
export function mergeOutputs(outputs: MergeOutputs, externalData: boolean): DeclaredOutput[] {
  return [...(outputs.onnx !== undefined ? modelOutputs(outputs.onnx, 'outputs.onnx', externalData) : []), ...(outputs.safetensors !== undefined ? [{ path: outputs.safetensors, label: 'outputs.safetensors' }] : [])];
}

/** Runs a merge of files (in the worker): the report and the rendered output files. */
export async function mergeFiles(request: MergeRequest, options: Omit<MergeFilesOptions, keyof RunControl>, control: RunControl): Promise<MergeFilesResult & { files: OutputFile[] }> {
  const { repair = false, repairSamples, ...mergeOptions } = options;
  checkMergeInputs(request.models, mergeOptions.method, mergeOptions.pad ?? false);
  checkMergeRepair(request, repair);
  const [models, data, repairData] = await Promise.all([
    loadCheckpoints(request.models),
    request.data ? openDataset(request.data) : undefined,
    request.repairSet ? openDataset(request.repairSet) : undefined,
  ]);
  const result = await mergeModels(models, { ...mergeOptions, ...(data ? { data } : {}), ...control });
  const batchSize = mergeOptions.batchSize ?? optionDefault('batchSize');
  const repaired = repair
    ? await repairedMerge(models, result, (data ?? repairData)!, {
        batchSize,
        ...(repairSamples !== undefined ? { repairSamples } : {}),
        ...(repairData ? { repairData } : {}),
        ...control,
      })
    : undefined;
  const first = models[0]!;
  let evaluation: MergeReport['evaluation'] = null;
  let repairedEvaluation: Evaluation | null = null;
  if (data?.labels) {
    const runs: [Checkpoint, Float32Array][] = [...models.map((m): [Checkpoint, Float32Array] => [first, m.arena]), [first, result.merged], ...(repaired ? [[repaired.graph, repaired.arena] as [Checkpoint, Float32Array]] : [])];
    const results: Evaluation[] = [];
    for (const [k, [graph, arena]] of runs.entries()) {
      throwIfAborted(control.signal);
      results.push(await modelLoss(graph, arena, data, { batchSize, signal: control.signal }));
      control.onProgress?.({ phase: 'merge: evaluation', done: k + 1, total: runs.length });
    }
    evaluation = { samples: data.length, models: results.slice(0, models.length), merged: results[models.length]! };
    if (repaired) repairedEvaluation = results[models.length + 1]!;
  }
  const { files, written } = parameterFiles(repaired?.graph ?? first, repaired?.arena ?? result.merged, request.outputs, {
    source: `llfc merge --method ${result.method}${repaired ? ' --repair' : ''}`,
    models: request.models.join(', '),
    match: result.match,
  });
  const report: MergeReport = {
    method: result.method,
    match: result.match,
    seed: mergeOptions.seed ?? optionDefault('seed'),
    groups: result.spec.groups.map((g) => ({ label: g.label, size: g.size })),
    permutations: result.permutations.map((model) => model.map((p) => Array.from(p))),
    weights: result.weights,
    initialObjective: result.initialObjective,
    objective: result.objective,
    ...(result.rounds ? { rounds: result.rounds, converged: result.converged! } : {}),
    ...(result.levels ? { levels: result.levels } : {}),
    evaluation,
    ...(repaired ? { repair: { form: repaired.form, ...repaired.statistics, epsilon: REPAIR_EPSILON, layers: repaired.layers, merged: repairedEvaluation } } : {}),
  };
  return { report, written, files };
}
