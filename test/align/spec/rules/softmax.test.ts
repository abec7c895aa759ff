import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: Softmax, LogSoftmax', () => {
  it('a Softmax over the hidden units carries them through (it is permutation-equivariant along its axis)', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Softmax', inputs: ['h'], outputs: ['s'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['s', 'w2', 'b2'], outputs: ['z'], attrs: { transB: 1 } },
        { op: 'LogSoftmax', inputs: ['z'], outputs: ['l'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['l', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [6, 5], b2: [6], w3: [3, 6], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([
      [5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']],
      [6, ['w2 axis 0', 'b2 axis 0', 'w3 axis 1']],
    ]);
  });
});
