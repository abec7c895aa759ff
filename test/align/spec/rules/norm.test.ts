import { describe, expect, it } from 'vitest';
import { groupsOf, specOf } from '../helpers.js';

describe('rule: BatchNormalization, InstanceNormalization, LayerNormalization', () => {
  it('BatchNormalization: scale, bias, mean and variance follow the conv channels', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3] } },
        { op: 'BatchNormalization', inputs: ['c1', 's', 'bb', 'mean', 'var'], outputs: ['n1'] },
        { op: 'Relu', inputs: ['n1'], outputs: ['r1'] },
        { op: 'GlobalAveragePool', inputs: ['r1'], outputs: ['p'] },
        { op: 'Flatten', inputs: ['p'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], s: [4], bb: [4], mean: [4], var: [4], w2: [3, 4], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0', 's axis 0', 'bb axis 0', 'mean axis 0', 'var axis 0', 'w2 axis 1']]]);
  });

  it('InstanceNormalization: its per-channel scale and bias follow the channels', async () => {
    const spec = await specOf({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3] } },
        { op: 'InstanceNormalization', inputs: ['c1', 's', 'bb'], outputs: ['n1'] },
        { op: 'GlobalAveragePool', inputs: ['n1'], outputs: ['p'] },
        { op: 'Flatten', inputs: ['p'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], s: [4], bb: [4], w2: [3, 4], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[4, ['w1 axis 0', 'b1 axis 0', 's axis 0', 'bb axis 0', 'w2 axis 1']]]);
  });

  it('LayerNormalization over the hidden units: its scale and bias tie to them (the statistics do not depend on their order)', async () => {
    const spec = await specOf({
      inputShape: [4],
      opset: 17,
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'LayerNormalization', inputs: ['h', 'g', 'beta'], outputs: ['n'], attrs: { axis: -1 } },
        { op: 'Gemm', inputs: ['n', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], g: [5], beta: [5], w2: [3, 5], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'g axis 0', 'beta axis 0', 'w2 axis 1']]]);
  });
});
