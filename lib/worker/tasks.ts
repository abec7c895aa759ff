/**
 * Work that runs in a worker thread, so the caller's event loop stays free while onnxruntime
 * (whose run() blocks its thread) and the native kernels work. Inputs are files and options,
 * which cross the thread boundary as plain data.
 */
import { loadCheckpoint } from '../checkpoint.js';
import { analyzePair, type AnalyzeOptions } from '../checks/analyze.js';
import { linearModeConnectivity, type LmcOptions, type LmcResult } from '../checks/lmc.js';
import { openDataset, type OpenDatasetOptions } from '../dataset/index.js';
import type { RunControl } from '../progress.js';
import { align, type AlignMethod, type CorrelationForm } from '../align/index.js';
import { summarizeSpec } from '../align/summary.js';
import type { AlignedAnalysis, PairAnalysis } from '../report/types.js';

/** Options without the callbacks, which cannot cross threads. */
type Plain<T> = Omit<T, keyof RunControl>;

export interface PairRequest {
  /** Checkpoint A (α = 0), an ONNX file. */
  readonly a: string;
  /** Checkpoint B (α = 1), an ONNX file. */
  readonly b: string;
  readonly data: OpenDatasetOptions;
}

/** Align B to A first, then analyze the naive and the aligned pair. */
export interface AlignRequest {
  readonly method: AlignMethod;
  readonly correlation?: CorrelationForm;
  readonly seed?: number;
}

/** The naive analysis, and with an alignment request, the aligned one beside it. */
export interface AnalyzeResult {
  readonly naive: PairAnalysis;
  readonly aligned?: AlignedAnalysis;
}

export interface TaskMap {
  lmc: { request: PairRequest & { options?: Plain<LmcOptions> }; result: LmcResult };
  analyze: { request: PairRequest & { options?: Plain<AnalyzeOptions>; align?: AlignRequest }; result: AnalyzeResult };
}

export type TaskName = keyof TaskMap;

async function openPair(request: PairRequest) {
  return Promise.all([loadCheckpoint(request.a), loadCheckpoint(request.b), openDataset(request.data)]);
}

/** The implementations, run inside the worker (or inline, see runTask). */
export const tasks: { [K in TaskName]: (request: TaskMap[K]['request'], control: RunControl) => Promise<TaskMap[K]['result']> } = {
  async lmc(request, control) {
    const [a, b, data] = await openPair(request);
    return linearModeConnectivity(a, b, data, { ...request.options, ...control });
  },
  async analyze(request, control) {
    const [a, b, data] = await openPair(request);
    const naive = await analyzePair(a, b, data, { ...request.options, ...control });
    if (!request.align) return { naive };
    const { method, correlation, seed } = request.align;
    const alignment = await align(a, b, {
      method,
      ...(method === 'activation' ? { data, ...(request.options?.batchSize ? { batchSize: request.options.batchSize } : {}) } : {}),
      ...(correlation ? { correlation } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...control,
    });
    const aligned = await analyzePair(a, alignment.aligned, data, { ...request.options, ...control });
    return { naive, aligned: { ...aligned, method, spec: summarizeSpec(alignment.spec), objective: alignment.objective } };
  },
};
