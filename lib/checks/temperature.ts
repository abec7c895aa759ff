/**
 * Temperature calibration (Ito et al. 2025; SCIENCE.md §6): the one T > 0 that minimizes the
 * mean cross-entropy of logits/T. In β = 1/T the loss f(β) = mean_i [lse(β z_i) − β z_iy] is
 * convex, with f'(β) = mean_i (E_{softmax(β z_i)}[z] − z_iy) and f''(β) = mean_i Var_{softmax(β z_i)}[z],
 * so T is the root of f' found by Newton steps kept inside a bracket (bisection where a step would
 * leave it), all in float64. When f'(0) ≥ 0 (the mean logit is at least the true-class logit) no
 * finite T does better than T = ∞ (uniform predictions); when every label is its row's argmax,
 * f' < 0 for every β and the loss only falls as T → 0.
 */
import type { LossSetup } from './loss.js';

/** T as reports hold it: a number, or 'infinity' when no finite T minimizes the loss (JSON has no ∞). */
export type Temperature = number | 'infinity';

/** The logit rows and labels of one set, kept to fit T on (rows of ignored labels are left out). */
export class LogitRows {
  private readonly logits: Float32Array[] = [];
  private readonly labels: Int32Array[] = [];
  rows = 0;

  constructor(private readonly setup: LossSetup) {}

  /** Keeps a copy of one batch's rows (the labels are checked against the logits by addBatchLoss first). */
  add(logits: Float32Array, labels: Int32Array): void {
    const { classes, ignoreIndex } = this.setup;
    const kept = labels.reduce((n, l) => n + (l === ignoreIndex ? 0 : 1), 0);
    const z = new Float32Array(kept * classes);
    const y = new Int32Array(kept);
    let k = 0;
    labels.forEach((label, s) => {
      if (label === ignoreIndex) return;
      z.set(logits.subarray(s * classes, (s + 1) * classes), k * classes);
      y[k++] = label;
    });
    this.logits.push(z);
    this.labels.push(y);
    this.rows += kept;
  }

  /** Drops the kept rows (their count stays). */
  clear(): void {
    this.logits.length = 0;
    this.labels.length = 0;
  }

  /** Calls `f` with each kept row's logits offset and label. */
  each(f: (logits: Float32Array, offset: number, label: number) => void): void {
    const { classes } = this.setup;
    this.logits.forEach((z, b) => this.labels[b]!.forEach((label, i) => f(z, i * classes, label)));
  }
}

/** Cross-entropy of one row scaled by β (β = 0: log C), stabilised by the row's max. */
export function scaledCrossEntropy(z: Float32Array, offset: number, classes: number, label: number, beta: number): number {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, beta * z[offset + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(beta * z[offset + c]! - max);
  return max + Math.log(sum) - beta * z[offset + label]!;
}

/** f'(β) and f''(β) over the rows. */
function slopeAndCurvature(rows: LogitRows, classes: number, beta: number): { slope: number; curvature: number } {
  let slope = 0;
  let curvature = 0;
  const p = new Float64Array(classes);
  rows.each((z, o, label) => {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, beta * z[o + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += p[c] = Math.exp(beta * z[o + c]! - max);
    let mean = 0;
    for (let c = 0; c < classes; c++) mean += (p[c]! / sum) * z[o + c]!;
    let variance = 0;
    for (let c = 0; c < classes; c++) variance += (p[c]! / sum) * (z[o + c]! - mean) ** 2;
    slope += mean - z[o + label]!;
    curvature += variance;
  });
  return { slope: slope / rows.rows, curvature: curvature / rows.rows };
}

/** Whether every row's label holds its row's largest logit (then the loss falls all the way to T → 0). */
function labelsAreArgmax(rows: LogitRows, classes: number): boolean {
  let all = true;
  rows.each((z, o, label) => {
    for (let c = 0; c < classes; c++) if (z[o + c]! > z[o + label]!) all = false;
  });
  return all;
}

/** The T > 0 minimizing the mean cross-entropy of the rows' logits/T: a number (0 when it only falls as T → 0) or 'infinity'. */
export function fitTemperature(rows: LogitRows, classes: number): Temperature {
  if (rows.rows === 0) throw new RangeError('fitTemperature: no rows');
  if (slopeAndCurvature(rows, classes, 0).slope >= 0) return 'infinity';
  if (labelsAreArgmax(rows, classes)) return 0;
  // Bracket the root of f' in β: f'(lo) < 0 ≤ f'(hi).
  let lo = 0;
  let hi = 1;
  while (slopeAndCurvature(rows, classes, hi).slope < 0) [lo, hi] = [hi, 2 * hi];
  let beta = (lo + hi) / 2;
  for (let step = 0; step < 200; step++) {
    const { slope, curvature } = slopeAndCurvature(rows, classes, beta);
    if (slope === 0) break;
    if (slope < 0) lo = beta;
    else hi = beta;
    const newton = curvature > 0 ? beta - slope / curvature : NaN;
    const next = newton > lo && newton < hi ? newton : (lo + hi) / 2;
    if (Math.abs(next - beta) <= 1e-15 * beta || hi - lo <= 1e-15 * hi) {
      beta = next;
      break;
    }
    beta = next;
  }
  return 1 / beta;
}

/** 1/T: the factor the logits are scaled by (0 for T = ∞, ∞ for T = 0). */
export function inverseTemperature(t: Temperature): number {
  return t === 'infinity' ? 0 : 1 / t;
}

/** Cross-entropy of one row's logits/T; at T = 0 its limit: log of the number of classes tied at the top, ∞ when the label is not among them. */
export function calibratedRowLoss(z: Float32Array, offset: number, classes: number, label: number, t: Temperature): number {
  if (t !== 0) return scaledCrossEntropy(z, offset, classes, label, inverseTemperature(t));
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, z[offset + c]!);
  let ties = 0;
  for (let c = 0; c < classes; c++) if (z[offset + c] === max) ties++;
  return z[offset + label] === max ? Math.log(ties) : Infinity;
}

/** Sum over a batch's labelled rows of the cross-entropy of logits/T, and their count. */
export function calibratedLossSum(z: Float32Array, labels: Int32Array, setup: LossSetup, t: Temperature): { loss: number; count: number } {
  let loss = 0;
  let count = 0;
  labels.forEach((label, s) => {
    if (label === setup.ignoreIndex) return;
    loss += calibratedRowLoss(z, s * setup.classes, setup.classes, label, t);
    count++;
  });
  return { loss, count };
}
