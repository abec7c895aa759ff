/**
 * `merge` over files: loads the checkpoints (and the data), merges them (lib/studies/merge.ts),
 * evaluates every model and the merge when the data has labels, and renders the merged model's
 * ONNX and safetensors files (written by the caller through the output gate, together).
 */
import { modelLoss } from '../checks/loss.js';
import { openDataset, type OpenDatasetOptions } from '../dataset/index.js';
import { parameterFiles, type WrittenAlignment } from '../align/output.js';
import { modelOutputs } from '../onnx/external-output.js';
import { loadCheckpoints } from '../load-checkpoints.js';
import { optionDefault } from '../options.js';
import type { DeclaredOutput, OutputFile } from '../outputs.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { checkMergeInputs, mergeModels, type MergeOptions, type MergeResult } from './merge.js';

export interface MergeOutputs {
  /** The merged model as ONNX (the first model's graph). */
  readonly onnx?: string;
  /** The merged parameters under PyTorch state-dict keys. */
  readonly safetensors?: string;
}

export interface MergeRequest {
  /** The checkpoints (ONNX), in order; the merge takes the first one's graph and names. */
  readonly models: readonly string[];
  /** Inputs (and labels) to evaluate every model and the merge on; activation matching runs on them. */
  readonly data?: OpenDatasetOptions;
  readonly outputs: MergeOutputs;
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
  /** With labelled data: each model's and the merge's loss and accuracy. */
  readonly evaluation: { readonly samples: number; readonly models: Evaluation[]; readonly merged: Evaluation } | null;
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
export async function mergeFiles(request: MergeRequest, options: Omit<MergeOptions, keyof RunControl | 'data' | 'spec'>, control: RunControl): Promise<MergeFilesResult & { files: OutputFile[] }> {
  checkMergeInputs(request.models, options.method, options.pad ?? false);
  const [models, data] = await Promise.all([loadCheckpoints(request.models), request.data ? openDataset(request.data) : undefined]);
  const result = await mergeModels(models, { ...options, ...(data ? { data } : {}), ...control });
  const first = models[0]!;
  let evaluation: MergeReport['evaluation'] = null;
  if (data?.labels) {
    const batchSize = options.batchSize ?? optionDefault('batchSize');
    const arenas = [...models.map((m) => m.arena), result.merged];
    const results: Evaluation[] = [];
    for (const [k, arena] of arenas.entries()) {
      throwIfAborted(control.signal);
      results.push(await modelLoss(first, arena, data, { batchSize, signal: control.signal }));
      control.onProgress?.({ phase: 'merge: evaluation', done: k + 1, total: arenas.length });
    }
    evaluation = { samples: data.length, models: results.slice(0, -1), merged: results.at(-1)! };
  }
  const { files, written } = parameterFiles(first, result.merged, request.outputs, {
    source: `llfc merge --method ${result.method}`,
    models: request.models.join(', '),
    match: result.match,
  });
  const report: MergeReport = {
    method: result.method,
    match: result.match,
    seed: options.seed ?? optionDefault('seed'),
    groups: result.spec.groups.map((g) => ({ label: g.label, size: g.size })),
    permutations: result.permutations.map((model) => model.map((p) => Array.from(p))),
    weights: result.weights,
    initialObjective: result.initialObjective,
    objective: result.objective,
    ...(result.rounds ? { rounds: result.rounds, converged: result.converged! } : {}),
    ...(result.levels ? { levels: result.levels } : {}),
    evaluation,
  };
  return { report, written, files };
}
