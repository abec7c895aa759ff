/**
 * Why heads are matched as heads (SCIENCE.md §7): a pair built so that matching the QK dims one by
 * one, ignoring which head they belong to, pairs a dim of one head with a dim of another head,
 * while matching heads by their best within-head score recovers the planted permutation exactly,
 * by weights and by activations.
 *
 * A is vit_hand_a with the first layer's head-1 QK dim 0 (its Q and K rows and biases) set to
 * head 0's dim 0 plus δ·e; B is A with every head and within-head group permuted at random, then
 * the images of the two look-alike dims moved to x + 0.6δe (head 0's) and x + 0.4δe (head 1's).
 * Each of A's two dims then correlates more with the other's image (⟨x, x + 0.4δe⟩ +
 * ⟨x + δe, x + 0.6δe⟩ exceeds the planted pairing by 0.2δ²‖e‖²), so a flat assignment swaps them
 * across heads; within a head each has only one look-alike, so the head matching is not misled.
 */
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { openDataset } from '../../lib/dataset/index.js';
import { activationMatching } from '../../lib/align/activation-matching.js';
import { permuteArena, randomPermutations, identityPermutation } from '../../lib/align/permute.js';
import { inferSpec, type ParameterAction, type PermutationGroup, type PermutationSpec, type ValueAction } from '../../lib/align/spec/index.js';
import { weightMatching } from '../../lib/align/weight-matching.js';
import { fixture } from '../helpers.js';
import { randomFloats } from './helpers.js';

/** Arena indices of position `pos` along `axis` of parameter use `action`. */
function unitIndices(cp: Checkpoint, action: ParameterAction, pos: number): number[] {
  const p = cp.parameters[action.parameter]!;
  const dim = p.shape[action.axis]!;
  const after = p.shape.slice(action.axis + 1).reduce((x, d) => x * d, 1);
  return Array.from({ length: p.length }, (_, i) => i).filter((i) => Math.floor(i / after) % dim === pos).map((i) => p.offset + i);
}

/** Every arena index of dim c of a within-head group (over all its parameter uses). */
const dimIndices = (cp: Checkpoint, g: PermutationGroup, c: number): number[] => g.parameters.flatMap((a) => unitIndices(cp, a, a.offset + c));

/**
 * The spec with each head group and the groups it carries replaced by one group per kind of
 * member over all the heads' dims (QK dims of every head together, V dims together): per-unit
 * matching that ignores the heads.
 */
function flatSpec(spec: PermutationSpec): PermutationSpec {
  const carried = new Set(spec.groups.flatMap((g) => (g.carries ?? []).flat()));
  const groups: Omit<PermutationGroup, 'index'>[] = [];
  for (const g of spec.groups) {
    if (carried.has(g.index)) continue;
    if (!g.carries) {
      groups.push(g);
      continue;
    }
    for (const members of g.carries) {
      const first = spec.groups[members[0]!]!;
      const span = <A extends ParameterAction | ValueAction>(list: readonly A[]): A[] => list.map((a) => ({ ...a }));
      groups.push({ size: first.size * members.length, label: `${first.label} (all heads)`, parameters: span(first.parameters), values: [], activations: span(first.activations) });
    }
  }
  return { ...spec, groups: groups.map((g, index) => ({ ...g, index })) };
}

describe('head matching against per-unit matching that ignores heads', () => {
  it('on a pair with look-alike QK dims in two heads, per-unit matching pairs dims across heads while weight and activation head matching recover the planted permutation exactly', async () => {
    const base = await loadCheckpoint(fixture('models', 'vit_hand_a.onnx'));
    const spec = await inferSpec(base);
    const head = spec.groups.find((g) => g.carries)!;
    const qk = head.carries![0]! as number[];
    const [m0, m1] = [spec.groups[qk[0]!]!, spec.groups[qk[1]!]!];
    const x = dimIndices(base, m0, 0);
    const y = dimIndices(base, m1, 0);
    const e = randomFloats(x.length, 5);
    const norm = Math.sqrt(x.reduce((s, i) => s + base.arena[i]! ** 2, 0));
    const eNorm = Math.sqrt(e.reduce((s, v) => s + v * v, 0));
    const step = e.map((v) => (0.02 * norm * v) / eNorm);
    const arena = base.arena.slice();
    y.forEach((i, k) => (arena[i] = arena[x[k]!]! + step[k]!));
    const a: Checkpoint = { ...base, arena };

    // Heads and within-head dims permuted at random (head 0 and head 1 go to different places), the rest in place.
    const attention = new Set(spec.groups.filter((g) => g.carries).flatMap((g) => [g.index, ...(g.carries!.flat() as number[])]));
    let seed = 40;
    const draw = (s: number): Int32Array[] => randomPermutations(spec, s).map((p, g) => (attention.has(g) ? p : identityPermutation(p.length)));
    let perms = draw(seed);
    while (perms[head.index]![0] === 0 || perms[head.index]![1] === 1) perms = draw(++seed);
    const planted = { ...a, arena: permuteArena(a, spec, perms) };
    // Where A's x and y lie in B: the matching of the unperturbed planted pair says (checked exact).
    const exact = await weightMatching(a, planted, spec);
    expect(permuteArena(planted, spec, exact.permutations)).toEqual(a.arena);
    const h = exact.permutations[head.index]!;
    const n = m0.size;
    const imageOf = (u: number, c: number): number => h[u]! * n + exact.permutations[qk[h[u]!]!]![c]!;
    const bArena = planted.arena.slice();
    const bDim = (flat: number): number[] => dimIndices(planted, spec.groups[qk[Math.floor(flat / n)]!]!, flat % n);
    const xImage = bDim(imageOf(0, 0));
    const yImage = bDim(imageOf(1, 0));
    xImage.forEach((i, k) => (bArena[i] = a.arena[x[k]!]! + 0.6 * step[k]!));
    yImage.forEach((i, k) => (bArena[i] = a.arena[x[k]!]! + 0.4 * step[k]!));
    const b: Checkpoint = { ...planted, file: 'B (planted, look-alikes moved)', arena: bArena };

    const flat = flatSpec(spec);
    const flatQk = flat.groups.findIndex((g) => g.label === `${m0.label} (all heads)`);
    const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 256 });
    const perUnit = [(await weightMatching(a, b, flat)).permutations[flatQk]!, (await activationMatching(a, b, flat, { data })).permutations[flatQk]!];
    for (const p of perUnit) {
      // A's head-0 dim is given B's image of head 1's dim, and the other way round: across heads.
      expect([p[0], p[n]]).toEqual([imageOf(1, 0), imageOf(0, 0)]);
    }
    const byHeads = [(await weightMatching(a, b, spec)).permutations, (await activationMatching(a, b, spec, { data })).permutations];
    for (const p of byHeads) p.forEach((perm, g) => expect(Array.from(perm), `group ${g}`).toEqual(Array.from(exact.permutations[g]!)));
  });
});
