import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { interpolateArenas } from '../../lib/interpolate.js';
import { fixture, llfc, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('llfc interpolate', () => {
  it('writes θ(0.5) under the original initializer names, loadable by onnxruntime, equal to the interpolated arena', async () => {
    const out = join(tmp.dir, 'mid.onnx');
    const r = llfc('interpolate', fixture('models', 'cnn_bn_a.onnx'), fixture('models', 'cnn_bn_b.onnx'), '--alpha', '0.5', '-o', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [a, b, mid] = await Promise.all([loadCheckpoint(fixture('models', 'cnn_bn_a.onnx')), loadCheckpoint(fixture('models', 'cnn_bn_b.onnx')), loadCheckpoint(out)]);
    expect(mid.arena).toEqual(interpolateArenas(a.arena, b.arena, [0.5])[0]);
    expect(mid.parameters.map((p) => p.tensor)).toEqual(a.parameters.map((p) => p.tensor));
    const session = await ort.InferenceSession.create(out);
    const y = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 784).fill(0.3), [2, 1, 28, 28]) });
    expect((y[session.outputNames[0]!]!.data as Float32Array).length).toBe(20);
  });

  it('at α = 1 writes B’s parameters into A’s graph exactly', async () => {
    const out = join(tmp.dir, 'one.onnx');
    expect(llfc('interpolate', fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'), '--alpha', '1', '-o', out, '--quiet').status).toBe(0);
    expect((await loadCheckpoint(out)).arena).toEqual((await loadCheckpoint(fixture('models', 'resnet_b.onnx'))).arena);
  });

  it.each([
    [['--alpha', '1.5'], /alpha must be a number in \[0, 1\], got 1\.5/],
    [['--alpha', 'half'], /'half' is not a number/],
  ])('refuses %s', (args, message) => {
    const r = llfc('interpolate', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...args, '-o', join(tmp.dir, 'x.onnx'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('never overwrites an input', () => {
    const before = readFileSync(fixture('models', 'mlp_a.onnx'));
    const r = llfc('interpolate', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), '--alpha', '0.5', '-o', fixture('models', 'mlp_a.onnx'));
    expect(r.status).toBe(2);
    expect(readFileSync(fixture('models', 'mlp_a.onnx'))).toEqual(before);
  });
});
