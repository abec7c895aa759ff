/** The comparison of an LMC curve with a PyTorch reference, shared by the LMC tests. */
import { expect } from 'vitest';
import type { LmcResult } from '../../lib/results.js';

export interface LmcCurveReference {
  alphas: number[];
  loss: number[];
  accuracy: number[];
  barriers: { loss: number; lossMidpoint: number; accuracy: number };
}

/** Loss within 1e-4 relative, accuracy exact, barriers to 4 (accuracy: 10) decimals. */
export function expectLmcReference(result: LmcResult, ref: LmcCurveReference): void {
  expect(result.alphas).toEqual(ref.alphas);
  result.loss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]!) / ref.loss[i]!).toBeLessThan(1e-4));
  expect(result.accuracy).toEqual(ref.accuracy);
  expect(result.barriers!.loss).toBeCloseTo(ref.barriers.loss, 4);
  expect(result.barriers!.lossMidpoint).toBeCloseTo(ref.barriers.lossMidpoint, 4);
  expect(result.barriers!.accuracy).toBeCloseTo(ref.barriers.accuracy, 10);
}
