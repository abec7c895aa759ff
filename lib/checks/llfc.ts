/**
 * Layerwise linear feature connectivity (SCIENCE.md §2, Zhou et al. 2023): per layer and α,
 * the LLFC distance d(f(θ(α)), (1−α)f(θ_A) + αf(θ_B)), its std, the scale coefficient, and
 * the A-vs-B baseline d(f_A, f_B).
 */
import type { LlfcPoint } from '../results.js';
import { BaselineAccumulator, CosineAccumulator } from './cosine.js';

export class LlfcAccumulator {
  private readonly interpolated: CosineAccumulator;
  private readonly baseline = new BaselineAccumulator();

  constructor(readonly alphas: readonly number[]) {
    this.interpolated = new CosineAccumulator(alphas);
  }

  /** One batch: features of θ(α) per α, and of A and B, for n samples. */
  add(atAlpha: Float32Array[], fa: Float32Array, fb: Float32Array, n: number): void {
    this.interpolated.add(atAlpha, fa, fb, n);
    this.baseline.add(fa, fb, n);
  }

  points(): LlfcPoint[] {
    return this.alphas.map((alpha, k) => ({ alpha, ...this.interpolated.summary(k) }));
  }

  baselineSummary(): { baseline: number; baselineSkipped: number } {
    const s = this.baseline.summary();
    return { baseline: s.distance, baselineSkipped: s.skipped };
  }
}
