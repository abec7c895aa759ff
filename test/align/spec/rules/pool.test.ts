import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: pools', () => {
  it('MaxPool, AveragePool and GlobalMaxPool keep the channels and drop the spatial positions', async () => {
    const spec = await specOf({
      inputShape: [2, 8, 8],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'MaxPool', inputs: ['c1'], outputs: ['p1'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
        { op: 'AveragePool', inputs: ['p1'], outputs: ['p2'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
        { op: 'GlobalMaxPool', inputs: ['p2'], outputs: ['p3'] },
        { op: 'Flatten', inputs: ['p3'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, 4], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
    expect(spec.groups[0]!.activations.map((v) => v.value)).toEqual(['f']);
  });
});
