/** Inputs and onnxruntime outputs of the transformer fixtures, and the spec/permute check on them, shared by the tests that run them. */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { loadCheckpoint, pairCheckpoints } from '../../lib/checkpoint.js';
import { parseNpyHeader } from '../../lib/dataset/npy.js';
import { fixture, runCliInProcess } from '../helpers.js';

/** The transformer fixture pairs (scripts/fixtures/make_transformer_fixtures.py, make_rms_fixtures.py). */
export const TRANSFORMERS = ['vit_hand', 'vit_mha', 'moe', 'lm_untied', 'lm_tied', 'vit_rms'];

function npyBody(file: string): { shape: number[]; body: ArrayBuffer } {
  const bytes = readFileSync(file);
  const header = parseNpyHeader(bytes, file);
  return { shape: header.shape, body: bytes.buffer.slice(bytes.byteOffset + header.dataOffset, bytes.byteOffset + header.dataOffset + header.dataBytes) };
}

/** The feeds of a fixture model: 16 normalized test images, or the first 8 held-out token windows. */
export function transformerInput(name: string): Record<string, ort.Tensor> {
  if (name.startsWith('lm_')) {
    const { shape, body } = npyBody(fixture('data', 'lm_heldout_ids.npy'));
    const n = 8;
    return { input_ids: new ort.Tensor('int64', new BigInt64Array(body).subarray(0, n * shape[1]!), [n, shape[1]!]) };
  }
  const n = 16;
  const x = new Float32Array(npyBody(fixture('data', 'fashion_test_x_f32.npy')).body).subarray(0, n * 784).map((v) => (v - 0.286) / 0.353);
  return { input: new ort.Tensor('float32', x, [n, 1, 28, 28]) };
}

/** The model's logits on the feeds. */
export async function modelOutputs(file: string, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    return (await session.run(feeds)).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * `llfc spec` on the fixture model finds groups and explains what it leaves fixed, and
 * `llfc permute --random` writes `out`: a model that pairs with the original, holds other values
 * and computes its logits (1e-4).
 */
export async function expectSpecAndRandomPermutation(file: string, name: string, out: string): Promise<void> {
  const spec = await runCliInProcess('spec', file);
  expect(spec.status).toBe(0);
  expect(Number(/(\d+) groups/.exec(spec.stdout)?.[1])).toBeGreaterThan(0);
  expect(spec.stdout).toMatch(/fixed \(these axes stay in place\):\n {2}\d+ units, .*: .+/);
  const permuted = await runCliInProcess('permute', file, '--random', '--seed', '7', '-o', out, '--quiet');
  expect(permuted.status).toBe(0);
  const [original, moved] = await Promise.all([loadCheckpoint(file), loadCheckpoint(out)]);
  pairCheckpoints(original, moved);
  expect(moved.arena).not.toEqual(original.arena);
  const input = transformerInput(name);
  const [before, after] = await Promise.all([modelOutputs(file, input), modelOutputs(out, input)]);
  let worst = 0;
  for (let i = 0; i < before.length; i++) worst = Math.max(worst, Math.abs(after[i]! - before[i]!) / Math.max(1, Math.abs(before[i]!)));
  expect(worst).toBeLessThan(1e-4);
}
