import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: Concat', () => {
  it('lays the channels of its inputs end to end on the next layer', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { transB: 1 } },
        { op: 'Gemm', inputs: ['x', 'w2', 'b2'], outputs: ['h2'], attrs: { transB: 1 } },
        { op: 'Concat', inputs: ['h1', 'h2'], outputs: ['c'], attrs: { axis: 1 } },
        { op: 'Relu', inputs: ['c'], outputs: ['r'] },
        { op: 'Gemm', inputs: ['r', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [3, 4], b1: [3], w2: [2, 4], b2: [2], w3: [3, 5], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([
      [3, ['w1 axis 0', 'b1 axis 0', 'w3 axis 1 [0:3)']],
      [2, ['w2 axis 0', 'b2 axis 0', 'w3 axis 1 [3:5)']],
    ]);
  });
});
