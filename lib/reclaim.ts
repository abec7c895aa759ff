/**
 * Giving back the memory of a pass's spent batches. A run returns the outputs a pass does not
 * keep (lib/runner.ts OutputBuffers) in new ArrayBuffers, which V8 frees only at its next
 * collection, and it schedules those by its own heap, not by these buffers: measured by
 * bench/memory.ts, the spent features of the batch before (about 190 MB on ResNet-50 at batch 8,
 * 380 MB on GPT-2 small at batch 4) were still held while the next batch ran, at the pass's peak.
 * A pass tells a Reclaimer the bytes it lets go after each batch, and once they add up to
 * GARBAGE_BYTES the Reclaimer collects them. It does so in the worker threads that run the
 * library's tasks; in the caller's own thread (a pass run there directly) V8 keeps its own pace,
 * so the caller's program never pauses for it.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { isMainThread } from 'node:worker_threads';
import { native } from './native.js';

/**
 * Spent bytes that make a collection worth its few milliseconds (the JS heap of a pass is small):
 * below one θ(α)'s features on ResNet-50 at batch 8 (37.7 MB), so each is collected before the
 * next α runs rather than held beside it.
 */
export const GARBAGE_BYTES = 32 * 1024 * 1024;

/**
 * The collector of this worker thread, obtained once: V8 gives a context created while
 * --expose-gc is set a `gc` function, so the flag is set for that moment only and reset, and
 * the process's flags stay as its owner set them (one started with --expose-gc keeps its own).
 */
let collector: (() => void) | null | undefined;

function threadCollector(): (() => void) | null {
  if (collector !== undefined) return collector;
  const own = (globalThis as { gc?: () => void }).gc;
  if (own || isMainThread) return (collector = own ?? null);
  v8.setFlagsFromString('--expose-gc');
  try {
    collector = vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return collector;
}

/** Collects the garbage now, in a worker thread (a phase that let go of large buffers, before the next allocates its own). */
export function collectGarbage(): void {
  threadCollector()?.();
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

/**
 * A pass over a model in segments (lib/checks/pass-models.ts) collects at half GARBAGE_BYTES and
 * hands malloc's free pages back each time: its many small runs leave freed memory scattered
 * through malloc's arenas (ResNet-50 at batch 8: peak RSS 512 MB without, 403 MB with the pages
 * handed back, 395 MB collected at half; at a quarter, 1.5× the time).
 */
export const SEGMENTED_GARBAGE_BYTES = GARBAGE_BYTES / 2;

/** Counts the bytes a pass lets go and collects them once they reach `garbageBytes`; with `trim`, each collection also hands malloc's free pages back. */
export class Reclaimer {
  private spent = 0;

  constructor(
    private readonly garbageBytes = GARBAGE_BYTES,
    private readonly trim = false,
  ) {}

  /** `bytes` are garbage now (the caller holds no reference to them); collects when enough have added up. */
  release(bytes: number): void {
    this.spent += bytes;
    if (this.spent < this.garbageBytes) return;
    this.spent = 0;
    if (this.trim) releaseMemory();
    else collectGarbage();
  }
}
