import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: Split', () => {
  it('each part of a split layer permutes on its own', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Split', inputs: ['r', 'parts'], outputs: ['p1', 'p2'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['p1', 'w2', 'b2'], outputs: ['y1'], attrs: { transB: 1 } },
        { op: 'Gemm', inputs: ['p2', 'w3', 'b3'], outputs: ['y2'], attrs: { transB: 1 } },
        { op: 'Add', inputs: ['y1', 'y2'], outputs: ['y'] },
      ],
      params: { w1: [6, 4], b1: [6], w2: [3, 2], b2: [3], w3: [3, 4], b3: [3] },
      ints: { parts: [2, 4] },
    });
    expect(groupsOf(spec)).toEqual([
      [2, ['w1 axis 0 [0:2)', 'b1 axis 0 [0:2)', 'w2 axis 1']],
      [4, ['w1 axis 0 [2:6)', 'b1 axis 0 [2:6)', 'w3 axis 1']],
    ]);
  });
});
