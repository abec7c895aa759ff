import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf, type TinyGraph } from '../helpers.js';

/** Conv to 4 channels, Resize to `sizes` (the probe's batch is 2), Conv reading `channels`, pooled into a Gemm. */
const resized = (sizes: number[], channels: number): TinyGraph => ({
  inputShape: [2, 4, 4],
  nodes: [
    { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: 'Resize', inputs: ['c1', '', '', 'sizes'], outputs: ['u'], name: '/up/Resize' },
    { op: 'Conv', inputs: ['u', 'w2', 'b2'], outputs: ['c2'], attrs: { kernel_shape: [3, 3] } },
    { op: 'GlobalAveragePool', inputs: ['c2'], outputs: ['g'] },
    { op: 'Flatten', inputs: ['g'], outputs: ['f'], attrs: { axis: 1 } },
    { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
  ],
  params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, channels, 3, 3], b2: [3], w3: [2, 3], b3: [2] },
  ints: { sizes },
});

describe('rule: Resize, Upsample', () => {
  it('resizing the spatial axes keeps the channels', async () => {
    const spec = await specOf(resized([2, 4, 8, 8], 4));
    expect(groupsOf(spec)[0]).toEqual([4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]);
  });

  it('resizing the channel axis fixes the channels, with the reason', async () => {
    const spec = await specOf(resized([2, 8, 8, 8], 8));
    expect(spec.groups.map((g) => g.size)).toEqual([3]);
    expect(fixedReasons(spec)).toContain("node '/up/Resize' (Resize) resizes this axis");
  });
});
