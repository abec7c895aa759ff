/**
 * Float64 sums that do not depend on how the terms are grouped (SCIENCE.md §8). Every statistic
 * is a sum over batches of per-batch float64 sums; a sharded run adds the same batch sums in
 * other groups (each shard's, then the shards'). Each slot keeps its running sum and the
 * rounding error of every addition (Knuth's TwoSum, exact), so one pass and any reduction of
 * shards both hold the sum to about 2⁻¹⁰⁶ relative and round it to the same float64 (differing
 * only if the exact sum lies within that of a rounding tie).
 */
import { InvalidArgumentError } from './errors.js';

/** A run of compensated float64 sums: `high` the running sums, `low` their accumulated rounding errors. */
export class Sums {
  readonly high: Float64Array;
  readonly low: Float64Array;

  constructor(readonly length: number) {
    this.high = new Float64Array(length);
    this.low = new Float64Array(length);
  }

  /** Adds `x` to slot `i`, keeping the rounding error. */
  add(i: number, x: number): void {
    const s = this.high[i]!;
    const t = s + x;
    const z = t - s;
    this.low[i]! += s - (t - z) + (x - z);
    this.high[i] = t;
  }

  /** Adds `terms[i]` to slot `i` for every slot (one batch's float64 sums). */
  addAll(terms: ArrayLike<number>): void {
    if (terms.length !== this.length) throw new InvalidArgumentError(`${terms.length} terms for ${this.length} sums`);
    this.addFrom(0, terms);
  }

  /** Adds `terms[j]` to slot `first + j` (one batch's float64 sums of a run of the slots). */
  addFrom(first: number, terms: ArrayLike<number>): void {
    if (first < 0 || first + terms.length > this.length) throw new InvalidArgumentError(`${terms.length} terms from slot ${first} for ${this.length} sums`);
    for (let j = 0; j < terms.length; j++) this.add(first + j, terms[j]!);
  }

  /** Adds other sums of the same layout (a shard's) into these. */
  merge(other: { readonly high: ArrayLike<number>; readonly low: ArrayLike<number> }): void {
    if (other.high.length !== this.length || other.low.length !== this.length) {
      throw new InvalidArgumentError(`sums of ${other.high.length} slots cannot be added to ${this.length}`);
    }
    for (let i = 0; i < this.length; i++) {
      this.add(i, other.high[i]!);
      this.low[i]! += other.low[i]!;
    }
  }

  /** The sum in slot `i`, rounded once to float64. */
  value(i: number): number {
    return this.high[i]! + this.low[i]!;
  }

  /** Every slot's sum. */
  values(): Float64Array {
    return Float64Array.from(this.high, (h, i) => h + this.low[i]!);
  }
}

/**
 * A check's accumulators by name: what a shard writes to its partial and what the reduction
 * adds the partials into (lib/shard/). Only sums over the data belong here; anything computed
 * once from the checkpoints is recomputed where the check is created.
 */
export type NamedSums = ReadonlyMap<string, Sums>;
