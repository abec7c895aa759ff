/**
 * The transformer symmetries inferred from the graph (SCIENCE.md §7) on the transformer fixtures
 * (scripts/fixtures/make_transformer_fixtures.py): residual stream, MLP hidden layers, attention
 * heads with their within-head QK and V permutations (separate q/k/v projections and
 * nn.MultiheadAttention's fused, sliced in_proj), and that a random permutation of every group
 * keeps the logits.
 */
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { permuteArena, permutedModel, randomPermutations } from '../../lib/align/permute.js';
import { describeAction, inferSpec, type PermutationGroup, type PermutationSpec } from '../../lib/align/spec/index.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { fixture } from '../helpers.js';
import { logits, worstRelative } from './transformer-helpers.js';

const model = (name: string): string => fixture('models', `${name}.onnx`);
const acts = (g: PermutationGroup): string[] => g.parameters.map((a) => describeAction(a, g.size));
const heads = (spec: PermutationSpec): PermutationGroup[] => spec.groups.filter((g) => g.carries);

/** The sorted values of unit u of an action (its block of `inner` positions along the axis). */
function block(arena: Float32Array, p: Checkpoint['parameters'][number], a: { axis: number; offset: number; inner: number }, u: number): number[] {
  const view = arena.subarray(p.offset, p.offset + p.length);
  const dim = p.shape[a.axis]!;
  const after = p.shape.slice(a.axis + 1).reduce((x, d) => x * d, 1);
  const out: number[] = [];
  for (let i = 0; i < view.length; i++) {
    const pos = Math.floor(i / after) % dim;
    if (pos >= a.offset + u * a.inner && pos < a.offset + (u + 1) * a.inner) out.push(view[i]!);
  }
  return out.sort((x, y) => x - y);
}

async function checkpoint(name: string): Promise<Checkpoint> {
  return loadCheckpoint(model(name));
}

describe('transformer spec inferred from the graph', () => {
  it.each(['vit_hand_a', 'lm_tied_a', 'lm_untied_a'])('%s: one head group per attention layer carries 4 QK and 4 V within-head groups, blocks of d_head on q, k, v rows and out-projection columns', async (name) => {
    const spec = await inferSpec(await checkpoint(name));
    const hs = heads(spec);
    expect(hs).toHaveLength(2);
    for (const h of hs) {
      expect(h.size).toBe(4);
      const qk = h.carries![0]! as number[];
      const v = h.carries![1]! as number[];
      expect(qk).toHaveLength(4);
      expect(v).toHaveLength(4);
      const dh = spec.groups[qk[0]!]!.size;
      expect(dh).toBe(name.startsWith('lm') ? 12 : 8);
      // Head u of the QK member: Q rows and K rows [u·dh, (u+1)·dh) together, with their biases.
      qk.forEach((g, u) => {
        const member = spec.groups[g!]!;
        expect(member.parameters.map((a) => [a.axis, a.offset, a.inner])).toEqual(Array.from({ length: 4 }, (_, k) => [k % 2 === 0 ? 1 : 0, u * dh, 1]));
      });
      // V member: V rows, V bias, out-projection input rows.
      v.forEach((g, u) => expect(spec.groups[g!]!.parameters.map((a) => [a.offset, a.inner])).toEqual([[u * dh, 1], [u * dh, 1], [u * dh, 1]]));
      expect(h.parameters.every((a) => a.inner === dh && a.offset === 0)).toBe(true);
      expect(h.parameters).toHaveLength(7);
    }
    expect(spec.unknownOps).toEqual([]);
  });

  it('vit_mha: the fused in_proj is sliced into Q, K, V thirds; the head group moves blocks of 8 in each third and the out-projection columns', async () => {
    const spec = await inferSpec(await checkpoint('vit_mha_a'));
    const [h] = heads(spec);
    expect(acts(h!).slice(0, 6)).toEqual([
      'onnx::MatMul_272 axis 1 [0:32) in blocks of 8',
      'onnx::MatMul_272 axis 1 [32:64) in blocks of 8',
      'onnx::MatMul_272 axis 1 [64:96) in blocks of 8',
      'blocks.0.attn.mha.in_proj_bias axis 0 [0:32) in blocks of 8',
      'blocks.0.attn.mha.in_proj_bias axis 0 [32:64) in blocks of 8',
      'blocks.0.attn.mha.in_proj_bias axis 0 [64:96) in blocks of 8',
    ]);
    expect(acts(h!)[6]).toBe('blocks.0.attn.mha.out_proj.weight axis 1 in blocks of 8');
    const qk1 = spec.groups[h!.carries![0]![1]!]!;
    expect(acts(qk1)).toEqual(['onnx::MatMul_272 axis 1 [8:16)', 'onnx::MatMul_272 axis 1 [40:48)', 'blocks.0.attn.mha.in_proj_bias axis 0 [8:16)', 'blocks.0.attn.mha.in_proj_bias axis 0 [40:48)']);
    expect(spec.unknownOps).toEqual([]);
  });

  it('language models: one residual-stream group across token and position embeddings, every LayerNorm, writer, reader and the LM head; vocabulary and positions fixed as looked up by index', async () => {
    for (const name of ['lm_tied_a', 'lm_untied_a']) {
      const spec = await inferSpec(await checkpoint(name));
      const stream = spec.groups[0]!;
      expect(stream.size).toBe(48);
      const tensors = stream.parameters.map((a) => `${a.tensor}:${a.axis}`);
      for (const t of ['tok.weight:1', 'pos.weight:1', 'blocks.0.ln1.weight:0', 'blocks.1.ln2.bias:0', 'ln.weight:0', 'ln.bias:0']) expect(tensors).toContain(t);
      // The LM head (tied: the exporter's transposed copy of tok.weight) reads the stream on its axis 0.
      const head = stream.parameters.at(-1)!;
      expect([head.axis, head.shape]).toEqual([0, [48, 256]]);
      expect(spec.fixed.map((f) => f.reasons[0])).toEqual([
        "node '/tok/Gather' (Gather) looks entries of this axis up by index",
        "node '/pos/Gather' (Gather) looks entries of this axis up by index",
        "model output 'logits'",
      ]);
    }
  });

  it('moe: an expert group (the gate rows with each expert’s four tensors) carrying each expert’s hidden group; the experts’ outputs share the stream group', async () => {
    const spec = await inferSpec(await checkpoint('moe_a'));
    const experts = spec.groups.filter((g) => g.experts);
    expect(experts).toHaveLength(1);
    const g = experts[0]!;
    expect(acts(g)).toEqual(['gate.weight axis 0', 'gate.bias axis 0']);
    expect(g.experts!.map((list) => list.map((e) => e.tensor))).toEqual([0, 1, 2, 3].map((k) => [`experts.${k}.0.weight`, `experts.${k}.0.bias`, `experts.${k}.2.weight`, `experts.${k}.2.bias`]));
    expect(g.carries!).toHaveLength(1);
    g.carries![0]!.forEach((m, k) => expect(acts(spec.groups[m!]!)).toEqual([`experts.${k}.0.weight axis 0`, `experts.${k}.0.bias axis 0`, `experts.${k}.2.weight axis 1`]));
  });

  it.each(['vit_hand_a', 'vit_hand_b', 'vit_mha_a', 'vit_mha_b', 'lm_tied_a', 'lm_tied_b', 'lm_untied_a', 'lm_untied_b', 'moe_a', 'moe_b'])(
    '%s: a random permutation of every group (heads and within-head included) keeps the logits (1e-4)',
    async (name) => {
      const cp = await checkpoint(name);
      const spec = await inferSpec(cp);
      let seed = 3;
      let perms = randomPermutations(spec, seed);
      while (perms.some((p) => p.length > 1 && p.every((v, i) => v === i))) perms = randomPermutations(spec, ++seed);
      const arena = permuteArena(cp, spec, perms);
      const { model: moved } = permutedModel(cp, arena);
      const [before, after] = await Promise.all([logits(encodeModel(cp.model), name), logits(encodeModel(moved), name)]);
      expect(worstRelative(before, after)).toBeLessThan(1e-4);
      // Experts moved whole: expert u of the result holds (within-expert permuted) expert perm[u]'s values.
      for (const g of spec.groups.filter((x) => x.experts)) {
        const perm = perms[g.index]!;
        g.experts!.forEach((list, u) => list.forEach((e, j) => {
          const from = cp.parameters[g.experts![perm[u]!]![j]!.parameter]!;
          const to = cp.parameters[e.parameter]!;
          expect(Array.from(arena.subarray(to.offset, to.offset + to.length)).sort()).toEqual(Array.from(cp.arena.subarray(from.offset, from.offset + from.length)).sort());
        }));
      }
      // Heads moved as blocks: head u of the result holds the values of head perm[u] of the original.
      for (const h of heads(spec).filter((x) => !x.experts)) {
        const perm = perms[h.index]!;
        expect(perm.every((v, i) => v === i)).toBe(false);
        for (const a of h.parameters) {
          const p = cp.parameters[a.parameter]!;
          perm.forEach((from, u) => expect(block(arena, p, a, u)).toEqual(block(cp.arena, p, a, from)));
        }
      }
    },
  );
});
