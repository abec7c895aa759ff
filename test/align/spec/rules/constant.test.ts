import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf } from '../helpers.js';

describe('rule: Constant, ConstantOfShape', () => {
  it('a Constant that varies along the hidden units fixes them where it meets them, naming the node', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: { floats: [1, 2, 3, 4, 5], dims: [5] } }, name: '/k/Constant' },
        { op: 'Mul', inputs: ['h', 'k'], outputs: ['m'] },
        { op: 'Gemm', inputs: ['m', 'w2', 'b2'], outputs: ['z'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['z'], outputs: ['r'] },
        { op: 'Gemm', inputs: ['r', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [6, 5], b2: [6], w3: [3, 6], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([[6, ['w2 axis 0', 'b2 axis 0', 'w3 axis 1']]]);
    expect(fixedReasons(spec)).toContain("constant from node '/k/Constant' (Constant)");
  });

  it('a scalar Constant varies along nothing and leaves the channels free', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: { floats: [0.5], dims: [] } } },
        { op: 'Mul', inputs: ['h', 'k'], outputs: ['m'] },
        { op: 'Gemm', inputs: ['m', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [3, 5], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
  });
});
