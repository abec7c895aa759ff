/**
 * A model read with external data is written with external data next to the output
 * (`out.onnx` + `out.onnx.data`) by interpolate, permute and align, through the output gate:
 * both files or neither, and the data file never over an input.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { alignFiles, interpolate } from '../../lib/api.js';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { OutputError } from '../../lib/errors.js';
import { decodeModel, encodeModel, readModel } from '../../lib/onnx/model.js';
import { DataLocation, metadataValue } from '../../lib/onnx/proto.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = (): string => {
  const dir = join(tmp.dir, `case${n++}`);
  mkdirSync(dir);
  return dir;
};
const dynamo = (name: string) => fixture('models', 'dynamo', `${name}.onnx`);
const legacy = (name: string) => fixture('models', `${name}.onnx`);

async function logits(file: string): Promise<number[]> {
  const x = Float32Array.from({ length: 8 * 784 }, (_, i) => Math.sin(i * 0.37));
  const session = await ort.InferenceSession.create(file);
  return [...((await session.run({ input: new ort.Tensor('float32', x, [8, 1, 28, 28]) })).logits!.data as Float32Array)];
}

const expectClose = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b[i]!))));
};

describe('writing models read with external data', () => {
  it('interpolate writes out.onnx + out.onnx.data, computing what the legacy midpoint computes', async () => {
    const dir = fresh();
    const out = join(dir, 'mid.onnx');
    await interpolate(dynamo('mlp_a'), dynamo('mlp_b'), 0.5, out);
    expect(readdirSync(dir).sort()).toEqual(['mid.onnx', 'mid.onnx.data']);
    expect(statSync(out).size).toBeLessThan(10_000);
    const written = (await readModel(out)).proto;
    expect(written.graph!.initializer!.find((t) => t.name === 'val_1')!.dataLocation).toBe(DataLocation.DEFAULT);
    const raw = decodeModel(readFileSync(out), out);
    const external = raw.graph!.initializer!.filter((t) => t.dataLocation === DataLocation.EXTERNAL);
    // Tensors of 1 KiB or more (the three weights and the two 256-wide biases) go to the data file.
    expect(external.map((t) => [t.name, t.externalData.find((e) => e.key === 'location')!.value])).toEqual(
      ['val_1', 'fc1.bias', 'val_2', 'fc2.bias', 'val_3'].map((name) => [name, 'mid.onnx.data']),
    );
    expect((await loadCheckpoint(out)).externalData).toBe(true);
    // The dynamo metadata travels with the model: the folded transpose's source, the module paths.
    expect(metadataValue(raw.graph!.initializer.find((t) => t.name === 'val_1')!.metadataProps, 'pkg.onnxscript.optimizer.folded_from')).toBe("{'fc1.weight'}");
    expect(metadataValue(raw.graph!.node[1]!.metadataProps, 'pkg.torch.onnx.name_scopes')).toBe("['', 'fc1', 'addmm']");
    const legacyMid = join(dir, 'legacy-mid.onnx');
    await interpolate(legacy('mlp_a'), legacy('mlp_b'), 0.5, legacyMid);
    expect(existsSync(`${legacyMid}.data`)).toBe(false);
    expectClose(await logits(out), await logits(legacyMid));
  });

  it('permute writes the permuted model with its data file, computing what the model computes', async () => {
    const dir = fresh();
    const out = join(dir, 'p.onnx');
    const r = await runCliInProcess('permute', dynamo('cnn_folded_b'), '--random', '--seed', '3', '-o', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['p.onnx', 'p.onnx.data']);
    const permuted = await loadCheckpoint(out);
    expect(permuted.arena).not.toEqual((await loadCheckpoint(dynamo('cnn_folded_b'))).arena);
    expectClose(await logits(out), await logits(dynamo('cnn_folded_b')));
  });

  it('align writes the aligned B with its data file', async () => {
    const dir = fresh();
    const out = join(dir, 'aligned.onnx');
    await alignFiles({ a: dynamo('mlp_a'), b: dynamo('mlp_b'), outputs: { onnx: out } }, { method: 'weight' });
    expect(readdirSync(dir).sort()).toEqual(['aligned.onnx', 'aligned.onnx.data']);
    expectClose(await logits(out), await logits(dynamo('mlp_b')));
  });

  it('refuses a data file name that is an input (the model’s own external data), writing nothing', async () => {
    const dir = fresh();
    copyFileSync(`${dynamo('mlp_a')}.data`, join(dir, 'out.onnx.data'));
    const raw = decodeModel(readFileSync(dynamo('mlp_a')), 'mlp_a.onnx');
    for (const t of raw.graph!.initializer!) for (const e of t.externalData) if (e.key === 'location') e.value = 'out.onnx.data';
    writeFileSync(join(dir, 'm.onnx'), encodeModel(raw));
    const error = (await interpolate(join(dir, 'm.onnx'), dynamo('mlp_b'), 0.5, join(dir, 'out.onnx')).catch((e: unknown) => e)) as OutputError;
    expect(error).toBeInstanceOf(OutputError);
    expect(error.message).toMatch(/refusing to write the model’s external data .*out\.onnx\.data: it is an input file/);
    expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'out.onnx.data']);
  });

  it('writes neither file when the data file cannot be written', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'mid.onnx.data'));
    const error = await interpolate(dynamo('mlp_a'), dynamo('mlp_b'), 0.5, join(dir, 'mid.onnx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputError);
    expect((error as Error).message).toMatch(/mid\.onnx\.data: it is a directory, not a regular file/);
    expect(readdirSync(dir)).toEqual(['mid.onnx.data']);
  });
});
