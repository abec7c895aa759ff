/**
 * The dynamo exporter's forms that the base conversion leaves out (scripts/fixtures/dynamo_variants.py):
 * an all-zero bias dropped in one checkpoint of a transformer pair and kept in the other, the Gelu op
 * of opset 20 (approximate 'none' and 'tanh'), and nn.MultiheadAttention's fused in_proj cut by one
 * Split. Every check works on each and equals its PyTorch reference: the zero-bias pair's own
 * (reference/dynamo_variants.json), the others their sources' (they compute what the sources compute).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze, interpolate, lmc } from '../../lib/api.js';
import { loadCheckpoint, pairCheckpoints } from '../../lib/checkpoint.js';
import { loadPair } from '../../lib/load-checkpoints.js';
import { describeAction, inferSpec, type PermutationGroup } from '../../lib/align/spec/index.js';
import { readModel } from '../../lib/onnx/model.js';
import { expectLmcReference, type LmcCurveReference } from '../checks/lmc-reference.js';
import { expectMechanismsThroughLegacy, type MechanismsReference } from '../checks/mechanisms-reference.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';
import { expectSpecAndRandomPermutation } from './transformer-inputs.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const json = <T>(name: string): T => JSON.parse(readFileSync(fixture('reference', name), 'utf8')) as T;
const lmcRefs = json<Record<string, LmcCurveReference>>('transformer_lmc.json');
const mechRefs = json<Record<string, MechanismsReference>>('transformer_mechanisms.json');
const rms = json<{ lmc: LmcCurveReference; mechanisms: MechanismsReference }>('transformer_rms.json');
const zeroBias = json<{ zeroBias: { lmc: LmcCurveReference; mechanisms: MechanismsReference } }>('dynamo_variants.json').zeroBias;

const dynamo = (name: string) => fixture('models', 'dynamo', `${name}.onnx`);
const legacy = (name: string) => fixture('models', `${name}.onnx`);
const data = (limit?: number) => ({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit });

/** Each form, its PyTorch reference and the legacy export whose graph the reference names nodes in. */
const FORMS = [
  { form: 'vit_zero_bias', what: 'an all-zero bias dropped in one checkpoint', lmc: zeroBias.lmc, mechanisms: zeroBias.mechanisms, source: 'vit_hand' },
  { form: 'vit_hand_gelu', what: "the Gelu op (approximate 'none')", lmc: lmcRefs.vit_hand!, mechanisms: mechRefs.vit_hand!, source: 'vit_hand' },
  { form: 'vit_rms_gelu', what: "the Gelu op (approximate 'tanh')", lmc: rms.lmc, mechanisms: rms.mechanisms, source: 'vit_rms' },
  { form: 'vit_mha_split', what: 'a Split of the fused QKV', lmc: lmcRefs.vit_mha!, mechanisms: mechRefs.vit_mha!, source: 'vit_mha' },
];

describe('dynamo export forms: every check equals the PyTorch reference', () => {
  it.each(FORMS)('$form ($what): the LMC curve equals the PyTorch reference (loss 1e-4 relative, accuracy exact)', async ({ form, lmc: ref }) => {
    expectLmcReference(await lmc({ a: dynamo(`${form}_a`), b: dynamo(`${form}_b`), data: data() }, { alphas: ref.alphas, batchSize: 500 }), ref);
  });

  it.each(FORMS)('$form ($what): LLFC, weak additivity and commutativity per layer equal the PyTorch forward-hook reference (1e-4)', async ({ form, mechanisms: ref, source }) => {
    const result = await analyze({ a: dynamo(`${form}_a`), b: dynamo(`${form}_b`), data: data(ref.samples) }, { alphas: ref.alphas, batchSize: 125 });
    await expectMechanismsThroughLegacy(result, ref, legacy(`${source}_a`));
  });

  it.each(FORMS)('$form ($what): interpolate writes θ(½), whose loss is the reference curve’s at α = ½', async ({ form, lmc: ref }) => {
    const out = join(tmp.dir, `${form}_mid.onnx`);
    await interpolate(dynamo(`${form}_a`), dynamo(`${form}_b`), 0.5, out);
    const mid = await lmc({ a: out, b: out, data: data() }, { alphas: [0], batchSize: 500 });
    const half = ref.alphas.indexOf(0.5);
    expect(Math.abs(mid.loss[0]! - ref.loss[half]!) / ref.loss[half]!).toBeLessThan(1e-4);
    expect(mid.accuracy[0]).toBe(ref.accuracy[half]);
  });

  it.each(FORMS.flatMap(({ form }) => [`${form}_a`, `${form}_b`]))('%s: spec finds groups and explains what it leaves fixed; permute --random keeps the logits (1e-4)', async (name) => {
    await expectSpecAndRandomPermutation(dynamo(name), name, join(tmp.dir, `${name}_permuted.onnx`));
  });
});

describe('an all-zero bias dropped in one checkpoint of a transformer pair', () => {
  it('A lacks the head Gemm’s bias and B the patch Conv’s; pairing restores each as zeros, and every other parameter is the file’s', async () => {
    const [rawA, rawB] = await Promise.all([loadCheckpoint(dynamo('vit_zero_bias_a')), loadCheckpoint(dynamo('vit_zero_bias_b'))]);
    expect(rawA.parameters.map((p) => p.tensor)).not.toContain('head.bias');
    expect(rawB.parameters.map((p) => p.tensor)).not.toContain('patch.bias');
    expect(() => pairCheckpoints(rawA, rawB)).toThrow();
    const [a, b] = await loadPair(dynamo('vit_zero_bias_a'), dynamo('vit_zero_bias_b'));
    pairCheckpoints(a, b);
    expect(a.arena.length).toBe(b.arena.length);
    const zeros = (c: typeof a, tensor: string) => {
      const p = c.parameters.find((x) => x.tensor === tensor)!;
      return [...c.arena.subarray(p.offset, p.offset + p.length)].every((v) => v === 0);
    };
    expect([zeros(a, 'head.bias'), zeros(b, 'patch.bias'), zeros(a, 'patch.bias'), zeros(b, 'head.bias')]).toEqual([true, true, false, false]);
  });

  it('interpolate writes the restored bias into θ(½): the head Gemm of the written model has a bias, half of B’s', async () => {
    const out = join(tmp.dir, 'zero_bias_half.onnx');
    await interpolate(dynamo('vit_zero_bias_a'), dynamo('vit_zero_bias_b'), 0.5, out);
    const [mid, b] = await Promise.all([loadCheckpoint(out), loadCheckpoint(dynamo('vit_zero_bias_b'))]);
    const bias = (c: typeof mid) => {
      const p = c.parameters.find((x) => x.tensor === 'head.bias')!;
      return [...c.arena.subarray(p.offset, p.offset + p.length)];
    };
    bias(mid).forEach((v, i) => expect(v).toBeCloseTo(bias(b)[i]! / 2, 6));
  });

  it('spec and permute with --pair load the partner as a pair: the bias one dropped is restored, so they pair and run', async () => {
    const r = await runCliInProcess('spec', dynamo('vit_zero_bias_a'), '--pair', dynamo('vit_zero_bias_b'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^permutation spec of .*vit_zero_bias_a\.onnx/);
    const out = join(tmp.dir, 'zero_bias_permuted.onnx');
    expect((await runCliInProcess('permute', dynamo('vit_zero_bias_a'), '--pair', dynamo('vit_zero_bias_b'), '--random', '-o', out, '--quiet')).status).toBe(0);
  });
});

describe('the Gelu op (opset 20)', () => {
  it.each([['vit_hand_gelu_a', 'none', 'vit_hand_a'], ['vit_rms_gelu_a', 'tanh', 'vit_rms_a']])(
    '%s: each GELU is one Gelu op (approximate %s), an activation of the default layers with weak additivity, as its decomposition is',
    async (name, approximate, decomposed) => {
      const graph = (await readModel(dynamo(name))).proto.graph!;
      const gelus = graph.node.filter((n) => n.opType === 'Gelu');
      expect(gelus).toHaveLength(2);
      for (const g of gelus) expect(new TextDecoder().decode(g.attribute.find((x) => x.name === 'approximate')!.s)).toBe(approximate);
      expect(graph.node.some((n) => n.opType === 'Erf' || n.opType === 'Tanh')).toBe(false);
      const options = { alphas: [0.5], batchSize: 125 };
      const [fused, split] = await Promise.all([
        analyze({ a: dynamo(name), b: dynamo(name.replace('_a', '_b')), data: data(125) }, options),
        analyze({ a: dynamo(decomposed), b: dynamo(decomposed.replace('_a', '_b')), data: data(125) }, options),
      ]);
      expect(fused.layers.map((l) => [l.module, l.kind, l.op])).toEqual(split.layers.map((l) => [l.module, l.kind, l.op]));
      const activations = fused.layers.filter((l) => l.kind === 'activation');
      expect(activations.map((l) => [l.module, l.op])).toEqual([['blocks.0.mlp.act', 'Gelu'], ['blocks.1.mlp.act', 'Gelu']]);
      activations.forEach((l) => expect(l.weakAdditivity).toHaveLength(1));
    },
  );
});

describe('a Split of nn.MultiheadAttention’s fused QKV', () => {
  const acts = (g: PermutationGroup): string[] => g.parameters.map((a) => describeAction(a, g.size));

  it('spec infers through the Split the same groups as through the three Slices: per layer a head group of 4 moving blocks of 8 in each third, carrying 4 within-head QK and 4 V groups', async () => {
    const [split, sliced] = await Promise.all([loadCheckpoint(dynamo('vit_mha_split_a')), loadCheckpoint(dynamo('vit_mha_a'))]);
    const graph = split.model.graph!;
    expect(graph.node.filter((n) => n.opType === 'Split')).toHaveLength(2);
    const [s, l] = await Promise.all([inferSpec(split), inferSpec(sliced)]);
    const shape = (g: PermutationGroup) => [g.size, acts(g), g.carries ?? null];
    expect(s.groups.map(shape)).toEqual(l.groups.map(shape));
    const heads = s.groups.filter((g) => g.carries);
    expect(heads).toHaveLength(2);
    for (const h of heads) {
      expect(h.size).toBe(4);
      expect(h.carries!.map((c) => c.length)).toEqual([4, 4]);
      expect(acts(h).slice(0, 3).map((a) => a.replace(/^\S+ /, ''))).toEqual(['axis 1 [0:32) in blocks of 8', 'axis 1 [32:64) in blocks of 8', 'axis 1 [64:96) in blocks of 8']);
    }
    expect(s.unknownOps).toEqual([]);
  });
});
