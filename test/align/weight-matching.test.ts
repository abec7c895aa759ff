import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset } from '../../lib/dataset/index.js';
import { align } from '../../lib/align/index.js';
import { AxisMaps, inversePermutation, permuteArena, randomPermutations } from '../../lib/align/permute.js';
import { BoundSpec, inferSpec, type ParameterAction, type PermutationSpec } from '../../lib/align/spec/index.js';
import { WeightCost, weightMatching } from '../../lib/align/weight-matching.js';
import { CancelledError, CheckpointMismatchError, InvalidArgumentError, PermutationError } from '../../lib/errors.js';
import { native } from '../../lib/native.js';
import { fixture } from '../helpers.js';
import { tinyCheckpoint, tinyModel } from './helpers.js';

interface Reference {
  groups: { name: string; size: number; actions: [string, number, number, number][]; carries?: number[][] }[];
  orders: number[][];
  initialObjective: number;
  objective: number[];
  gains: number[];
  sweeps: number;
  permutations: number[][];
}

const reference = JSON.parse(readFileSync(fixture('reference', 'weight_matching.json'), 'utf8')) as Reference;
const gptReference = JSON.parse(readFileSync(fixture('reference', 'weight_matching_gpt.json'), 'utf8')) as Reference;

/** Our group index for each of the reference's groups, matched by the tensors, axes and positions they act on. */
function groupMapByActions(spec: PermutationSpec, ref: Reference): number[] {
  const key = (actions: [string, number, number, number][]): string => actions.map((x) => x.join(':')).sort().join(' ');
  const ours = spec.groups.map((g) => key(g.parameters.map((p) => [p.tensor, p.axis, p.offset, p.inner])));
  return ref.groups.map((g) => ours.indexOf(key(g.actions)));
}

/** Our group index for each of the reference's groups, matched by the (tensor, axis) pairs they act on. */
function groupMap(spec: PermutationSpec): number[] {
  const key = (pairs: [string, number][]): string => pairs.map(([t, a]) => `${t}:${a}`).sort().join(' ');
  const ours = spec.groups.map((g) => key(g.parameters.map((p) => [p.tensor, p.axis])));
  return reference.groups.map((g) => ours.indexOf(key(g.actions.map(([t, a]) => [t, a]))));
}

function planted(a: Checkpoint, spec: PermutationSpec, seed: number): { b: Checkpoint; perms: Int32Array[] } {
  const perms = randomPermutations(spec, seed);
  return { b: { ...a, file: `${a.file} (permuted)`, arena: permuteArena(a, spec, perms) }, perms };
}

const model = (name: string): string => fixture('models', `${name}.onnx`);

describe('weight matching', () => {
  it('matches the numpy + scipy reference on the MLP pair, sweep by sweep (same group orders)', async () => {
    const a = await loadCheckpoint(model('mlp_a'));
    const b = await loadCheckpoint(model('mlp_b'));
    const spec = await inferSpec(b);
    const map = groupMap(spec);
    expect(map).toEqual([0, 1]);
    const orders = reference.orders.map((o) => o.map((g) => map[g]!));
    const r = await weightMatching(a, b, spec, { orders });
    expect(r.initialObjective).toBeCloseTo(reference.initialObjective, 9);
    expect(r.sweeps).toBe(reference.sweeps);
    r.objective.forEach((o, k) => expect(Math.abs(o - reference.objective[k]!) / Math.abs(reference.objective[k]!)).toBeLessThan(1e-6));
    expect(r.converged).toBe(true);
    expect(r.gains[r.gains.length - 1]).toBeLessThanOrEqual(1e-12);
    // objective never decreases, and it really grew
    for (let k = 1; k < r.objective.length; k++) expect(r.objective[k]!).toBeGreaterThanOrEqual(r.objective[k - 1]! - 1e-9);
    expect(r.objective[r.objective.length - 1]!).toBeGreaterThan(20 * r.initialObjective);
    const same = reference.permutations.map((p, g) => p.filter((v, i) => v === r.permutations[map[g]!]![i]).length / p.length);
    expect(Math.min(...same)).toBeGreaterThan(0.99);
  });

  it('matches the numpy + scipy reference on the byte GPT pair, head steps included, sweep by sweep (same group orders)', async () => {
    const a = await loadCheckpoint(model('lm_untied_a'));
    const b = await loadCheckpoint(model('lm_untied_b'));
    const spec = await inferSpec(b);
    const map = groupMapByActions(spec, gptReference);
    // every group of the hand-written spec is one of ours, carrying the same groups
    expect(map.every((g) => g >= 0)).toBe(true);
    expect(new Set(map).size).toBe(spec.groups.length);
    gptReference.groups.forEach((g, k) => expect(spec.groups[map[k]!]!.carries ?? null).toEqual(g.carries?.map((m) => m.map((x) => map[x]!)) ?? null));
    const orders = gptReference.orders.map((o) => o.map((g) => map[g]!));
    const r = await weightMatching(a, b, spec, { orders });
    expect(r.initialObjective).toBeCloseTo(gptReference.initialObjective, 9);
    expect(r.sweeps).toBe(gptReference.sweeps);
    r.objective.forEach((o, k) => expect(Math.abs(o - gptReference.objective[k]!) / Math.abs(gptReference.objective[k]!)).toBeLessThan(1e-9));
    // (the costs are float32 products here, float64 there)
    r.gains.forEach((g, k) => expect(Math.abs(g - gptReference.gains[k]!)).toBeLessThan(1e-6 * gptReference.gains[0]!));
    // the same heads and the same dims inside every head
    gptReference.permutations.forEach((p, g) => expect(Array.from(r.permutations[map[g]!]!)).toEqual(p));
    expect(r.objective[r.objective.length - 1]!).toBeGreaterThan(5 * r.initialObjective);
  });

  // Trained networks. (On random-init torchvision networks the descent from the identities can
  // stop at a local optimum: squeezenet1_1 reaches about a quarter of the planted objective.)
  it.each(['mlp_a', 'cnn_bn_a', 'resnet_a'])('recovers a planted permutation exactly (%s)', async (name) => {
    const a = await loadCheckpoint(model(name));
    const spec = await inferSpec(a);
    const { b, perms } = planted(a, spec, 21);
    const r = await weightMatching(a, b, spec, { seed: 4 });
    r.permutations.forEach((p, g) => expect(Array.from(p)).toEqual(Array.from(inversePermutation(perms[g]!))));
    const aligned = permuteArena(b, spec, r.permutations);
    expect(Buffer.from(aligned.buffer).equals(Buffer.from(a.arena.buffer))).toBe(true);
    expect(r.converged).toBe(true);
  });

  it('a seeded order is reproducible, and another seed still converges', async () => {
    const a = await loadCheckpoint(model('cnn_folded_a'));
    const b = await loadCheckpoint(model('cnn_folded_b'));
    const spec = await inferSpec(b);
    const r1 = await weightMatching(a, b, spec, { seed: 7 });
    const r2 = await weightMatching(a, b, spec, { seed: 7 });
    expect(r2.orders).toEqual(r1.orders);
    expect(r2.objective).toEqual(r1.objective);
    const r3 = await weightMatching(a, b, spec, { seed: 8 });
    expect(r3.converged).toBe(true);
    expect(r3.objective[r3.objective.length - 1]!).toBeGreaterThan(r3.initialObjective);
  });

  it('brings the loss barrier of the real MLP pair far below the naive one', async () => {
    const a = await loadCheckpoint(model('mlp_a'));
    const b = await loadCheckpoint(model('mlp_b'));
    const data = await openDataset({
      data: fixture('data', 'fashion_test_x.npy'),
      labels: fixture('data', 'fashion_test_y.npy'),
      normalize: { mean: [0.286], std: [0.353] },
      limit: 1000,
    });
    const alphas = [0, 0.25, 0.5, 0.75, 1];
    const result = await align(a, b, { method: 'weight' });
    const naive = await linearModeConnectivity(a, b, data, { alphas });
    const aligned = await linearModeConnectivity(a, result.aligned, data, { alphas });
    expect(naive.barriers!.loss).toBeGreaterThan(0.5);
    expect(aligned.barriers!.loss).toBeLessThan(0.25 * naive.barriers!.loss);
    // the aligned B is B: same endpoint loss
    expect(aligned.loss[4]).toBeCloseTo(naive.loss[4]!, 5);
  });

  it('refuses bad orders, a spec of another model, mismatched pairs, and stops when cancelled', async () => {
    const a = await loadCheckpoint(model('mlp_a'));
    const b = await loadCheckpoint(model('mlp_b'));
    const spec = await inferSpec(b);
    await expect(weightMatching(a, b, spec, { orders: [[0, 0]] })).rejects.toThrow(InvalidArgumentError);
    await expect(weightMatching(a, b, spec, { orders: [[0, 0]] })).rejects.toThrow(/orders\[0\] is not a permutation of the 2 group indices/);
    const cnn = await loadCheckpoint(model('cnn_bn_a'));
    const cnnSpec = await inferSpec(cnn);
    await expect(weightMatching(a, b, cnnSpec)).rejects.toThrow(PermutationError);
    await expect(weightMatching(a, cnn, spec)).rejects.toThrow(CheckpointMismatchError);
    const controller = new AbortController();
    controller.abort('stop');
    await expect(weightMatching(a, b, spec, { signal: controller.signal })).rejects.toThrow(CancelledError);
  });

  it('a model without permutable groups (a hidden layer of width 1) aligns to the identity', async () => {
    const narrow = (seed: number) =>
      tinyModel({
        inputShape: [4],
        nodes: [
          { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
          { op: 'Relu', inputs: ['h'], outputs: ['r'] },
          { op: 'Gemm', inputs: ['r', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
        ],
        params: { w1: [1, 4], b1: [1], w2: [3, 1], b2: [3] },
        seed,
      });
    const a = tinyCheckpoint(narrow(1), 'narrow_a.onnx');
    const b = tinyCheckpoint(narrow(50), 'narrow_b.onnx');
    const r = await align(a, b, { method: 'weight' });
    expect(r.permutations).toEqual([]);
    expect(r.spec.trivial).toHaveLength(1);
    expect(r.weightMatching!.converged).toBe(true);
    expect(r.aligned.arena).toEqual(b.arena);
  });

  it('starting from the true permutations stays there (the planted optimum is a fixed point)', async () => {
    const a = await loadCheckpoint(model('squeezenet1_1'));
    const spec = await inferSpec(a);
    const { b, perms } = planted(a, spec, 21);
    const truth = perms.map(inversePermutation);
    const r = await weightMatching(a, b, spec, { initial: truth });
    expect(r.sweeps).toBe(1);
    r.permutations.forEach((p, g) => expect(Array.from(p)).toEqual(Array.from(truth[g]!)));
    let norm = 0;
    for (const v of a.arena) norm += v * v;
    expect(r.objective[0]! / norm).toBeCloseTo(1, 9);
  });
});

describe('the weight-matching cost of a group', () => {
  it('is Σ A·(B with its other axes permuted)ᵀ over the tensors it acts on, and follows changes of the other groups', async () => {
    const mlp = (seed: number) =>
      tinyModel({
        inputShape: [4],
        nodes: [
          { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { transB: 1 } },
          { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
          { op: 'Gemm', inputs: ['r1', 'w2', 'b2'], outputs: ['h2'], attrs: { transB: 1 } },
          { op: 'Relu', inputs: ['h2'], outputs: ['r2'] },
          { op: 'Gemm', inputs: ['r2', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
        ],
        params: { w1: [5, 4], b1: [5], w2: [6, 5], b2: [6], w3: [3, 6], b3: [3] },
        seed,
      });
    const a = tinyCheckpoint(mlp(1), 'a.onnx');
    const b = tinyCheckpoint(mlp(40), 'b.onnx');
    const bound = BoundSpec.of(b, await inferSpec(b));
    expect(bound.spec.groups.map((g) => g.size)).toEqual([5, 6]);
    const values = (c: Checkpoint, tensor: string): Float32Array => {
      const p = c.parameters.find((q) => q.tensor === tensor)!;
      return c.arena.subarray(p.offset, p.offset + p.length);
    };
    const [w1a, b1a, w2a] = ['w1', 'b1', 'w2'].map((t) => values(a, t));
    const [w1b, b1b, w2b] = ['w1', 'b1', 'w2'].map((t) => values(b, t));
    // Group 0 (the 5 units of layer 1) acts on w1 rows, b1 and w2 columns; w2's rows belong to group 1 (at π1).
    const direct = (pi1: Int32Array): number[] => {
      const c: number[] = [];
      for (let i = 0; i < 5; i++) {
        for (let j = 0; j < 5; j++) {
          let s = b1a![i]! * b1b![j]!;
          for (let k = 0; k < 4; k++) s += w1a![i * 4 + k]! * w1b![j * 4 + k]!;
          for (let r = 0; r < 6; r++) s += w2a![r * 5 + i]! * w2b![pi1[r]! * 5 + j]!;
          c.push(s);
        }
      }
      return c;
    };
    const costs = new WeightCost(a, b, bound, 1);
    const maps = new AxisMaps(bound);
    const close = (got: Float64Array, want: number[]) => want.forEach((v, k) => expect(got[k]).toBeCloseTo(v, 5));
    close(costs.of(0, maps), direct(Int32Array.from([0, 1, 2, 3, 4, 5])));
    const pi1 = Int32Array.from([3, 0, 5, 1, 4, 2]);
    expect(maps.set(1, pi1)).toBe(true);
    expect(maps.set(1, pi1)).toBe(false);
    close(costs.of(0, maps), direct(pi1));
  });
});

describe('the weight-matching cost of a large group', () => {
  it('is computed a block of units at a time, bit for bit the cost of one float32 GEMM per tensor, cached or not', async () => {
    // 100 hidden units between a 7000-wide input and a 7000-wide output: the products of w1's
    // rows (rows of the arena) and of w2's columns (extracted) both run in blocks of 32 units.
    const wide = (seed: number) =>
      tinyModel({
        inputShape: [7000],
        nodes: [
          { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
          { op: 'Relu', inputs: ['h'], outputs: ['r'] },
          { op: 'Gemm', inputs: ['r', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
        ],
        params: { w1: [100, 7000], b1: [100], w2: [7000, 100], b2: [7000] },
        seed,
      });
    const a = tinyCheckpoint(wide(3), 'a.onnx');
    const b = tinyCheckpoint(wide(70), 'b.onnx');
    const bound = BoundSpec.of(b, await inferSpec(b));
    const group = bound.spec.groups[0]!;
    expect(bound.spec.groups.map((g) => g.size)).toEqual([100]);
    const addon = native();
    const units = (c: Checkpoint, action: ParameterAction): Float32Array => {
      const p = c.parameters[action.parameter]!;
      const out = new Float32Array(p.length * action.inner);
      addon.extractUnits({ src: c.arena.subarray(p.offset, p.offset + p.length), dims: p.shape, maps: null, axis: action.axis, offset: action.offset, count: group.size, inner: action.inner, out });
      return out;
    };
    const want = new Float64Array(100 * 100);
    const product = new Float32Array(100 * 100);
    for (const action of group.parameters) {
      const am = units(a, action);
      addon.gemmAbt(am, units(b, action), 100, 100, am.length / 100, product, 1);
      addon.addToFloat64(want, product);
    }
    const costs = new WeightCost(a, b, bound, 1);
    const maps = new AxisMaps(bound);
    expect(costs.of(0, maps)).toEqual(want);
    expect(costs.of(0, maps)).toEqual(want);
    expect(costs.between(0, 0, maps)).toEqual(want);
  });
});
