import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: reductions', () => {
  it('a mean over the spatial axes keeps the channels', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'ReduceMean', inputs: ['r1'], outputs: ['m'], attrs: { axes: [2, 3], keepdims: 0 } },
        { op: 'Gemm', inputs: ['m', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, 4], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
  });

  it('a sum over the channels does not depend on their order: they stay free', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3] } },
        { op: 'ReduceSum', inputs: ['c1', 'axes'], outputs: ['s'], attrs: { keepdims: 1 } },
        { op: 'Conv', inputs: ['s', 'w2', 'b2'], outputs: ['y'], attrs: { kernel_shape: [3, 3] } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, 1, 3, 3], b2: [3] },
      ints: { axes: [1] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0']]]);
  });
});
