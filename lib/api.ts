/**
 * The high-level API: each function takes files and options, runs in a worker thread (the
 * caller's event loop keeps running), reports progress and stops on an AbortSignal.
 * The in-process building blocks (loadCheckpoint, openDataset, linearModeConnectivity,
 * analyzePair) are exported too, for callers who hold checkpoints and datasets in memory.
 */
import type { AnalyzeOptions } from './checks/analyze.js';
import type { LmcOptions, LmcResult } from './checks/lmc.js';
import type { RunControl } from './progress.js';
import type { PairAnalysis } from './report/types.js';
import { runTask } from './worker/host.js';
import type { PairRequest } from './worker/tasks.js';

export type { PairRequest } from './worker/tasks.js';

/** Linear mode connectivity of two ONNX files on a dataset (SCIENCE.md §1). */
export function lmc(request: PairRequest, options: LmcOptions = {}): Promise<LmcResult> {
  const { signal, onProgress, ...plain } = options;
  return runTask('lmc', { ...request, options: plain }, control(signal, onProgress));
}

/** LMC plus LLFC, weak additivity and commutativity per layer (SCIENCE.md §1–4). */
export function analyze(request: PairRequest, options: AnalyzeOptions = {}): Promise<PairAnalysis> {
  const { signal, onProgress, ...plain } = options;
  return runTask('analyze', { ...request, options: plain }, control(signal, onProgress));
}

function control(signal: AbortSignal | undefined, onProgress: RunControl['onProgress']): RunControl {
  return { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
}
