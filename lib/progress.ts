/** Progress events and cancellation shared by every long-running function. */
import { CancelledError } from './errors.js';

export interface ProgressEvent {
  /** What is running, e.g. "lmc". */
  readonly phase: string;
  /** Units done and in all (units are phase-specific: batches × α for LMC). */
  readonly done: number;
  readonly total: number;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** Options every long-running function takes. */
export interface RunControl {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(typeof signal.reason === 'string' ? signal.reason : 'cancelled');
}
