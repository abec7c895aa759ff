import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf } from '../helpers.js';

describe('rule: Shape, Size', () => {
  it('reading the shape of the hidden units (to reshape them to it) fixes nothing', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Shape', inputs: ['h'], outputs: ['s'] },
        { op: 'Reshape', inputs: ['h', 's'], outputs: ['h2'] },
        { op: 'Relu', inputs: ['h2'], outputs: ['r'] },
        { op: 'Gemm', inputs: ['r', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [3, 5], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
    expect(fixedReasons(spec)).toEqual(["model input 'x'", "model output 'y'"]);
  });
});
