import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../../lib/checkpoint.js';
import { BoundSpec, inferSpec, type PermutationSpec } from '../../../lib/align/spec/index.js';
import { PermutationError } from '../../../lib/errors.js';
import { fixture } from '../../helpers.js';

const model = (name: string): string => fixture('models', `${name}.onnx`);

describe('a spec bound to a checkpoint', () => {
  it('maps each parameter axis and each activation value to the groups acting there', async () => {
    const cp = await loadCheckpoint(model('mlp_a'));
    const bound = BoundSpec.of(cp, await inferSpec(cp));
    const tensor = (p: number): string => cp.parameters[p]!.tensor;
    expect([...bound.parameters].map(([p, axes]) => [tensor(p), axes.map((on) => on.map((x) => x.group))])).toEqual([
      ['fc1.weight', [[0], []]],
      ['fc1.bias', [[0]]],
      ['fc2.weight', [[1], [0]]],
      ['fc2.bias', [[1]]],
      ['fc3.weight', [[], [1]]],
    ]);
    expect([...bound.activations].map(([v, uses]) => [v, uses.map((x) => x.group)])).toEqual([
      ['/relu1/Relu_output_0', [0]],
      ['/relu2/Relu_output_0', [1]],
    ]);
    const fc2 = cp.parameters.find((p) => p.tensor === 'fc2.weight')!.index;
    expect(bound.groupsOnOtherAxes(fc2, 0)).toEqual([0]);
    expect(bound.groupsOnOtherAxes(fc2, 1)).toEqual([1]);
  });

  it('is validated once per parameter layout: the same layout reuses it, another is checked again', async () => {
    const a = await loadCheckpoint(model('mlp_a'));
    const b = await loadCheckpoint(model('mlp_b'));
    const bound = BoundSpec.of(a, await inferSpec(a));
    expect(BoundSpec.of(a, bound)).toBe(bound);
    expect(BoundSpec.of({ ...a, arena: b.arena }, bound)).toBe(bound);
    const rebound = BoundSpec.of(b, bound);
    expect(rebound).not.toBe(bound);
    expect(rebound.layout).toBe(b.parameters);
    const cnn = await loadCheckpoint(model('cnn_bn_a'));
    expect(() => BoundSpec.of(cnn, bound)).toThrow(PermutationError);
    expect(() => BoundSpec.of(cnn, bound)).toThrow(/the spec \(of .*mlp_a\.onnx\) does not fit .*cnn_bn_a\.onnx: its parameter 0 \('fc1\.weight'\) is not there/);
  });

  it('refuses a spec whose units lie outside the axis they act on', async () => {
    const cp = await loadCheckpoint(model('mlp_a'));
    const spec = structuredClone(await inferSpec(cp)) as PermutationSpec;
    (spec.groups[0]!.parameters[0] as { offset: number }).offset = 10;
    expect(() => BoundSpec.of(cp, spec)).toThrow(PermutationError);
    expect(() => BoundSpec.of(cp, spec)).toThrow(/group 0 \('\/fc1\/Gemm output channels'\) acts on 'fc1\.weight' axis 0 at \[10:266\) in blocks of 1, whose length is 256/);
  });
});
