import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: Transpose', () => {
  it('moves the channels with their axis: a channel-last MatMul reads the conv channels', async () => {
    const spec = await specOf({
      inputShape: [2, 3, 3],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Transpose', inputs: ['r1'], outputs: ['t'], attrs: { perm: [0, 2, 3, 1] } },
        { op: 'MatMul', inputs: ['t', 'w2'], outputs: ['m'] },
        { op: 'Relu', inputs: ['m'], outputs: ['r2'] },
        { op: 'ReduceMean', inputs: ['r2'], outputs: ['g'], attrs: { axes: [1, 2], keepdims: 0 } },
        { op: 'Gemm', inputs: ['g', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [4, 5], w3: [2, 5], b3: [2] },
    });
    expect(groupsOf(spec)).toEqual([
      [4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 0']],
      [5, ['w2 axis 1', 'w3 axis 1']],
    ]);
    expect(spec.groups[0]!.activations.map((v) => [v.value, v.axis])).toEqual([['t', 3]]);
  });
});
