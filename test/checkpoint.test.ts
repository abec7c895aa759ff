import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, pairCheckpoints, rewireParameters, withParameters } from '../lib/checkpoint.js';
import { CheckpointMismatchError, ExternalDataError, NonFiniteParameterError, OnnxFormatError } from '../lib/errors.js';
import { decodeModel, encodeModel, readModel, writeModel } from '../lib/onnx/model.js';
import { newNode } from '../lib/onnx/proto.js';
import { fixture, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function randomInput(n: number): Float32Array {
  let seed = 12345;
  return Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  });
}

async function runFile(bytesOrPath: string | Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = typeof bytesOrPath === 'string' ? await ort.InferenceSession.create(bytesOrPath) : await ort.InferenceSession.create(bytesOrPath);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  await session.release();
  return out[session.outputNames[0]!]!.data as Float32Array;
}

describe('ONNX reading and writing', () => {
  it.each(['mlp_a', 'cnn_folded_a', 'cnn_bn_a', 'resnet_a'])('a read–write round trip of %s keeps every field and identical outputs', async (name) => {
    const file = fixture('models', `${name}.onnx`);
    const model = await readModel(file);
    const out = join(tmp.dir, `${name}.roundtrip.onnx`);
    await writeModel(model.proto, out);
    const again = decodeModel(readFileSync(out), out);
    expect(again).toEqual(decodeModel(readFileSync(file), file));
    const x = randomInput(8 * 784);
    expect(await runFile(out, x, [8, 1, 28, 28])).toEqual(await runFile(file, x, [8, 1, 28, 28]));
  });

  it('reads a model whose tensors live in an external data file like the embedded original', async () => {
    const external = await loadCheckpoint(fixture('models', 'mlp_a_external.onnx'));
    const embedded = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    expect(external.arena).toEqual(embedded.arena);
  });

  it('names the missing external data file', async () => {
    const copy = join(tmp.dir, 'lonely.onnx');
    copyFileSync(fixture('models', 'mlp_a_external.onnx'), copy);
    const error = await loadCheckpoint(copy).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalDataError);
    expect((error as Error).message).toMatch(/mlp_a_external\.onnx\.data' is missing/);
  });

  it('rejects a truncated model with OnnxFormatError naming the file', async () => {
    const bytes = readFileSync(fixture('models', 'mlp_a.onnx'));
    const cut = join(tmp.dir, 'truncated.onnx');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(loadCheckpoint(cut)).rejects.toThrow(OnnxFormatError);
    await expect(loadCheckpoint(cut)).rejects.toThrow(/truncated\.onnx/);
  });

  it.each([
    ['a text file', 'hello, I am not a model\n'],
    ['an empty file', ''],
    ['an npy array', readFileSync(fixture('data', 'fashion_test_y.npy'))],
  ])('rejects %s with OnnxFormatError', async (_what, content) => {
    const file = join(tmp.dir, 'not-onnx.bin');
    writeFileSync(file, content);
    await expect(loadCheckpoint(file)).rejects.toThrow(OnnxFormatError);
  });

  it('rejects a file that does not exist, naming it', async () => {
    await expect(loadCheckpoint(join(tmp.dir, 'nope.onnx'))).rejects.toThrow(/nope\.onnx: .*does not exist/);
  });
});

describe('parameter arena and pairing', () => {
  it('puts every float parameter of the CNN with BatchNorm in one arena, BN statistics included', async () => {
    const c = await loadCheckpoint(fixture('models', 'cnn_bn_a.onnx'));
    const names = c.parameters.map((p) => p.tensor);
    expect(names).toContain('bn1.running_mean');
    expect(names).toContain('bn1.running_var');
    const last = c.parameters[c.parameters.length - 1]!;
    expect(last.offset + last.length).toBe(c.arena.length);
  });

  it.each(['mlp', 'mlp_spawn', 'cnn_folded', 'cnn_bn', 'resnet'])('pairs the two %s checkpoints by structure', async (pair) => {
    const a = await loadCheckpoint(fixture('models', `${pair}_a.onnx`));
    const b = await loadCheckpoint(fixture('models', `${pair}_b.onnx`));
    expect(() => pairCheckpoints(a, b)).not.toThrow();
    expect(a.parameters.map((p) => p.shape)).toEqual(b.parameters.map((p) => p.shape));
  });

  it('refuses a pair of different architectures, naming the first differing node', async () => {
    const a = await loadCheckpoint(fixture('models', 'cnn_folded_a.onnx'));
    const b = await loadCheckpoint(fixture('models', 'cnn_bn_a.onnx'));
    const error = (() => {
      try {
        pairCheckpoints(a, b);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(/BatchNormalization|Relu/);
  });

  it('refuses a pair whose parameter shapes differ, naming node, tensor and both shapes', async () => {
    const model = (await readModel(fixture('models', 'mlp_b.onnx'))).proto;
    const fc3 = model.graph!.initializer!.find((t) => t.name === 'fc3.weight')!;
    fc3.dims = [5n, 256n];
    fc3.rawData = fc3.rawData!.subarray(0, 5 * 256 * 4);
    const file = join(tmp.dir, 'narrow.onnx');
    await writeModel(model, file);
    const a = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    const b = await loadCheckpoint(file);
    expect(() => pairCheckpoints(a, b)).toThrow(/\/fc3\/Gemm.*'fc3\.weight' of shape \[10, 256\] vs .*\[5, 256\]/);
  });

  it('pairs a checkpoint that shares one tensor between two uses (through Identity) with one that does not', async () => {
    // In A, fc2's bias is an Identity alias of fc1's bias (as exporters de-duplicate equal values).
    const model = (await readModel(fixture('models', 'mlp_a.onnx'))).proto;
    const graph = model.graph!;
    graph.node!.unshift(newNode({ opType: 'Identity', input: ['fc1.bias'], output: ['fc2.bias.alias'], name: 'alias' }));
    const gemm = graph.node!.find((n) => n.name === '/fc2/Gemm')!;
    gemm.input![2] = 'fc2.bias.alias';
    graph.initializer = graph.initializer!.filter((t) => t.name !== 'fc2.bias');
    const file = join(tmp.dir, 'shared.onnx');
    await writeModel(model, file);
    const a = await loadCheckpoint(file);
    const b = await loadCheckpoint(fixture('models', 'mlp_b.onnx'));
    expect(() => pairCheckpoints(a, b)).not.toThrow();
    expect(a.arena.length).toBe(b.arena.length);
    const uses = a.parameters.filter((p) => p.tensor === 'fc1.bias');
    expect(uses.map((p) => p.node)).toEqual(['/fc1/Gemm', '/fc2/Gemm']);
    // Rewired per use, the two uses can take different values and the model still runs.
    const rewired = rewireParameters(a, b.arena);
    const x = randomInput(2 * 784);
    const viaA = await runFile(encodeModel(rewired), x, [2, 1, 28, 28]);
    expect(viaA).toEqual(await runFile(fixture('models', 'mlp_b.onnx'), x, [2, 1, 28, 28]));
  });

  it('names the tensor holding NaN', async () => {
    const model = (await readModel(fixture('models', 'mlp_a.onnx'))).proto;
    const t = model.graph!.initializer!.find((t) => t.name === 'fc2.weight')!;
    const raw = new Uint8Array(t.rawData!);
    new DataView(raw.buffer).setFloat32(4 * 17, NaN, true);
    t.rawData = raw;
    const file = join(tmp.dir, 'nan.onnx');
    await writeModel(model, file);
    const error = await loadCheckpoint(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteParameterError);
    expect((error as Error).message).toMatch(/'fc2\.weight' holds NaN at flat index 17/);
  });

  it('writes parameters back under their original names (withParameters) so the model computes with them', async () => {
    const a = await loadCheckpoint(fixture('models', 'resnet_a.onnx'));
    const b = await loadCheckpoint(fixture('models', 'resnet_b.onnx'));
    const file = join(tmp.dir, 'a-with-b.onnx');
    await writeModel(withParameters(a, b.arena), file);
    const x = randomInput(3 * 784);
    expect(await runFile(file, x, [3, 1, 28, 28])).toEqual(await runFile(fixture('models', 'resnet_b.onnx'), x, [3, 1, 28, 28]));
  });
});

describe('tensor storage', () => {
  it('reads parameters stored as float_data like the same values stored as raw_data', async () => {
    const model = (await readModel(fixture('models', 'mlp_a.onnx'))).proto;
    for (const t of model.graph!.initializer!) {
      if (t.dataType !== 1 || !t.rawData?.length) continue;
      const copy = new Uint8Array(t.rawData);
      t.floatData = Array.from(new Float32Array(copy.buffer));
      t.rawData = new Uint8Array(0);
    }
    const file = join(tmp.dir, 'float-data.onnx');
    await writeModel(model, file);
    expect((await loadCheckpoint(file)).arena).toEqual((await loadCheckpoint(fixture('models', 'mlp_a.onnx'))).arena);
  });
});
