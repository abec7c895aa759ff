/**
 * Top-k routing (SCIENCE.md §7; scripts/fixtures/make_topk_fixtures.py): a mixture of experts whose
 * router keeps each sample's top 2 experts with torch.topk (TopK, then Less/Where on the gate
 * logits in the graph). The expert group is inferred through TopK, and permuting experts keeps
 * the logits.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { inferSpec } from '../../lib/align/spec/index.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { fixture, readNpy, runCliInProcess, tempDir } from '../helpers.js';
import { logits, worstRelative } from './transformer-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const model = (name: string): string => fixture('models', `${name}.onnx`);

describe('a mixture of experts with top-k routing', () => {
  it.each(['moe_topk_a', 'moe_topk_b'])('%s: onnxruntime computes the PyTorch logits of the first 32 test images (1e-4)', async (name) => {
    const got = await logits(readFileSync(model(name)), name);
    const want = readNpy(fixture('data', `${name}_logits.npy`)).data as Float32Array;
    expect(worstRelative(want.subarray(0, got.length), got)).toBeLessThan(1e-4);
  });

  it('the spec infers the expert group through TopK: 4 experts with the gate rows, each expert\'s hidden units carried, the routing weights as its activations', async () => {
    const spec = await inferSpec(await loadCheckpoint(model('moe_topk_a')));
    expect(spec.unknownOps).toEqual([]);
    const experts = spec.groups.filter((g) => g.experts);
    expect(experts).toHaveLength(1);
    const g = experts[0]!;
    expect(g.size).toBe(4);
    expect(g.parameters.map((a) => [a.tensor, a.axis])).toEqual([
      ['gate.weight', 0],
      ['gate.bias', 0],
    ]);
    expect(g.experts!.map((list) => list.map((e) => e.tensor))).toEqual([0, 1, 2, 3].map((k) => [`experts.${k}.0.weight`, `experts.${k}.0.bias`, `experts.${k}.2.weight`, `experts.${k}.2.bias`]));
    expect(g.carries).toHaveLength(1);
    expect(g.carries![0]!.map((m) => spec.groups[m!]!.parameters[0]!.tensor)).toEqual([0, 1, 2, 3].map((k) => `experts.${k}.0.weight`));
    expect(g.activations.map((a) => a.value)).toEqual(['/Softmax_output_0']);
    expect(spec.fixed.map((f) => f.label)).toEqual(['/head/Gemm output channels']);
  });

  it('permute --random exchanges the experts and keeps the logits (1e-4)', async () => {
    const out = tmp.path('permuted.onnx');
    const perms = tmp.path('perms.json');
    const r = await runCliInProcess('permute', model('moe_topk_a'), '--random', '--seed', '5', '-o', out, '--perm-out', perms);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const spec = await inferSpec(await loadCheckpoint(model('moe_topk_a')));
    const expertGroup = spec.groups.findIndex((g) => g.experts);
    const written = JSON.parse(readFileSync(perms, 'utf8')) as { groups: { size: number; permutation: number[] }[] };
    expect(written.groups[expertGroup]!.size).toBe(4);
    expect(written.groups[expertGroup]!.permutation.some((v, i) => v !== i)).toBe(true);
    const before = await logits(readFileSync(model('moe_topk_a')), 'moe_topk_a');
    const after = await logits(encodeModel((await loadCheckpoint(out)).model), 'moe_topk_a');
    expect(worstRelative(before, after)).toBeLessThan(1e-4);
  });
});
