import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: Expand, Tile', () => {
  it('Tile repeats the channels: the group acts on each copy', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Tile', inputs: ['r', 'repeats'], outputs: ['t'] },
        { op: 'Gemm', inputs: ['t', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [3, 4], b1: [3], w2: [2, 6], b2: [2] },
      ints: { repeats: [1, 2] },
    });
    expect(groupsOf(spec)).toEqual([[3, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1 [0:3)', 'w2 axis 1 [3:6)']]]);
  });

  it('Expand along a new axis keeps the channels on theirs', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Unsqueeze', inputs: ['h', 'axis'], outputs: ['u'] },
        { op: 'Expand', inputs: ['u', 'shape'], outputs: ['e'] },
        { op: 'Flatten', inputs: ['e'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [3, 4], b1: [3], w2: [2, 12], b2: [2] },
      ints: { axis: [2], shape: [1, 1, 4] },
    });
    expect(groupsOf(spec)).toEqual([[3, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1 in blocks of 4']]]);
  });
});
