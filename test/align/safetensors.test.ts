import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { scopePath, torchStateDict } from '../../lib/align/names.js';
import { decodeSafetensors, encodeSafetensors } from '../../lib/align/safetensors.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { fixture } from '../helpers.js';
import { tinyCheckpoint, tinyModel } from './helpers.js';

describe('safetensors', () => {
  it('lays out an 8-byte length, a space-padded JSON header and the tensors back to back', () => {
    const a = Float32Array.from([1, -2, 3.5, 0]);
    const b = Float32Array.from([7]);
    const bytes = encodeSafetensors([{ name: 'layer.weight', shape: [2, 2], data: a }, { name: 'layer.bias', shape: [1], data: b }], { format: 'pt' });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(header).toEqual({
      __metadata__: { format: 'pt' },
      'layer.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
      'layer.bias': { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
    });
    expect(bytes.length).toBe(8 + n + 20);
    expect(view.getFloat32(8 + n + 8, true)).toBe(3.5);
    const back = decodeSafetensors(bytes, 'x.safetensors');
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(back.tensors.map((t) => [t.name, t.shape, Array.from(t.data)])).toEqual([
      ['layer.weight', [2, 2], [1, -2, 3.5, 0]],
      ['layer.bias', [1], [7]],
    ]);
  });

  it('rejects truncated or inconsistent files, naming the file', () => {
    const bytes = encodeSafetensors([{ name: 'w', shape: [3], data: Float32Array.from([1, 2, 3]) }]);
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), 'cut.safetensors')).toThrow(/cut\.safetensors: not a valid safetensors file: tensor 'w' has offsets/);
    expect(() => decodeSafetensors(bytes.subarray(0, 5), 'tiny.safetensors')).toThrow(InvalidArgumentError);
    expect(() => encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array(3) }])).toThrow(/has 3 values for shape \[2\]/);
    expect(() => encodeSafetensors([{ name: 'w', shape: [1], data: new Float32Array(1) }, { name: 'w', shape: [1], data: new Float32Array(1) }])).toThrow(/duplicate/);
  });
});

describe('PyTorch names', () => {
  it('recovers module paths from node scopes', () => {
    expect(scopePath('/layer1/layer1.0/conv1/Conv')).toBe('layer1.0.conv1');
    expect(scopePath('/layer2/layer2.0/downsample/downsample.0/Conv')).toBe('layer2.0.downsample.0');
    expect(scopePath('/features/features.3/squeeze/Conv')).toBe('features.3.squeeze');
    expect(scopePath('/fc1/Gemm')).toBe('fc1');
    expect(scopePath('Gemm_3')).toBeNull();
    expect(scopePath('/Flatten')).toBeNull();
  });

  it('names folded ResNet convolutions by scope and reports them as folded', async () => {
    const cp = await loadCheckpoint(fixture('models', 'resnet_a.onnx'));
    const state = torchStateDict(cp);
    const keys = state.tensors.map((t) => t.key);
    expect(keys.slice(0, 4)).toEqual(['conv1.weight', 'conv1.bias', 'layer1.0.conv1.weight', 'layer1.0.conv1.bias']);
    expect(keys).toContain('layer2.0.downsample.0.weight');
    expect(keys.slice(-2)).toEqual(['fc.weight', 'fc.bias']);
    expect(state.folded).toHaveLength(keys.length - 2);
    expect(state.unnamed).toEqual([]);
  });

  it('keeps the names a node reads through Identity aliases (squeezenet1_1 shares zero biases)', async () => {
    const cp = await loadCheckpoint(fixture('models', 'squeezenet1_1.onnx'));
    const state = torchStateDict(cp);
    const keys = state.tensors.map((t) => t.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toContain('features.12.squeeze.bias');
    expect(keys).toContain('features.3.expand3x3.bias');
    expect(state.folded).toEqual([]);
    expect(state.conflicts).toEqual([]);
  });

  it('names a MatMul weight (transposed to [out, in]) and the bias of the Add after it by their scope', () => {
    const cp = tinyCheckpoint(
      tinyModel({
        inputShape: [6],
        nodes: [
          { op: 'MatMul', inputs: ['x', 'onnx::MatMul_7'], outputs: ['h'], name: '/fc1/MatMul' },
          { op: 'Add', inputs: ['h', 'onnx::Add_8'], outputs: ['y'], name: '/fc1/Add' },
        ],
        params: { 'onnx::MatMul_7': [6, 4], 'onnx::Add_8': [4] },
      }),
    );
    const state = torchStateDict(cp);
    expect(state.tensors.map((t) => [t.key, t.shape, t.transposed])).toEqual([
      ['fc1.weight', [4, 6], true],
      ['fc1.bias', [4], false],
    ]);
    const w = cp.arena.subarray(0, 24);
    expect(state.tensors[0]!.data[1 * 6 + 2]).toBe(w[2 * 4 + 1]);
  });
});
