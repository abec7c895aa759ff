import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf, type TinyGraph } from '../helpers.js';

/** Conv, Pad by `pads` (begin then end of each axis), Conv, pooled into a Gemm. */
const padded = (pads: number[], channels: number): TinyGraph => ({
  inputShape: [2, 5, 5],
  nodes: [
    { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
    { op: 'Pad', inputs: ['r1', 'pads'], outputs: ['p'], name: '/pad/Pad' },
    { op: 'Conv', inputs: ['p', 'w2', 'b2'], outputs: ['c2'], attrs: { kernel_shape: [3, 3] } },
    { op: 'GlobalAveragePool', inputs: ['c2'], outputs: ['g'] },
    { op: 'Flatten', inputs: ['g'], outputs: ['f'], attrs: { axis: 1 } },
    { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
  ],
  params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, channels, 3, 3], b2: [3], w3: [2, 3], b3: [2] },
  ints: { pads },
});

describe('rule: Pad', () => {
  it('padding the spatial axes keeps the channels', async () => {
    const spec = await specOf(padded([0, 0, 1, 1, 0, 0, 1, 1], 4));
    expect(groupsOf(spec)[0]).toEqual([4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]);
  });

  it('padding the channel axis fixes the channels, with the reason', async () => {
    const spec = await specOf(padded([0, 1, 0, 0, 0, 0, 0, 0], 5));
    expect(spec.groups.map((g) => g.size)).toEqual([3]);
    expect(fixedReasons(spec)).toContain("node '/pad/Pad' (Pad) pads this axis");
  });
});
