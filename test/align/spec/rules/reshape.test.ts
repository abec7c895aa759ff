import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf } from '../helpers.js';

describe('rule: Reshape, Flatten, Squeeze, Unsqueeze', () => {
  it('a Reshape of N×C×H×W to N×(C·H·W) gives the next layer channel blocks of H·W', async () => {
    const spec = await specOf({
      inputShape: [2, 3, 3],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Reshape', inputs: ['r1', 'shape'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, 36], b2: [3] },
      ints: { shape: [0, 36] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1 in blocks of 9']]]);
  });

  it('Unsqueeze then Squeeze of a unit axis keeps the channels', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Unsqueeze', inputs: ['h', 'axis'], outputs: ['u'] },
        { op: 'Squeeze', inputs: ['u', 'axis'], outputs: ['s'] },
        { op: 'Gemm', inputs: ['s', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [3, 5], b2: [3] },
      ints: { axis: [2] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
  });

  it('units read as [blocks, block dims] (attention heads): a group moving whole blocks and one group inside each block; summing over the block dims keeps both', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Reshape', inputs: ['h', 'shape'], outputs: ['t'], name: '/spread/Reshape' },
        { op: 'ReduceSum', inputs: ['t', 'axes'], outputs: ['s'], attrs: { keepdims: 0 } },
        { op: 'Gemm', inputs: ['s', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [6, 4], b1: [6], w2: [3, 2], b2: [3] },
      ints: { shape: [0, 2, 3], axes: [2] },
    });
    expect(groupsOf(spec)).toEqual([
      [3, ['w1 axis 0 [0:3)', 'b1 axis 0 [0:3)']],
      [2, ['w1 axis 0 in blocks of 3', 'b1 axis 0 in blocks of 3', 'w2 axis 1']],
      [3, ['w1 axis 0 [3:6)', 'b1 axis 0 [3:6)']],
    ]);
    expect(spec.groups[1]!.carries).toEqual([[0, 2]]);
  });

  it('block dims that lose their block axis (a sum over the blocks) stay in place, and so do the blocks, with the reason', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Reshape', inputs: ['h', 'shape'], outputs: ['t'], name: '/spread/Reshape' },
        { op: 'ReduceSum', inputs: ['t', 'axes'], outputs: ['s'], attrs: { keepdims: 0 } },
        { op: 'Gemm', inputs: ['s', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [6, 4], b1: [6], w2: [3, 3], b2: [3] },
      ints: { shape: [0, 2, 3], axes: [1] },
    });
    expect(spec.groups).toEqual([]);
    expect(fixedReasons(spec)).toContain("'s' holds attention head dims without their head axis");
  });
});
