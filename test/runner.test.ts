/**
 * The addon's onnxruntime runner (lib/runner.ts, native/ort_runtime.h) against onnxruntime-node:
 * the same sessions give the same values, kept output arrays are written again in place, and
 * bad calls are typed errors.
 */
import * as ort from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../lib/checkpoint.js';
import { InvalidArgumentError, NativeError, OnnxFormatError } from '../lib/errors.js';
import { loadPair } from '../lib/load-checkpoints.js';
import { native } from '../lib/native.js';
import { encodeModel } from '../lib/onnx/model.js';
import { createRunner, OutputBuffers, usesNativeRunner, type RunOutputs } from '../lib/runner.js';
import { helperModel, renode } from '../lib/onnx/build.js';
import { GraphSession, ModelSession } from '../lib/session.js';
import { fixture } from './helpers.js';

const forced = process.env.LLFC_ORT_RUNNER;
afterEach(() => {
  if (forced === undefined) delete process.env.LLFC_ORT_RUNNER;
  else process.env.LLFC_ORT_RUNNER = forced;
});

/** A session of `checkpoint` on the runner LLFC_ORT_RUNNER names. */
async function sessionOn(runner: 'native' | 'node', checkpoint: Checkpoint, taps: string[]): Promise<ModelSession> {
  process.env.LLFC_ORT_RUNNER = runner;
  return ModelSession.create(checkpoint, { parameters: checkpoint.arena, taps });
}

/** Deterministic inputs in [0, 1). */
function images(samples: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: samples * 784 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

function copies(outputs: RunOutputs): Map<string, Float32Array> {
  return new Map(Object.entries(outputs).map(([name, t]) => [name, Float32Array.from(t.data as Float32Array)]));
}

describe('the addon’s onnxruntime runner', () => {
  let a: Checkpoint;
  let taps: string[];
  beforeAll(async () => {
    [a] = await loadPair(fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'));
    taps = a.model.graph!.node.filter((n) => ['Relu', 'Add', 'Conv'].includes(n.opType)).map((n) => n.output[0]!);
  });

  it('finds the onnxruntime onnxruntime-node loaded, so sessions run on it by default', () => {
    expect(native().ortRuntime()).toEqual({ version: expect.stringMatching(/^1\.\d+\.\d+/) });
    delete process.env.LLFC_ORT_RUNNER;
    expect(usesNativeRunner()).toBe(true);
  });

  it('gives every tapped value of a batch equal, bit for bit, to onnxruntime-node’s', async () => {
    const x = images(16, 1);
    const [mine, theirs] = [await sessionOn('native', a, taps), await sessionOn('node', a, taps)];
    const [got, want] = [await mine.run(x, [16, 1, 28, 28]), await theirs.run(x, [16, 1, 28, 28])];
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [name, t] of Object.entries(want)) {
      expect(got[name]!.dims, name).toEqual(t.dims);
      expect(Buffer.from((got[name]!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
    }
    await Promise.all([mine.release(), theirs.release()]);
  });

  it('writes a run of the same input dims into the kept arrays, new arrays for other dims, transient values always new', async () => {
    const session = await sessionOn('native', a, taps);
    const transient = taps[0]!;
    const into = new OutputBuffers(new Set([transient]));
    const first = await session.run(images(8, 2), [8, 1, 28, 28], undefined, into);
    const second = await session.run(images(8, 3), [8, 1, 28, 28], undefined, into);
    const other = await session.run(images(8, 3), [8, 1, 28, 28]);
    const kept = taps[taps.length - 1]!;
    expect(second[kept]!.data).toBe(first[kept]!.data);
    expect(into.holds(second[kept]!)).toBe(true);
    expect(second[transient]!.data).not.toBe(first[transient]!.data);
    expect(into.holds(second[transient]!)).toBe(false);
    // The kept arrays hold the second batch's values, as a run into new arrays gives them.
    for (const [name, values] of copies(other)) expect(second[name]!.data, name).toEqual(values);
    const smaller = await session.run(images(3, 3), [3, 1, 28, 28], undefined, into);
    expect(smaller[kept]!.data).not.toBe(second[kept]!.data);
    expect(smaller[kept]!.dims[0]).toBe(3);
    await session.release();
  });

  it('a helper graph’s session writes its outputs into kept arrays as well, new ones without them', async () => {
    process.env.LLFC_ORT_RUNNER = 'native';
    const graph = helperModel(a.model, [renode({ opType: 'MatMul' }, ['X', 'W'], ['Y'], 'Y')], ['X', 'W'], ['Y']);
    const session = await GraphSession.create(graph, 'helper');
    const [x, w] = [images(1, 6).subarray(0, 12), images(1, 7).subarray(0, 6)];
    const feeds = (scale: number) => ({ X: { data: x.map((v) => v * scale), dims: [4, 3] }, W: { data: w, dims: [3, 2] } });
    const into = new OutputBuffers();
    const first = await session.run(feeds(1), 'helper', into);
    const second = await session.run(feeds(2), 'helper', into);
    const fresh = await session.run(feeds(2), 'helper');
    expect(second['Y']!.data).toBe(first['Y']!.data);
    expect(fresh['Y']!.data).not.toBe(second['Y']!.data);
    expect(second['Y']!.data).toEqual(fresh['Y']!.data);
    await session.release();
  });

  it('runs again into new arrays when a kept array no longer fits the run (values whose dims depend on the data)', async () => {
    const session = await sessionOn('native', a, []);
    const into = new OutputBuffers();
    const want = await session.run(images(4, 5), [4, 1, 28, 28]);
    const logits = a.outputs[0]!.name;
    into.keep(logits, '4x1x28x28', new ort.Tensor('float32', new Float32Array(3 * 10), [3, 10]));
    const got = await session.run(images(4, 5), [4, 1, 28, 28], undefined, into);
    expect(got[logits]!.dims).toEqual([4, 10]);
    expect(got[logits]!.data).toEqual(want[logits]!.data);
    expect(into.get(logits, '4x1x28x28')).toBe(got[logits]);
    await session.release();
  });

  it('refuses wrong arguments with typed errors: array types and lengths, overlapping outputs, handles, released sessions', async () => {
    const addon = native();
    const { session } = await addon.ortCreateSession(encodeModel(a.model), { threads: 1, optimize: true });
    const input = (data: unknown, dims = [2, 1, 28, 28]) => [{ name: a.input.name, type: 1, dims, data }];
    const cases: [string, () => unknown, RegExp][] = [
      ['a Float64Array for a float tensor', () => addon.ortRun(session, input(new Float64Array(2 * 784)) as never, [{ name: 'logits' }]), /not the typed array of element type 1/],
      ['dims that disagree with the array', () => addon.ortRun(session, input(new Float32Array(784)) as never, [{ name: 'logits' }]), /has 784 elements, expected 1568/],
      ['an element type runs do not carry', () => addon.ortRun(session, [{ name: a.input.name, type: 8, dims: [1], data: new Float32Array(1) }], []), /not an element type runs carry/],
      ['an output over the input', () => { const x = new Float32Array(2 * 784); return addon.ortRun(session, input(x) as never, [{ name: 'logits', type: 1, dims: [2, 10], data: x.subarray(0, 20) }]); }, /overlaps inputs\[0\]/],
      ['a handle that is no session', () => addon.ortRun({}, [], []), /session must be a session from ortCreateSession/],
      ['a name onnxruntime does not know', () => addon.ortRun(session, [{ name: 'nope', type: 1, dims: [1], data: new Float32Array(1) }], [{ name: 'logits' }]), /onnxruntime: .*nope/],
    ];
    for (const [what, call, message] of cases) {
      const error = (() => { try { call(); } catch (e) { return e; } return undefined; })();
      expect(error, what).toBeInstanceOf(NativeError);
      expect((error as Error).message, what).toMatch(message);
    }
    addon.ortRelease(session);
    expect(() => addon.ortRun(session, [], [])).toThrow(/session was released/);
  });

  it('a model onnxruntime cannot load is the file’s OnnxFormatError; LLFC_ORT_RUNNER takes only native or node', async () => {
    delete process.env.LLFC_ORT_RUNNER;
    await expect(createRunner(new Uint8Array([1, 2, 3]), {}, 'broken.onnx')).rejects.toThrow(OnnxFormatError);
    await expect(createRunner(new Uint8Array([1, 2, 3]), {}, 'broken.onnx')).rejects.toThrow(/broken\.onnx.*onnxruntime cannot load it/);
    process.env.LLFC_ORT_RUNNER = 'cuda';
    expect(() => usesNativeRunner()).toThrow(InvalidArgumentError);
  });
});
