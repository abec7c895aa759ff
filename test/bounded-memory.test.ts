/**
 * Large models in bounded memory (issue 16): the weights are held once. These check the
 * mechanisms a regression would undo — external data read straight into the arena, the model
 * sharing the arena's bytes, copies of a model sharing their weights, sessions fed from the
 * arenas, file-backed arenas handed back once loaded — on the fixtures, where the effect cannot
 * be seen in the process's memory as a whole.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, rewireParameters, type Checkpoint } from '../lib/checkpoint.js';
import { interpolateArenas } from '../lib/interpolate.js';
import { EXTERNAL_READ_CHUNK, readExternalInto } from '../lib/onnx/external-data.js';
import { cloneModel } from '../lib/onnx/model.js';
import { DataType } from '../lib/onnx/proto.js';
import { safetensorsPieces } from '../lib/align/safetensors.js';
import { ModelSession } from '../lib/session.js';
import { native } from '../lib/native.js';
import { fileBackedResidentKb, fixture, tempDir } from './helpers.js';

const root = join(import.meta.dirname, '..');
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Whether every stored FLOAT parameter tensor of the checkpoint's model is a view of its arena. */
function viewsOfArena(c: Checkpoint): boolean {
  const names = new Set(c.parameters.map((p) => p.tensor));
  const tensors = c.model.graph!.initializer.filter((t) => names.has(t.name));
  return tensors.length > 0 && tensors.every((t) => t.dataType === DataType.FLOAT && t.rawData.buffer === c.arena.buffer);
}

describe('weights held once', () => {
  it('external data streams into the arena: the model’s float tensors are views of it, none left external', async () => {
    const c = await loadCheckpoint(fixture('models', 'mlp_a_external.onnx'));
    expect(c.externalData).toBe(true);
    expect(viewsOfArena(c)).toBe(true);
    const embedded = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    expect(viewsOfArena(embedded)).toBe(true);
    expect(c.arena).toEqual(embedded.arena);
  });

  it('external bytes land in the destination given, read in chunks past the chunk size, the offset honoured', async () => {
    const dir = join(tmp.dir, 'chunks');
    mkdirSync(dir);
    const length = EXTERNAL_READ_CHUNK + 12_345;
    const bytes = Uint8Array.from({ length: length + 100 }, (_, i) => (i * 31) & 0xff);
    writeFileSync(join(dir, 'w.bin'), bytes);
    const dest = new Uint8Array(length + 8);
    await readExternalInto(join(dir, 'm.onnx'), 'w', { path: join(dir, 'w.bin'), offset: 100, length }, dest.subarray(4, 4 + length));
    expect(Buffer.compare(dest.subarray(4, 4 + length), bytes.subarray(100))).toBe(0);
    expect([...dest.subarray(0, 4), ...dest.subarray(4 + length)]).toEqual(new Array(8).fill(0));
  });

  it('a copy of a model and a session’s rewired model share the weights’ bytes instead of copying them', async () => {
    const c = await loadCheckpoint(fixture('models', 'cnn_bn_a.onnx'));
    const copy = cloneModel(c.model);
    c.model.graph!.initializer.forEach((t, i) => expect(copy.graph!.initializer[i]!.rawData).toBe(t.rawData));
    const theta = c.arena.map((v) => v * 0.5);
    const baked = rewireParameters(c, theta);
    const params = baked.graph!.initializer.filter((t) => t.name.startsWith('llfc_param_'));
    expect(params.length).toBe(c.parameters.length);
    expect(params.every((t) => t.rawData.buffer === theta.buffer)).toBe(true);
  });

  it.each(['mlp', 'lm_untied'])('%s: a session computing θ(α) in its graph from A’s and B’s arenas equals one with θ(α) baked in (1e-5)', async (name) => {
    const a = await loadCheckpoint(fixture('models', `${name}_a.onnx`));
    const b = await loadCheckpoint(fixture('models', `${name}_b.onnx`));
    const tokens = name !== 'mlp';
    const n = 3;
    const input = tokens ? BigInt64Array.from({ length: n * 32 }, (_, i) => BigInt((i * 37) % 200)) : Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i));
    const dims = tokens ? [n, 32] : [n, 1, 28, 28];
    const interpolated = await ModelSession.create(a, { interpolated: true });
    for (const alpha of [0.3, 0.75]) {
      const [theta] = interpolateArenas(a.arena, b.arena, [alpha]);
      const baked = await ModelSession.create(a, { parameters: theta! });
      const want = (await baked.run(input, dims))[baked.outputNames[0]!]!.data as Float32Array;
      const got = (await interpolated.run(input, dims, { a: a.arena, b: b.arena, alpha }))[interpolated.outputNames[0]!]!.data as Float32Array;
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
      expect(worst).toBeLessThan(1e-5);
      await baked.release();
    }
    await expect(interpolated.run(input, dims, a.arena)).rejects.toThrow(/A’s and B’s arenas and α/);
    await interpolated.release();
  });

  it('safetensors pieces are views of the tensors (little-endian machines), written back to back', () => {
    const w = Float32Array.from([1, 2, 3, 4]);
    const pieces = safetensorsPieces([{ name: 'w', shape: [2, 2], data: w }]);
    expect(pieces).toHaveLength(2);
    expect(pieces[1]!.buffer).toBe(w.buffer);
    expect(pieces[0]!.length % 8).toBe(0);
  });
});

describe('file-backed arenas', () => {
  it('a checkpoint loaded with fileBackedFrom at most its size has a file-backed arena equal to the ordinary one, none of it resident once loaded', async () => {
    const file = fixture('models', 'mlp_a_external.onnx');
    const plain = await loadCheckpoint(file);
    const backed = await loadCheckpoint(file, { fileBackedFrom: plain.arena.length });
    expect(fileBackedResidentKb(plain.arena.length)).toEqual([0]);
    expect(backed.arena).toEqual(plain.arena);
    expect(viewsOfArena(backed)).toBe(true);
    expect(native().releaseFilePages(backed.arena)).toBeGreaterThan(0);
    const above = await loadCheckpoint(file, { fileBackedFrom: plain.arena.length + 1 });
    expect(native().releaseFilePages(above.arena)).toBe(0);
    expect(above.arena).toEqual(plain.arena);
  });
});

describe('OpenMP wait policy', () => {
  it('starting a task’s worker sets OMP_WAIT_POLICY=PASSIVE in the process environment, which an addon loaded in a worker reads', () => {
    // A worker's process.env is a private copy: only the main thread's setenv reaches libgomp.
    const host = pathToFileURL(join(root, 'lib', 'worker', 'host.ts')).href;
    const addon = join(root, 'build', 'Release', 'llfc.node');
    const script = `
      import { Worker } from 'node:worker_threads';
      const { runTask } = await import(${JSON.stringify(host)});
      await runTask('lmc', { a: ${JSON.stringify(fixture('models', 'mlp_a.onnx'))}, b: ${JSON.stringify(fixture('models', 'mlp_b.onnx'))},
        data: { data: ${JSON.stringify(fixture('data', 'fashion_test_x.npy'))}, labels: ${JSON.stringify(fixture('data', 'fashion_test_y.npy'))}, limit: 4 }, options: { alphas: [0, 1] } });
      const worker = \`import { parentPort } from 'node:worker_threads'; import { createRequire } from 'node:module';
        parentPort.postMessage(createRequire(\${JSON.stringify(${JSON.stringify(addon)})})(\${JSON.stringify(${JSON.stringify(addon)})}).openmpWaitPolicy);\`;
      const seen = await new Promise((resolve) => new Worker(worker, { eval: true }).once('message', resolve));
      console.log(JSON.stringify({ env: process.env.OMP_WAIT_POLICY ?? null, seen }));`;
    const env = { ...process.env };
    delete env.OMP_WAIT_POLICY;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env, cwd: root });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ env: 'PASSIVE', seen: 'PASSIVE' });
  });
});
