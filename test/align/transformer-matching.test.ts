/**
 * Weight matching over the transformer and mixture-of-experts groups (SCIENCE.md §7): heads
 * matched by their best within-head score, experts by their best within-expert score plus the
 * gate rows, the residual stream and MLP layers as before. B permuted at random in every group is
 * brought back exactly.
 */
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { permuteArena, randomPermutations } from '../../lib/align/permute.js';
import { inferSpec } from '../../lib/align/spec/index.js';
import { weightMatching } from '../../lib/align/weight-matching.js';
import { fixture } from '../helpers.js';

describe('weight matching over heads, within-head dims, experts and the residual stream', () => {
  it.each(['vit_hand_a', 'vit_mha_a', 'lm_tied_a', 'lm_untied_b', 'moe_a', 'moe_topk_a'])(
    '%s: A = B with every group permuted at random; matching B to A recovers A exactly',
    async (name) => {
      const b = await loadCheckpoint(fixture('models', `${name}.onnx`));
      const spec = await inferSpec(b);
      let seed = 21;
      let perms = randomPermutations(spec, seed);
      while (perms.some((p) => p.length > 1 && p.every((v, i) => v === i))) perms = randomPermutations(spec, ++seed);
      const a = { ...b, arena: permuteArena(b, spec, perms) };
      const result = await weightMatching(a, b, spec);
      expect(result.converged).toBe(true);
      expect(permuteArena(b, spec, result.permutations)).toEqual(a.arena);
      // The objective is ⟨θ_A, π(θ_B)⟩ = ‖θ_A‖² at the recovered permutations.
      const norm = a.arena.reduce((s, v) => s + v * v, 0);
      expect(result.objective.at(-1)!).toBeCloseTo(norm, 0);
    },
  );
});
