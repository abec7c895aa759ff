/**
 * Symmetry-breaking constants (Lim et al. 2024, asymmetric networks): a float tensor that is the
 * same in A and B is not a trained parameter but part of the architecture (a fixed mask, fixed
 * entries, a fixed mixing matrix F in σ(x) = sigmoid(Fx) ⊙ x). Permuting it would give another
 * network, so every group whose permutation would change it is fixed; a constant that is the
 * same all along an axis (all-ones, all-equal) is unchanged by any permutation there and breaks
 * nothing.
 */
import type { Checkpoint, Parameter } from '../../checkpoint.js';

/** The float tensors of two paired checkpoints that are bitwise equal: per checkpoint, its stored names. */
export function sharedConstants(a: Checkpoint, b: Checkpoint): { a: string[]; b: string[] } {
  const bytes = (c: Checkpoint, p: Parameter): Buffer => Buffer.from(c.arena.buffer, c.arena.byteOffset + p.offset * 4, p.length * 4);
  const same = a.parameters.filter((p) => bytes(a, p).equals(bytes(b, b.parameters[p.index]!)));
  return { a: [...new Set(same.map((p) => p.tensor))], b: [...new Set(same.map((p) => b.parameters[p.index]!.tensor))] };
}

/** Whether a parameter's values are the same at every position along `axis` (any permutation there leaves it as it is). */
export function uniformAlong(values: Float32Array, shape: readonly number[], axis: number): boolean {
  const dim = shape[axis]!;
  const after = shape.slice(axis + 1).reduce((n, d) => n * d, 1);
  for (let i = 0; i < values.length; i++) {
    const at = Math.floor(i / after) % dim;
    if (at > 0 && !Object.is(values[i], values[i - at * after])) return false;
  }
  return true;
}
