import { describe, expect, it } from 'vitest';
import type { TinyNode } from '../../helpers.js';
import { groupsOf, specOf } from '../helpers.js';

const k3 = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };
/** Global pooling, Flatten and a Gemm to 3 outputs reading `from`'s channels. */
const head = (from: string): TinyNode[] => [
  { op: 'GlobalAveragePool', inputs: [from], outputs: ['p'] },
  { op: 'Flatten', inputs: ['p'], outputs: ['f'], attrs: { axis: 1 } },
  { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
];

describe('rule: Conv, ConvTranspose', () => {
  it('Conv: output channels (weight axis 0, bias) are read by the next conv along its weight axis 1', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: k3 },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Conv', inputs: ['r1', 'w2', 'b2'], outputs: ['c2'], attrs: k3 },
        { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
        ...head('r2'),
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [6, 4, 3, 3], b2: [6], w3: [3, 6], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([
      [4, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']],
      [6, ['w2 axis 0', 'b2 axis 0', 'w3 axis 1']],
    ]);
    expect(spec.groups.map((g) => g.activations.map((v) => v.value))).toEqual([['r1'], ['f']]);
  });

  it('depthwise Conv (group = input channels, 2 outputs each): its outputs follow its inputs in blocks of 2', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: k3 },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Conv', inputs: ['r1', 'wd', 'bd'], outputs: ['c2'], attrs: { ...k3, group: 4 } },
        { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
        ...head('r2'),
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], wd: [8, 1, 3, 3], bd: [8], w3: [3, 8], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0', 'wd axis 0 in blocks of 2', 'bd axis 0 in blocks of 2', 'w3 axis 1 in blocks of 2']]]);
  });

  it('ConvTranspose: its weight [in, out, …] reads the input channels on axis 0 and starts the output channels on axis 1', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: k3 },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'ConvTranspose', inputs: ['r1', 'wt', 'bt'], outputs: ['c2'], attrs: k3 },
        { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
        ...head('r2'),
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], wt: [4, 6, 3, 3], bt: [6], w3: [3, 6], b3: [3] },
    });
    expect(groupsOf(spec)).toEqual([
      [4, ['w1 axis 0', 'b1 axis 0', 'wt axis 0']],
      [6, ['wt axis 1', 'bt axis 0', 'w3 axis 1']],
    ]);
  });
});
