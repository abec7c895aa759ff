/**
 * Dynamo-style exports (scripts/fixtures/dynamo_style.py: opset 18, external data, state_dict
 * names, val_N folded transposes, merged small initializers, a dropped all-zero bias, lifted
 * constants) compute what their legacy sources compute, and llfc measures them alike.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze, lmc } from '../../lib/api.js';
import { loadCheckpoint, pairCheckpoints } from '../../lib/checkpoint.js';
import { interpolateArenas } from '../../lib/interpolate.js';
import { CheckpointMismatchError } from '../../lib/errors.js';
import { loadPair } from '../../lib/load-checkpoints.js';
import { readModel, writeModel } from '../../lib/onnx/model.js';
import { fixture, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const data = { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 500 };
const legacy = (name: string) => fixture('models', `${name}.onnx`);
const dynamo = (name: string) => fixture('models', 'dynamo', `${name}.onnx`);
const PAIRS = ['mlp', 'cnn_folded', 'cnn_bn'];

/** A deterministic input batch of 16 samples in the models' input range. */
function batch(): ort.Tensor {
  const x = new Float32Array(16 * 784);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    x[i] = (s / 2147483648) * 4 - 1;
  }
  return new ort.Tensor('float32', x, [16, 1, 28, 28]);
}

async function logits(file: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ input: batch() });
  return out.logits!.data as Float32Array;
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i]!))));
}

describe('dynamo-style fixtures', () => {
  it.each([...PAIRS.flatMap((p) => [`${p}_a`, `${p}_b`]), 'mlp_shared_a'])('%s computes the same logits as its legacy source (onnxruntime, 1e-5)', async (name) => {
    const source = name === 'mlp_shared_a' ? dynamo('mlp_shared_a_legacy') : legacy(name);
    expectClose([...(await logits(dynamo(name)))], [...(await logits(source))], 1e-5);
  });

  it('reads state_dict names, val_N transposes, external data and one parameter per use of a merged initializer', async () => {
    const c = await loadCheckpoint(dynamo('mlp_shared_a'));
    expect(c.parameters.map((p) => [p.tensor, p.shape])).toEqual([
      ['val_1', [784, 256]],
      ['fc1.bias', [256]],
      ['val_2', [256, 256]],
      ['fc1.bias', [256]],
      ['val_3', [256, 10]],
    ]);
    expect(c.structure[0]!.inputs[1]).toMatchObject({ kind: 'constant', tensor: 'val_0', type: 'INT64', shape: [2] });
  });
});

describe('pairing dynamo-style checkpoints', () => {
  it.each(PAIRS)('%s: dynamo-style and legacy exports of the same checkpoints give the same LMC curve', async (pair) => {
    const a = await lmc({ a: dynamo(`${pair}_a`), b: dynamo(`${pair}_b`), data }, { alphas: [0, 0.25, 0.5, 0.75, 1] });
    const b = await lmc({ a: legacy(`${pair}_a`), b: legacy(`${pair}_b`), data }, { alphas: [0, 0.25, 0.5, 0.75, 1] });
    expect(a.accuracy).toEqual(b.accuracy);
    expectClose(a.loss, b.loss, 1e-5);
  });

  it('mlp: analyze gives the same per-layer numbers for both exports (layers in graph order)', async () => {
    const options = { alphas: [0.5], batchSize: 250 };
    const d = await analyze({ a: dynamo('mlp_a'), b: dynamo('mlp_b'), data }, options);
    const l = await analyze({ a: legacy('mlp_a'), b: legacy('mlp_b'), data }, options);
    expect(d.layers.map((x) => [x.op, x.module])).toEqual(l.layers.map((x) => [x.op, x.module]));
    expect(d.commutativity.map((c) => c.module)).toEqual(l.commutativity.map((c) => c.module));
    d.layers.forEach((layer, i) => {
      const other = l.layers[i]!;
      expectClose([layer.baseline, ...layer.llfc.flatMap((p) => [p.distance, p.coefficient])], [other.baseline, ...other.llfc.flatMap((p) => [p.distance, p.coefficient])], 1e-5);
      expectClose((layer.weakAdditivity ?? []).map((p) => p.distance), (other.weakAdditivity ?? []).map((p) => p.distance), 1e-5);
    });
    expect(d.commutativity.length).toBe(l.commutativity.length);
    d.commutativity.forEach((c, i) => expectClose([c.distCom, c.distW, c.distH], [l.commutativity[i]!.distCom, l.commutativity[i]!.distW, l.commutativity[i]!.distH], 1e-5));
  });

  it('an all-zero bias dropped in A pairs as zeros, and a merged initializer pairs per use', async () => {
    const [a, b] = await loadPair(dynamo('mlp_shared_a'), dynamo('mlp_b'));
    expect(a.arena.length).toBe(b.arena.length);
    const restored = a.parameters.at(-1)!;
    expect([restored.tensor, restored.inputIndex, restored.shape]).toEqual(['fc3.bias', 2, [10]]);
    expect([...a.arena.subarray(restored.offset, restored.offset + restored.length)]).toEqual(new Array(10).fill(0));
    const alphas = [0, 0.5, 1];
    const d = await lmc({ a: dynamo('mlp_shared_a'), b: dynamo('mlp_b'), data }, { alphas });
    const l = await lmc({ a: dynamo('mlp_shared_a_legacy'), b: legacy('mlp_b'), data }, { alphas });
    expect(d.accuracy).toEqual(l.accuracy);
    expectClose(d.loss, l.loss, 1e-5);
    // And with the bias missing in B instead.
    const swapped = await lmc({ a: dynamo('mlp_b'), b: dynamo('mlp_shared_a'), data }, { alphas });
    expectClose(swapped.loss, [...d.loss].reverse(), 1e-5);
  });

  it('a dynamo-style A with a legacy B: a CheckpointMismatchError naming the first differing node', async () => {
    const error = await loadPair(dynamo('mlp_a'), legacy('mlp_b')).then(([a, b]) => pairCheckpoints(a, b)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(/node 0 \('node_Reshape_0' in .*mlp_a\.onnx, '\/flatten\/Flatten' in .*mlp_b\.onnx\): op Reshape vs Flatten/);
  });

  it('nodes whose attributes differ: a CheckpointMismatchError naming the attributes', async () => {
    const model = (await readModel(legacy('mlp_b'))).proto;
    const gemm = model.graph!.node!.find((n) => n.opType === 'Gemm')!;
    gemm.attribute = gemm.attribute!.filter((x) => x.name !== 'alpha' && x.name !== 'beta');
    const b = join(tmp.dir, 'attributes.onnx');
    await writeModel(model, b);
    const [ca, cb] = await Promise.all([loadCheckpoint(legacy('mlp_a')), loadCheckpoint(b)]);
    expect(() => pairCheckpoints(ca, cb)).toThrow(/node 1 \('\/fc1\/Gemm' in .*, '\/fc1\/Gemm' in .*\) \(Gemm\): the attributes differ \(alpha, beta\)/);
  });

  it('float initializers equal in A and B stay as they are at every α (bit for bit)', async () => {
    const a = await loadCheckpoint(dynamo('mlp_a'));
    for (const theta of interpolateArenas(a.arena, a.arena, [1 / 3, 0.5, 0.9])) expect(Buffer.from(theta.buffer).equals(Buffer.from(a.arena.buffer))).toBe(true);
  });

  it('integer initializers that differ between A and B: a CheckpointMismatchError naming the tensor', async () => {
    const dir = join(tmp.dir, 'int');
    mkdirSync(dir);
    const model = (await readModel(dynamo('cnn_folded_b'))).proto;
    const shape = model.graph!.initializer!.find((t) => t.name === 'val_0')!;
    shape.rawData = new Uint8Array(new BigInt64Array([-1n, 1568n]).buffer);
    const b = join(dir, 'b.onnx');
    await writeModel(model, b);
    copyFileSync(dynamo('cnn_folded_a'), join(dir, 'a.onnx'));
    copyFileSync(`${dynamo('cnn_folded_a')}.data`, join(dir, 'cnn_folded_a.onnx.data'));
    const error = (await lmc({ a: join(dir, 'a.onnx'), b, data: { ...data, limit: 10 } }).catch((e: unknown) => e)) as CheckpointMismatchError;
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect(error.tensor).toBe('val_0');
    expect(error.message).toMatch(/the INT64 initializer 'val_0' of shape \[2\] differs from 'val_0'.*never interpolated and must be equal in A and B/);
  });
});
