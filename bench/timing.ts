import { native } from '../lib/native.js';

/** Timing helpers for benchmarks: best-of-n wall time in milliseconds. */
export async function bestOf(n: number, f: () => unknown | Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * The bandwidth baseline of a kernel that moves `floats` floats' worth of bytes: the addon's
 * multithreaded memcpy of half as many floats (each read once and written once), in GB/s, best of `reps`.
 */
export async function memcpyGBs(floats: number, reps: number): Promise<number> {
  const copyFloats = Math.round(floats / 2);
  const [src, dst] = [new Float32Array(copyFloats).fill(1), new Float32Array(copyFloats).fill(2)];
  const ms = await bestOf(reps, () => native().copy(dst, src));
  return (2 * copyFloats * 4) / ms / 1e6;
}

export function row(cells: readonly (string | number)[], widths: readonly number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i] ?? 10)).join(' ');
}

/** Whether a module is the script node was started with (run directly, not imported). */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'));
}
