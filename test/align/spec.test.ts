import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { checkSameSpec, describeAction, inferSpec, type PermutationGroup, type PermutationSpec } from '../../lib/align/spec/index.js';
import { SpecMismatchError } from '../../lib/errors.js';
import { shapeDims, tensorType } from '../../lib/onnx/proto.js';
import { fixture } from '../helpers.js';
import { tinyCheckpoint, tinyModel } from './helpers.js';

const acts = (g: PermutationGroup): string[] => g.parameters.map((a) => describeAction(a, g.size));
const model = (name: string): string => fixture('models', `${name}.onnx`);

describe('permutation spec inferred from the graph', () => {
  it('MLP: one group per hidden layer, the logits fixed as the model output', async () => {
    const spec = await inferSpec(await loadCheckpoint(model('mlp_a')));
    expect(spec.groups.map((g) => g.size)).toEqual([256, 256]);
    expect(acts(spec.groups[0]!)).toEqual(['fc1.weight axis 0', 'fc1.bias axis 0', 'fc2.weight axis 1']);
    expect(acts(spec.groups[1]!)).toEqual(['fc2.weight axis 0', 'fc2.bias axis 0', 'fc3.weight axis 1']);
    expect(spec.groups[0]!.activations.map((v) => v.value)).toEqual(['/relu1/Relu_output_0']);
    expect(spec.fixed).toHaveLength(1);
    expect(spec.fixed[0]!.reasons).toEqual(["model output 'logits'"]);
    expect(spec.fixed[0]!.parameters.map((a) => a.tensor)).toEqual(['fc3.weight', 'fc3.bias']);
    expect(spec.unknownOps).toEqual([]);
  });

  it('CNN with BatchNorm: BN scale, bias, mean and var follow the conv; Flatten acts on channel blocks of 7·7', async () => {
    const spec = await inferSpec(await loadCheckpoint(model('cnn_bn_a')));
    expect(spec.groups.map((g) => g.size)).toEqual([16, 32]);
    expect(acts(spec.groups[1]!)).toEqual([
      'conv2.weight axis 0',
      'conv2.bias axis 0',
      'bn2.weight axis 0',
      'bn2.bias axis 0',
      'bn2.running_mean axis 0',
      'bn2.running_var axis 0',
      'fc.weight axis 1 in blocks of 49',
    ]);
  });

  it('ResNet: a residual Add puts the block input and output channels in one group', async () => {
    const spec = await inferSpec(await loadCheckpoint(model('resnet_a')));
    expect(spec.groups.map((g) => g.size)).toEqual([16, 16, 32, 32, 64, 64]);
    const stream = spec.groups[0]!;
    // stem conv, layer1.0.conv2 (residual), and the three readers of the stream
    expect(stream.parameters.filter((a) => a.axis === 0).map((a) => a.node)).toEqual(['/conv1/Conv', '/conv1/Conv', '/layer1/layer1.0/conv2/Conv', '/layer1/layer1.0/conv2/Conv']);
    expect(stream.parameters.filter((a) => a.axis === 1).map((a) => a.node)).toEqual([
      '/layer1/layer1.0/conv1/Conv',
      '/layer2/layer2.0/downsample/downsample.0/Conv',
      '/layer2/layer2.0/conv1/Conv',
    ]);
    const last = spec.groups[4]!;
    expect(last.parameters.some((a) => a.tensor === 'fc.weight' && a.axis === 1 && a.inner === 1)).toBe(true);
  });

  it('squeezenet1_1: Concat lays the two expand groups end to end on the next squeeze conv', async () => {
    const spec = await inferSpec(await loadCheckpoint(model('squeezenet1_1')));
    const e1 = spec.groups.find((g) => g.label.startsWith('/features/features.3/expand1x1/Conv'))!;
    const e3 = spec.groups.find((g) => g.label.startsWith('/features/features.3/expand3x3/Conv'))!;
    expect(acts(e1)).toContain('features.4.squeeze.weight axis 1 [0:64)');
    expect(acts(e3)).toContain('features.4.squeeze.weight axis 1 [64:128)');
    expect(spec.groups).toHaveLength(25);
    expect(spec.unknownOps).toEqual([]);
    expect(spec.fixed.map((f) => f.reasons[0])).toEqual(["model input 'input'", "model output 'logits'"]);
  });

  it('mobilenet_v3_small: depthwise convs keep their input channels, squeeze-excitation Mul ties the scale to them', async () => {
    const spec = await inferSpec(await loadCheckpoint(model('mobilenet_v3_small')));
    const g = spec.groups.find((x) => x.parameters.some((a) => a.node === '/features/features.4/block/block.1/block.1.0/Conv' && a.axis === 0))!;
    expect(g.size).toBe(96);
    const nodes = new Set(g.parameters.map((a) => `${a.node}:${a.axis}`));
    // expand conv (out), depthwise conv (out), SE fc1 (in), SE fc2 (out), project conv (in)
    for (const n of [
      '/features/features.4/block/block.0/block.0.0/Conv:0',
      '/features/features.4/block/block.1/block.1.0/Conv:0',
      '/features/features.4/block/block.2/fc1/Conv:1',
      '/features/features.4/block/block.2/fc2/Conv:0',
      '/features/features.4/block/block.3/block.3.0/Conv:1',
    ]) {
      expect(nodes.has(n)).toBe(true);
    }
    expect(spec.unknownOps).toEqual([]);
  });

  it('fixes the channels an unknown op reads and names the op', async () => {
    // CumSum along the hidden units breaks the permutation symmetry; the inference must not permute them.
    const m = tinyModel({
      inputShape: [6],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
        { op: 'CumSum', inputs: ['r1', 'axis'], outputs: ['c1'], name: '/mix/CumSum' },
        { op: 'Gemm', inputs: ['c1', 'w2', 'b2'], outputs: ['h2'], attrs: { transB: 1 } },
        { op: 'Relu', inputs: ['h2'], outputs: ['r2'] },
        { op: 'Gemm', inputs: ['r2', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 6], b1: [5], w2: [4, 5], b2: [4], w3: [3, 4], b3: [3] },
      ints: { axis: [1] },
    });
    const spec = await inferSpec(tinyCheckpoint(m));
    expect(spec.unknownOps).toEqual([{ node: '/mix/CumSum', op: 'CumSum' }]);
    expect(spec.groups.map((g) => g.size)).toEqual([4]);
    const fixed = spec.fixed.find((f) => f.parameters.some((a) => a.tensor === 'w1'))!;
    expect(fixed.reasons.join()).toMatch(/node '\/mix\/CumSum' \(CumSum\) is an op the spec inference does not know/);
  });

  it('reports a layer of width 1 as trivial, not as a group', async () => {
    const m = tinyModel({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 }, name: '/narrow/Gemm' },
        { op: 'Relu', inputs: ['h'], outputs: ['r'] },
        { op: 'Gemm', inputs: ['r', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [1, 4], b1: [1], w2: [3, 1], b2: [3] },
    });
    const spec = await inferSpec(tinyCheckpoint(m));
    expect(spec.groups).toEqual([]);
    expect(spec.trivial.map((t) => t.label)).toEqual(['/narrow/Gemm output channels']);
  });

  it('grouped convolution: input channels fixed (with the reason), output channels permuted within each group', async () => {
    const m = tinyModel({
      inputShape: [2, 5, 5],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Conv', inputs: ['r1', 'w2', 'b2'], outputs: ['c2'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 }, name: '/grouped/Conv' },
        { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
        { op: 'GlobalAveragePool', inputs: ['r2'], outputs: ['p'] },
        { op: 'Flatten', inputs: ['p'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [6, 2, 3, 3], b2: [6], w3: [3, 6], b3: [3] },
    });
    const spec = await inferSpec(tinyCheckpoint(m));
    expect(spec.groups.map((g) => [g.size, acts(g)])).toEqual([
      [3, ['w2 axis 0 [0:3)', 'b2 axis 0 [0:3)', 'w3 axis 1 [0:3)']],
      [3, ['w2 axis 0 [3:6)', 'b2 axis 0 [3:6)', 'w3 axis 1 [3:6)']],
    ]);
    expect(spec.fixed.some((f) => f.reasons.some((r) => /grouped convolution node '\/grouped\/Conv'/.test(r)))).toBe(true);
  });

  it('follows channels through a channel-last Transpose and Flatten (repeated blocks)', async () => {
    const m = tinyModel({
      inputShape: [2, 3, 3],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['c1'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
        { op: 'Transpose', inputs: ['r1'], outputs: ['t'], attrs: { perm: [0, 2, 3, 1] } },
        { op: 'Flatten', inputs: ['t'], outputs: ['f'], attrs: { axis: 1 } },
        { op: 'Gemm', inputs: ['f', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [4, 2, 3, 3], b1: [4], w2: [3, 36], b2: [3] },
    });
    const spec = await inferSpec(tinyCheckpoint(m));
    expect(spec.groups).toHaveLength(1);
    const w2 = spec.groups[0]!.parameters.filter((a) => a.tensor === 'w2');
    expect(w2.map((a) => a.offset)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32]);
  });

  it('refuses two specs that differ, naming the group', async () => {
    const a = await inferSpec(await loadCheckpoint(model('cnn_folded_a')));
    const b = await inferSpec(await loadCheckpoint(model('cnn_bn_a')));
    expect(() => checkSameSpec(a, b)).toThrow(SpecMismatchError);
    expect(() => checkSameSpec(a, b)).toThrow(/differ at group 0/);
    const mlp: PermutationSpec = await inferSpec(await loadCheckpoint(model('mlp_a')));
    expect(() => checkSameSpec(mlp, a)).toThrow(/differ at group 0: '\/fc1\/Gemm output channels' permutes 256 units/);
  });

  it('asks for the input shape when a non-batch dimension is symbolic', async () => {
    const m = tinyModel({ inputShape: [4], nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: 1 } }], params: { w: [3, 4], b: [3] } });
    tensorType(m.graph!.input![0])!.shape!.dim[1] = shapeDims(['features'])[0]!;
    await expect(inferSpec(tinyCheckpoint(m))).rejects.toThrow(/symbolic dimension at axis 1; give the input shape/);
    const spec = await inferSpec(tinyCheckpoint(m), { inputShape: [2, 4] });
    expect(spec.groups).toEqual([]);
  });
});

