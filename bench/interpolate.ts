/**
 * Interpolation bandwidth against a multithreaded memcpy of the same bytes, in the same run.
 * Bytes counted for interpolation: 2 reads and 1 write of 4 bytes per output value; for the
 * copy: 1 read and 1 write. Target: ratio ≥ 0.8.
 */
import { native } from '../lib/native.js';
import { bestOf, isMain, memcpyGBs, row } from './timing.js';

export async function main(): Promise<void> {
  const addon = native();
  console.log(`interpolation vs memcpy (backend ${addon.backend})`);
  const widths = [12, 4, 12, 12, 8];
  console.log(row(['floats', 'α', 'interp GB/s', 'memcpy GB/s', 'ratio'], widths));
  for (const n of [1 << 20, 25_600_000]) {
    const a = new Float32Array(n).map(() => Math.random());
    const b = new Float32Array(n).map(() => Math.random());
    for (const k of [1, 11]) {
      const alphas = Float64Array.from({ length: k }, (_, i) => (k === 1 ? 0.5 : i / (k - 1)));
      const outs = Array.from({ length: k }, () => new Float32Array(n).fill(1));
      const reps = n > 1e7 ? 5 : 30;
      const tInterp = await bestOf(reps, () => addon.interpolate(a, b, alphas, outs));
      const bytes = 3 * k * n * 4;
      const gbInterp = bytes / tInterp / 1e6;
      const gbCopy = await memcpyGBs(3 * k * n, reps);
      console.log(row([n, k, gbInterp.toFixed(2), gbCopy.toFixed(2), (gbInterp / gbCopy).toFixed(2)], widths));
    }
  }
}

if (isMain(import.meta.url)) await main();
