import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: Gemm, MatMul', () => {
  it('Gemm (transB=1): the weight rows start a group that the next Gemm reads along its columns', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Gemm', inputs: ['r', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [3, 5], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
    expect(spec.groups[0]!.activations.map((v) => v.value)).toEqual(['r']);
  });

  it('MatMul with a bias Add (weights stored [in, out]): the weight columns start the group', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['m1'] },
        { op: 'Add', inputs: ['m1', 'b1'], outputs: ['h'] },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'MatMul', inputs: ['r', 'w2'], outputs: ['m2'] },
        { op: 'Add', inputs: ['m2', 'b2'], outputs: ['y'] },
      ],
      params: { w1: [4, 5], b1: [5], w2: [5, 3], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 1', 'b1 axis 0', 'w2 axis 0']]]);
  });

  it('Gemm with transA=1 and transB=0 reads the input and weight along the other axes', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Transpose', inputs: ['r'], outputs: ['t'], attrs: { perm: [1, 0] } },
        { op: 'Gemm', inputs: ['t', 'w2', 'b2'], outputs: ['y'], attrs: { transA: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [5, 3], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 0']]]);
  });
});
