import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFromModel, loadCheckpoint, pairCheckpoints, type Checkpoint } from '../../lib/checkpoint.js';
import {
  checkPermutations,
  identityPermutations,
  inversePermutation,
  permuteArena,
  permuteArenaInPlace,
  permutedModel,
  permutationsFromJson,
  permutationsToJson,
  randomPermutations,
} from '../../lib/align/permute.js';
import { inferSpec } from '../../lib/align/spec/index.js';
import { align } from '../../lib/align/index.js';
import { PermutationError } from '../../lib/errors.js';
import { decodeModel, encodeModel, readModel, writeModel } from '../../lib/onnx/model.js';
import { newNode } from '../../lib/onnx/proto.js';
import { fixture, tempDir } from '../helpers.js';
import { maxAbsDiff, randomFloats, runModel, tinyCheckpoint, tinyModel } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Bitwise equality of two float arrays (fast, for large arenas). */
function sameFloats(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Permutes every group at random and checks the function is unchanged; returns the pieces. */
async function checkRandomPermutation(cp: Checkpoint, sample: number[], seed = 1): Promise<{ diff: number; changed: number; scale: number }> {
  const spec = await inferSpec(cp);
  // Re-seed until no group draws the identity (a 4-unit group does so once in 24 draws).
  let perms = randomPermutations(spec, seed);
  while (perms.some((p) => p.every((v, i) => v === i))) perms = randomPermutations(spec, ++seed);
  const arena = permuteArena(cp, spec, perms);
  const { model } = permutedModel(cp, arena);
  const x = randomFloats(4 * sample.reduce((a, d) => a * d, 1), 99);
  const dims = [4, ...sample];
  const before = await runModel(cp.model, x, dims);
  const after = await runModel(model, x, dims);
  let changed = 0;
  for (let i = 0; i < arena.length; i++) if (arena[i] !== cp.arena[i]) changed++;
  // The written model reads back as the same architecture with exactly the permuted parameters.
  const again = checkpointFromModel({ file: 'permuted.onnx', proto: decodeModel(encodeModel(model), 'permuted.onnx') });
  pairCheckpoints(cp, again);
  expect(sameFloats(again.arena, arena)).toBe(true);
  return { diff: maxAbsDiff(before, after), changed, scale: Math.max(...Array.from(before, Math.abs)) };
}

describe('a random permutation of every group leaves the function unchanged', () => {
  it.each([
    ['mlp_a', [1, 28, 28]],
    ['cnn_folded_a', [1, 28, 28]],
    ['cnn_bn_a', [1, 28, 28]],
    ['resnet_a', [1, 28, 28]],
    ['squeezenet1_1', [3, 64, 64]],
    ['mobilenet_v3_small', [3, 64, 64]],
  ])('%s', async (name, sample) => {
    const cp = await loadCheckpoint(fixture('models', `${name}.onnx`));
    const r = await checkRandomPermutation(cp, sample);
    expect(r.changed).toBeGreaterThan(cp.arena.length / 4);
    expect(r.diff).toBeLessThanOrEqual(1e-4);
    expect(r.scale).toBeGreaterThan(1e-2);
  });

  // torchvision ResNet-18/50 (random init): from make_fixtures.py --large when it was run, else
  // exported here by make_align_fixtures.py --torchvision-resnets where python3-torch is installed.
  const python = '/usr/bin/python3';
  const hasTorch = existsSync(python) && spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' }).status === 0;
  const generated = (name: string): string | undefined => {
    const committed = fixture('generated', `${name}.onnx`);
    if (existsSync(committed)) return committed;
    if (!hasTorch) return undefined;
    const dir = join(tmp.dir, 'torchvision');
    const file = join(dir, `${name}.onnx`);
    if (!existsSync(file)) {
      const script = fixture('..', '..', 'scripts', 'fixtures', 'make_align_fixtures.py');
      const r = spawnSync(python, [script, '--torchvision-resnets', dir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`make_align_fixtures.py --torchvision-resnets failed: ${r.stderr}`);
    }
    return file;
  };
  const canGenerate = hasTorch || (existsSync(fixture('generated', 'resnet18_a.onnx')) && existsSync(fixture('generated', 'resnet50_a.onnx')));
  for (const name of ['resnet18_a', 'resnet50_a']) {
    it.skipIf(!canGenerate)(`torchvision ${name} (random init; skipped where python3-torch is not installed)`, async () => {
      const cp = await loadCheckpoint(generated(name)!);
      const r = await checkRandomPermutation(cp, [3, 32, 32]);
      expect(r.changed).toBeGreaterThan(cp.arena.length / 4);
      expect(r.diff).toBeLessThanOrEqual(1e-4);
      expect(r.scale).toBeGreaterThan(1e-2);
    });
  }

  it('grouped convolution, channel-last Flatten and an unknown op (CumSum): still unchanged', async () => {
    const models = [
      tinyModel({
        inputShape: [2, 5, 5],
        nodes: [
          { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
          { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
          { op: 'Conv', inputs: ['r1', 'w2', 'b2'], outputs: ['c2'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 } },
          { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
          { op: 'Transpose', inputs: ['r2'], outputs: ['t'], attrs: { perm: [0, 2, 3, 1] } },
          { op: 'Flatten', inputs: ['t'], outputs: ['f'], attrs: { axis: 1 } },
          { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
        ],
        params: { w1: [4, 2, 3, 3], b1: [4], w2: [6, 2, 3, 3], b2: [6], w3: [3, 150], b3: [3] },
      }),
      tinyModel({
        inputShape: [6],
        nodes: [
          { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { transB: 1 } },
          { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
          { op: 'CumSum', inputs: ['r1', 'axis'], outputs: ['c1'] },
          { op: 'Gemm', inputs: ['c1', 'w2', 'b2'], outputs: ['h2'], attrs: { transB: 1 } },
          { op: 'Relu', inputs: ['h2'], outputs: ['r2'] },
          { op: 'Gemm', inputs: ['r2', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
        ],
        params: { w1: [5, 6], b1: [5], w2: [4, 5], b2: [4], w3: [3, 4], b3: [3] },
        ints: { axis: [1] },
      }),
    ];
    for (const [k, m] of models.entries()) {
      const r = await checkRandomPermutation(tinyCheckpoint(m), k === 0 ? [2, 5, 5] : [6], 3);
      expect(r.changed).toBeGreaterThan(0);
      expect(r.diff).toBeLessThanOrEqual(1e-5);
    }
  });

  it('Split, Pad, squeeze-excitation, Concat, Slice, Transpose and Reshape: still unchanged', async () => {
    const m = tinyModel({
      inputShape: [3, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Split', inputs: ['r1', 'split'], outputs: ['s1', 's2'], attrs: { axis: 1 } },
        { op: 'Pad', inputs: ['s2', 'pads'], outputs: ['p'] },
        { op: 'Conv', inputs: ['p', 'w2', 'b2'], outputs: ['c2'], attrs: { kernel_shape: [3, 3] } },
        { op: 'ReduceMean', inputs: ['s1'], outputs: ['m'], attrs: { axes: [2, 3], keepdims: 1 } },
        { op: 'Sigmoid', inputs: ['m'], outputs: ['g'] },
        { op: 'Mul', inputs: ['s1', 'g'], outputs: ['s1g'] },
        { op: 'Concat', inputs: ['s1g', 'c2'], outputs: ['cat'], attrs: { axis: 1 } },
        { op: 'Slice', inputs: ['cat', 'starts', 'ends', 'axes'], outputs: ['sl'] },
        { op: 'Conv', inputs: ['sl', 'w3', 'b3'], outputs: ['c3'], attrs: { kernel_shape: [1, 1] } },
        { op: 'Relu', inputs: ['c3'], outputs: ['r3'] },
        { op: 'Transpose', inputs: ['r3'], outputs: ['t'], attrs: { perm: [0, 2, 3, 1] } },
        { op: 'Reshape', inputs: ['t', 'shape'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'w4', 'b4'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [8, 3, 3, 3], b1: [8], w2: [4, 5, 3, 3], b2: [4], w3: [6, 5, 1, 1], b3: [6], w4: [2, 150], b4: [2] },
      ints: { split: [3, 5], pads: [0, 0, 1, 1, 0, 0, 1, 1], starts: [1], ends: [6], axes: [1], shape: [0, -1] },
    });
    const cp = tinyCheckpoint(m);
    const spec = await inferSpec(cp);
    expect(spec.unknownOps).toEqual([]);
    // conv1's 8 channels: [0:3) gated by themselves (with [0:1) and [1:3) cut apart by the Slice), [3:8) padded into conv2;
    // conv2's 4 channels cut into [0:3) and [3:4) by the Slice; conv3's 6 channels flattened channel-last.
    expect(spec.groups.map((g) => g.size).sort((a, b) => a - b)).toEqual([2, 3, 5, 6]);
    const r = await checkRandomPermutation(cp, [3, 5, 5], 2);
    expect(r.diff).toBeLessThanOrEqual(1e-5);
  });

  it('MatMul + Add, LayerNormalization, Softmax and a token-mixing MatMul: still unchanged', async () => {
    const m = tinyModel({
      inputShape: [4, 6],
      opset: 17,
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'], name: '/fc1/MatMul' },
        { op: 'Add', inputs: ['h', 'b1'], outputs: ['hb'], name: '/fc1/Add' },
        { op: 'LayerNormalization', inputs: ['hb', 'ln_w', 'ln_b'], outputs: ['ln'], attrs: { axis: -1 } },
        { op: 'Softmax', inputs: ['ln'], outputs: ['sm'], attrs: { axis: -1 } },
        { op: 'MatMul', inputs: ['sm', 'w2'], outputs: ['h2'] },
        { op: 'Transpose', inputs: ['h2'], outputs: ['t'], attrs: { perm: [0, 2, 1] } },
        { op: 'MatMul', inputs: ['t', 'w3'], outputs: ['h3'] },
        { op: 'Flatten', inputs: ['h3'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w4', 'b4'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [6, 8], b1: [8], ln_w: [8], ln_b: [8], w2: [8, 5], w3: [4, 3], w4: [2, 15], b4: [2] },
    });
    const cp = tinyCheckpoint(m);
    const spec = await inferSpec(cp);
    expect(spec.unknownOps).toEqual([]);
    const hidden = spec.groups.find((g) => g.size === 8)!;
    expect(hidden.parameters.map((a) => `${a.tensor}:${a.axis}`)).toEqual(['w1:1', 'b1:0', 'ln_w:0', 'ln_b:0', 'w2:0']);
    // Flatten of [N, 5, 3] merges two permutable axes: both stay fixed, with the reason.
    expect(spec.fixed.some((f) => f.reasons.some((x) => /merges two permutable axes/.test(x)))).toBe(true);
    const r = await checkRandomPermutation(cp, [4, 6], 4);
    expect(r.diff).toBeLessThanOrEqual(1e-5);
  });

  it('the check can fail: permuting a layer without its consumer changes the outputs', async () => {
    const cp = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    const spec = await inferSpec(cp);
    const broken = { ...spec, groups: spec.groups.map((g) => ({ ...g, parameters: g.parameters.filter((a) => a.tensor !== 'fc2.weight' || a.axis !== 1) })) };
    const arena = permuteArena(cp, broken, randomPermutations(broken, 1));
    const x = randomFloats(4 * 784, 99);
    const diff = maxAbsDiff(await runModel(cp.model, x, [4, 1, 28, 28]), await runModel(permutedModel(cp, arena).model, x, [4, 1, 28, 28]));
    expect(diff).toBeGreaterThan(0.1);
  });
});

describe('writing permuted models', () => {
  it('unties a tensor shared by two uses that are permuted differently, and keeps the function', async () => {
    // As PyTorch's exporter does for equal tensors: fc2's bias read through an Identity alias of fc1's bias.
    const model = (await readModel(fixture('models', 'mlp_a.onnx'))).proto;
    const graph = model.graph!;
    const fc1b = graph.initializer!.find((t) => t.name === 'fc1.bias')!;
    graph.node!.unshift(newNode({ opType: 'Identity', input: ['fc1.bias'], output: ['fc2.bias'], name: 'Identity_0' }));
    graph.initializer = graph.initializer!.filter((t) => t.name !== 'fc2.bias');
    expect(fc1b.dims!.map(Number)).toEqual([256]);
    const file = join(tmp.dir, 'shared.onnx');
    await writeModel(model, file);
    const cp = await loadCheckpoint(file);
    expect(cp.parameters.filter((p) => p.tensor === 'fc1.bias')).toHaveLength(2);
    const spec = await inferSpec(cp);
    const perms = randomPermutations(spec, 5);
    const arena = permuteArena(cp, spec, perms);
    const { model: out, untied } = permutedModel(cp, arena);
    expect(untied).toEqual([{ tensor: 'fc1.bias', names: ['fc1.bias.llfc_use3'], nodes: ['/fc2/Gemm'] }]);
    expect(out.graph!.node!.some((n) => n.opType === 'Identity')).toBe(false);
    const x = randomFloats(3 * 784, 4);
    expect(maxAbsDiff(await runModel(cp.model, x, [3, 1, 28, 28]), await runModel(out, x, [3, 1, 28, 28]))).toBeLessThanOrEqual(1e-4);
    // Identity permutations write the shared tensor once, as it was.
    const same = permutedModel(cp, permuteArena(cp, spec, identityPermutations(spec)));
    expect(same.untied).toEqual([]);
    expect(same.model.graph!.node!.filter((n) => n.opType === 'Identity')).toHaveLength(1);
  });

  it('round-trips permutations through JSON and refuses ones that do not fit', async () => {
    const cp = await loadCheckpoint(fixture('models', 'cnn_bn_a.onnx'));
    const spec = await inferSpec(cp);
    const perms = randomPermutations(spec, 11);
    const json = JSON.parse(JSON.stringify(permutationsToJson(spec, perms)));
    expect(permutationsFromJson(spec, json, 'perms.json')).toEqual(perms);
    const bad = structuredClone(json);
    bad.groups[1].permutation[0] = bad.groups[1].permutation[1];
    expect(() => permutationsFromJson(spec, bad, 'perms.json')).toThrow(/perms\.json: the permutation of group 1 .* is not a permutation/);
    const mlpSpec = await inferSpec(await loadCheckpoint(fixture('models', 'mlp_a.onnx')));
    expect(() => permutationsFromJson(mlpSpec, json, 'perms.json')).toThrow(PermutationError);
    expect(() => permutationsFromJson(spec, { hello: 1 }, 'x.json')).toThrow(/not an llfc permutations file/);
    expect(() => checkPermutations(spec, perms.slice(1))).toThrow(/1 permutations given for the 2 groups/);
  });

  it('applying a permutation and then its inverse gives the arena back exactly', async () => {
    const cp = await loadCheckpoint(fixture('models', 'resnet_a.onnx'));
    const spec = await inferSpec(cp);
    const perms = randomPermutations(spec, 2);
    const there = permuteArena(cp, spec, perms);
    const back = permuteArena(cp, spec, perms.map(inversePermutation), there);
    expect(sameFloats(back, cp.arena)).toBe(true);
    expect(sameFloats(there, cp.arena)).toBe(false);
    expect(readFileSync(fixture('models', 'resnet_a.onnx')).length).toBeGreaterThan(0);
  });

  it.each(['resnet_a', 'moe_a'])('%s: permuting in place gives the permuted copy bit for bit, in the array given', async (name) => {
    const cp = await loadCheckpoint(fixture('models', `${name}.onnx`));
    const spec = await inferSpec(cp);
    const perms = randomPermutations(spec, 3);
    const copy = permuteArena(cp, spec, perms);
    const arena = cp.arena.slice();
    expect(permuteArenaInPlace(cp, spec, perms, arena)).toBe(arena);
    expect(sameFloats(arena, copy)).toBe(true);
    expect(sameFloats(arena, cp.arena)).toBe(false);
    expect(() => permuteArenaInPlace(cp, spec, perms, arena.subarray(1))).toThrow(PermutationError);
  });

  it('align with consumeB: the aligned B is B\'s arena permuted in place, equal to the copy align makes otherwise', async () => {
    const pair = () => Promise.all([loadCheckpoint(fixture('models', 'mlp_a.onnx')), loadCheckpoint(fixture('models', 'mlp_b.onnx'))]);
    const [a, b] = await pair();
    const copied = await align(a, b, { method: 'weight' });
    expect(copied.aligned.arena).not.toBe(b.arena);
    const [a2, b2] = await pair();
    const consumed = await align(a2, b2, { method: 'weight', consumeB: true });
    expect(consumed.aligned.arena).toBe(b2.arena);
    expect(consumed.permutations).toEqual(copied.permutations);
    expect(sameFloats(consumed.aligned.arena, copied.aligned.arena)).toBe(true);
    expect(sameFloats(consumed.aligned.arena, b.arena)).toBe(false);
  });
});
