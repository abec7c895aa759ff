/**
 * Giving back the memory of a pass's spent batches. onnxruntime-node returns every run's outputs
 * in new ArrayBuffers, which V8 frees only at its next collection, and it schedules those by its
 * own heap, not by these buffers: measured by bench/memory.ts, the spent features of the batch
 * before (about 190 MB on ResNet-50 at batch 8, 380 MB on GPT-2 small at batch 4) were still held
 * while the next batch ran, at the pass's peak. A pass tells a Reclaimer the bytes it lets go
 * after each batch, and once they add up to GARBAGE_BYTES the Reclaimer collects them. The
 * collector is there in the worker that runs the library's tasks (exposeCollector, called before
 * it starts); elsewhere, as in a caller that runs a pass in its own thread, V8 keeps its own pace.
 */
import v8 from 'node:v8';
import { native } from './native.js';

/**
 * Spent bytes that make a collection worth its few milliseconds (the JS heap of a pass is small):
 * below one θ(α)'s features on ResNet-50 at batch 8 (37.7 MB), so each is collected before the
 * next α runs rather than held beside it.
 */
export const GARBAGE_BYTES = 32 * 1024 * 1024;

/** Makes the collector a global (`gc`) of the threads started from now on: call before starting the worker. */
export function exposeCollector(): void {
  v8.setFlagsFromString('--expose-gc');
}

/** Collects the garbage now, where the collector is exposed (a phase that let go of large buffers, before the next allocates its own). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Collects the garbage, then hands the C allocator's free pages back to the system: after a
 * phase whose onnxruntime sessions are released (their buffers freed into malloc's arenas, which
 * keep them resident otherwise) and before a long phase that does not run onnxruntime.
 */
export function releaseMemory(): void {
  collectGarbage();
  native().releaseFreeMemory();
}

/** Counts the bytes a pass lets go and collects them once they reach GARBAGE_BYTES. */
export class Reclaimer {
  private spent = 0;

  /** `bytes` are garbage now (the caller holds no reference to them); collects when enough have added up. */
  release(bytes: number): void {
    this.spent += bytes;
    if (this.spent < GARBAGE_BYTES) return;
    this.spent = 0;
    collectGarbage();
  }
}
