import { describe, expect, it } from 'vitest';
import { alignFiles, analyze, lmc } from '../lib/api.js';
import { CancelledError, CheckpointMismatchError } from '../lib/errors.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, tempDir } from './helpers.js';

const data = { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] } };
const pair = (name: string) => ({ a: fixture('models', `${name}_a.onnx`), b: fixture('models', `${name}_b.onnx`) });

describe('the worker-thread API', () => {
  it('keeps the caller’s event loop responsive: a timer keeps ticking during an analyze', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const events: number[] = [];
    const result = await analyze({ ...pair('mlp'), data: { ...data, limit: 1000 } }, { batchSize: 100, onProgress: (e) => events.push(e.done) });
    clearInterval(timer);
    expect(result.layers.length).toBe(3);
    expect(events.at(-1)).toBe(events.length);
    // The analysis takes seconds; a blocked loop would tick a handful of times at most.
    expect(ticks).toBeGreaterThan(20);
  });

  it('gives the same LMC curve as the PyTorch reference', async () => {
    const { readFileSync } = await import('node:fs');
    const ref = JSON.parse(readFileSync(fixture('reference', 'lmc.json'), 'utf8')).mlp;
    const result = await lmc({ ...pair('mlp'), data }, { alphas: ref.alphas });
    expect(result.alphas).toEqual(ref.alphas);
    expect(result.accuracy).toEqual(ref.accuracy);
    result.loss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]) / ref.loss[i]).toBeLessThan(1e-4));
    expect(result.barriers!.loss).toBeCloseTo(ref.barriers.loss, 4);
    expect(result.barriers!.lossMidpoint).toBeCloseTo(ref.barriers.lossMidpoint, 4);
    expect(result.barriers!.accuracy).toBeCloseTo(ref.barriers.accuracy, 10);
  });

  it('stops with CancelledError when the signal aborts mid-run', async () => {
    const controller = new AbortController();
    const run = analyze({ ...pair('resnet'), data }, { batchSize: 50, signal: controller.signal, onProgress: (e) => e.done === 2 && controller.abort() });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
  });

  it('rethrows the typed error of the worker', async () => {
    const run = lmc({ a: fixture('models', 'mlp_a.onnx'), b: fixture('models', 'cnn_bn_b.onnx'), data: { ...data, limit: 10 } });
    await expect(run).rejects.toBeInstanceOf(CheckpointMismatchError);
    await expect(run).rejects.toThrow(/differ at node 0/);
  });

  it('alignFiles aligns in the worker and writes the outputs; activation matching reads the data', async () => {
    const tmp = tempDir();
    const out = join(tmp.dir, 'b_aligned.onnx');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const result = await alignFiles({ ...pair('cnn_bn'), data: { ...data, limit: 300 }, outputs: { onnx: out } }, { method: 'activation' });
    clearInterval(timer);
    expect(result.spec.groups.map((g) => g.size)).toEqual([16, 32]);
    expect(result.objective[0]).toBeGreaterThan(result.initialObjective);
    expect(existsSync(out)).toBe(true);
    expect(ticks).toBeGreaterThan(0);
    tmp.cleanup();
  });
});
