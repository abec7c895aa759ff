import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: binary element-wise ops under broadcasting', () => {
  it('a residual Add puts both operands in one group', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
        { op: 'Gemm', inputs: ['r1', 'w2', 'b2'], outputs: ['h2'], attrs: { transB: 1 } },
        { op: 'Add', inputs: ['r1', 'h2'], outputs: ['s'] },
        { op: 'Gemm', inputs: ['s', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [5, 5], b2: [5], w3: [3, 5], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 0', 'w2 axis 1', 'b2 axis 0', 'w3 axis 1']]]);
  });

  it('a per-channel operand joins the channels; one broadcast from length 1 does not', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['m'] },
        { op: 'Mul', inputs: ['m', 'scale'], outputs: ['s'] },
        { op: 'Add', inputs: ['s', 'shift'], outputs: ['h'] },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'MatMul', inputs: ['r', 'w2'], outputs: ['y'] },
      ],
      params: { w1: [4, 5], scale: [5], shift: [1], w2: [5, 3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 1', 'scale axis 0', 'w2 axis 0']]]);
  });
});
