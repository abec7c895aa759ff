/**
 * Symmetry-breaking constants (Lim et al. 2024) on the asymmetric MLP of
 * scripts/fixtures/make_asymmetric_fixtures.py: a fixed mask on fc1's weight and a fixed mixing
 * matrix F in σ_F(z) = sigmoid(Fz) ⊙ z, the same in both checkpoints, fix the groups they would
 * change; the all-ones scale after fc3 breaks nothing.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { align } from '../../lib/align/index.js';
import { permuteArena, permutedModel, randomPermutations } from '../../lib/align/permute.js';
import { inferSpec, sharedConstants } from '../../lib/align/spec/index.js';
import { loadCheckpoint, pairCheckpoints, type Checkpoint } from '../../lib/checkpoint.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { fixture, readNpy, runCliInProcess, tempDir } from '../helpers.js';

const model = (name: string): string => fixture('models', `${name}.onnx`);
const CONSTANTS = ['mask', 'mix', 'scale'];

async function logits(bytes: Uint8Array): Promise<Float32Array> {
  const x = readNpy(fixture('data', 'fashion_test_x_f32.npy'));
  const input = new Float32Array((x.data as Float32Array).subarray(0, 64 * 784).map((v) => (v - 0.286) / 0.353));
  const session = await ort.InferenceSession.create(bytes);
  try {
    return (await session.run({ input: new ort.Tensor('float32', input, [64, 1, 28, 28]) })).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const worst = (a: Float32Array, b: Float32Array): number => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i]!)), 0);

/** `arena` with the constants set back to the values `original` holds. */
function withOriginalConstants(cp: Checkpoint, arena: Float32Array): Float32Array {
  const out = arena.slice();
  for (const p of cp.parameters) if (CONSTANTS.includes(p.tensor)) out.set(cp.arena.subarray(p.offset, p.offset + p.length), p.offset);
  return out;
}

describe('symmetry-breaking constants (asymmetric networks)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('the fixtures give PyTorch’s logits (1e-4), and exactly the mask, F and the all-ones scale are shared by both checkpoints', async () => {
    const [a, b] = await Promise.all([loadCheckpoint(model('asym_a')), loadCheckpoint(model('asym_b'))]);
    pairCheckpoints(a, b);
    expect(sharedConstants(a, b).b.sort()).toEqual(['mask', 'mix', 'scale']);
    for (const [cp, name] of [[a, 'a'], [b, 'b']] as const) {
      expect(worst(await logits(encodeModel(cp.model)), readNpy(fixture('data', `asym_${name}_logits.npy`)).data as Float32Array)).toBeLessThan(1e-4);
    }
  });

  it('a constant that varies along a group’s axis fixes the group, with the reason; an all-ones constant does not; --permute-constants permutes them all', async () => {
    const [a, b] = await Promise.all([loadCheckpoint(model('asym_a')), loadCheckpoint(model('asym_b'))]);
    const spec = await inferSpec(b, { constants: sharedConstants(a, b).b });
    expect(spec.groups.map((g) => g.parameters.map((p) => `${p.tensor}:${p.axis}`))).toEqual([['fc3.weight:0', 'fc3.bias:0', 'scale:0', 'fc4.weight:1']]);
    expect(spec.fixed.map((f) => f.reasons)).toEqual([
      ["'mask' at node '/Mul' (Mul) is a constant (the same in both checkpoints, not trained) that varies along axis 0: permuting would change it"],
      ["'mix' at node '/Transpose' (Transpose) is a constant (the same in both checkpoints, not trained) that varies along axis 0: permuting would change it"],
      ["model output 'logits'"],
    ]);
    const loose = await inferSpec(b, { constants: sharedConstants(a, b).b, permuteConstants: true });
    expect(loose.groups.map((g) => g.size)).toEqual([64, 64, 64]);
  });

  it('permute --random --pair keeps the logits with the original constants in place (1e-4); permuting the constants and restoring them does not', async () => {
    const out = join(tmp.dir, 'asym_b_permuted.onnx');
    const r = await runCliInProcess('permute', model('asym_b'), '--pair', model('asym_a'), '--random', '--seed', '3', '-o', out, '--quiet');
    expect(r.status).toBe(0);
    const [b, moved] = await Promise.all([loadCheckpoint(model('asym_b')), loadCheckpoint(out)]);
    pairCheckpoints(b, moved);
    expect(moved.arena).not.toEqual(b.arena);
    const before = await logits(encodeModel(b.model));
    expect(worst(before, await logits(encodeModel(permutedModel(b, withOriginalConstants(b, moved.arena)).model)))).toBeLessThan(1e-4);
    // The symmetric family: F → PFPᵀ keeps the function only until the original F is put back.
    const a = await loadCheckpoint(model('asym_a'));
    const loose = await inferSpec(b, { constants: sharedConstants(a, b).b, permuteConstants: true });
    const arena = permuteArena(b, loose, randomPermutations(loose, 3));
    expect(worst(before, await logits(encodeModel(permutedModel(b, arena).model)))).toBeLessThan(1e-4);
    expect(worst(before, await logits(encodeModel(permutedModel(b, withOriginalConstants(b, arena)).model)))).toBeGreaterThan(1);
  });

  it('align finds the shared constants itself: only the symmetric layer is matched', async () => {
    const [a, b] = await Promise.all([loadCheckpoint(model('asym_a')), loadCheckpoint(model('asym_b'))]);
    const result = await align(a, b, { method: 'weight' });
    expect(result.spec.groups).toHaveLength(1);
    for (const p of b.parameters.filter((q) => CONSTANTS.includes(q.tensor))) {
      expect(result.aligned.arena.subarray(p.offset, p.offset + p.length)).toEqual(b.arena.subarray(p.offset, p.offset + p.length));
    }
    expect((await align(a, b, { method: 'weight', permuteConstants: true })).spec.groups).toHaveLength(3);
  });
});
