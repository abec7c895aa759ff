/**
 * Streaming cosine statistics (SCIENCE.md conventions): d(a, m) = 1 − |⟨a, m⟩| / (‖a‖‖m‖) per
 * sample, with m = (1−α)·f_A + α·f_B, reduced by the native addon into float64 sums.
 */
import { native, type NativeActivation } from '../native.js';
import type { FloatTensor } from '../session.js';
import { Sums } from '../sums.js';
import type { PairBatch } from './check.js';
import type { LayerSpec } from './layers.js';

const SLOTS = 5;

/**
 * How many samples a batch of a value holds (SCIENCE.md §7): with its features on the last axis
 * (`tokens`), every position of an N×T×D value is a sample of D numbers (N·T samples); otherwise,
 * and for N×D values, each of the N inputs is one sample (a conv feature map: C·H·W numbers).
 */
export function sampleCount(value: FloatTensor, tokens: boolean): number {
  const dims = value.dims;
  return tokens && dims.length >= 3 ? dims.slice(0, -1).reduce((n, d) => n * d, 1) : dims[0]!;
}

export interface CosineSummary {
  /** Mean over samples of the cosine distance. */
  readonly distance: number;
  /** Population std over samples. */
  readonly distanceStd: number;
  /** Mean over samples of ⟨a, m⟩ / ‖m‖². */
  readonly coefficient: number;
  /** Samples skipped because a norm was 0. */
  readonly skipped: number;
}

/** Sums for several α at once; each add() is one batch, whose native float64 sums are added compensated (lib/sums.ts). */
export class CosineAccumulator {
  readonly sums: Sums;
  private readonly batch: Float64Array;
  private readonly alphas: Float64Array;

  constructor(alphas: readonly number[]) {
    this.alphas = Float64Array.from(alphas);
    this.sums = new Sums(alphas.length * SLOTS);
    this.batch = new Float64Array(alphas.length * SLOTS);
  }

  /** a[k]: the features compared at alphas[k]; fa, fb: the endpoint features (n samples). */
  add(a: Float32Array[], fa: Float32Array, fb: Float32Array, n: number): void {
    this.batch.fill(0);
    native().cosineStats({ compared: a, alphas: this.alphas, fa, fb, samples: n, acc: this.batch });
    this.sums.addAll(this.batch);
  }

  /** The statistics at alphas[k] alone: `a` the features compared there (the sums of each α are kept apart, so α may come one at a time). */
  addAt(k: number, a: Float32Array, fa: Float32Array, fb: Float32Array, n: number): void {
    const slots = this.batch.subarray(k * SLOTS, (k + 1) * SLOTS);
    slots.fill(0);
    native().cosineStats({ compared: [a], alphas: this.alphas.subarray(k, k + 1), fa, fb, samples: n, acc: slots });
    this.sums.addFrom(k * SLOTS, slots);
  }

  /**
   * One batch of weak additivity by the native kernel: σ((1−α)h_A + αh_B) against
   * (1−α)f_A + αf_B, σ one of the addon's activations.
   */
  addWeakAdditivity(ha: Float32Array, hb: Float32Array, fa: Float32Array, fb: Float32Array, n: number, activation: NativeActivation): void {
    this.batch.fill(0);
    native().weakAdditivityStats({ ha, hb, fa, fb, samples: n, alphas: this.alphas, activation, acc: this.batch });
    this.sums.addAll(this.batch);
  }

  /** Samples seen at α index k, the skipped ones included. */
  samples(k: number): number {
    return this.sums.value(k * SLOTS + 3) + this.sums.value(k * SLOTS + 4);
  }

  /** Means from the native sums, laid out as [Σd, Σd², Σcoef, count, skipped] per α. */
  summary(k: number): CosineSummary {
    const s = this.sums.values().subarray(k * SLOTS, (k + 1) * SLOTS);
    const count = s[3]!;
    const mean = count > 0 ? s[0]! / count : NaN;
    const variance = count > 0 ? Math.max(0, s[1]! / count - mean * mean) : NaN;
    return { distance: mean, distanceStd: Math.sqrt(variance), coefficient: count > 0 ? s[2]! / count : NaN, skipped: s[4]! };
  }
}

/** A reported layer as errors about its values name it. */
export function layerWhere(layer: LayerSpec): string {
  return `layer '${layer.module ?? layer.name}' (${layer.node})`;
}

/** One batch of a reported layer at alphas[k] = `alpha` into `accumulator`: its features in θ(α) against those of A and B. */
export function addLayerAt(accumulator: Pick<CosineAccumulator, 'addAt'>, batch: PairBatch, layer: LayerSpec, k: number, alpha: number): void {
  if (!batch.covers([layer.name])) return;
  const where = layerWhere(layer);
  const fa = batch.value(layer.name, 0, where);
  accumulator.addAt(k, batch.value(layer.name, alpha, where).data, fa.data, batch.value(layer.name, 1, where).data, sampleCount(fa, layer.tokens));
}

/** Accumulates d(f_A, f_B) per sample: the A-vs-B baseline (m = f_B at α = 1). */
export class BaselineAccumulator {
  readonly inner = new CosineAccumulator([1]);

  add(fa: Float32Array, fb: Float32Array, n: number): void {
    this.inner.add([fa], fa, fb, n);
  }

  summary(): CosineSummary {
    return this.inner.summary(0);
  }

  /** Samples seen, the skipped ones included. */
  samples(): number {
    return this.inner.samples(0);
  }
}
