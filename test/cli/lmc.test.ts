import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../dataset/helpers.js';
import { fixture, llfc, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const mlpA = fixture('models', 'mlp_a.onnx');
const mlpB = fixture('models', 'mlp_b.onnx');
const x = fixture('data', 'fashion_test_x.npy');
const y = fixture('data', 'fashion_test_y.npy');
const norm = ['--mean', '0.286', '--std', '0.353'];

describe('llfc lmc', () => {
  it('prints a table and writes a JSON report equal to the PyTorch reference', () => {
    const out = join(tmp.dir, 'report.json');
    const r = llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--steps', '11', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/barriers: loss 0\.99\d\d/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    const ref = JSON.parse(readFileSync(fixture('reference', 'lmc.json'), 'utf8')).mlp;
    expect(report.lmc.alphas).toEqual(ref.alphas);
    expect(report.lmc.accuracy).toEqual(ref.accuracy);
    report.lmc.loss.forEach((l: number, i: number) => expect(l).toBeCloseTo(ref.loss[i], 4));
    expect(report.lmc.barriers.loss).toBeCloseTo(ref.barriers.loss, 4);
    expect(report.lmc.barriers.lossMidpoint).toBeCloseTo(ref.barriers.lossMidpoint, 4);
    expect(report.lmc.barriers.accuracy).toBeCloseTo(ref.barriers.accuracy, 8);
  });

  it('takes explicit α values and prints JSON on stdout with --json', () => {
    const r = llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--alphas', '0,0.5,1', '--limit', '200', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).lmc.alphas).toEqual([0, 0.5, 1]);
  });

  it('reads the same samples from gzipped IDX files', () => {
    const idx = llfc('lmc', mlpA, mlpB, '--data', fixture('data', 'fashion_test-images-idx3-ubyte.gz'), '--labels', fixture('data', 'fashion_test-labels-idx1-ubyte.gz'), ...norm, '--alphas', '0,0.5,1', '--json', '--limit', '300');
    const npy = llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--alphas', '0,0.5,1', '--json', '--limit', '300');
    expect(JSON.parse(idx.stdout).lmc.loss).toEqual(JSON.parse(npy.stdout).lmc.loss);
  });

  it('never overwrites an input file', () => {
    const copy = join(tmp.dir, 'a.onnx');
    copyFileSync(mlpA, copy);
    const r = llfc('lmc', copy, mlpB, '--data', x, '--labels', y, '--out', copy);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to write .*a\.onnx: it is an input file/);
    expect(readFileSync(copy)).toEqual(readFileSync(mlpA));
  });

  const truncated = join(tmp.dir, 'truncated.onnx');
  writeFileSync(truncated, readFileSync(mlpA).subarray(0, 5000));
  const lonely = join(tmp.dir, 'lonely.onnx');
  copyFileSync(fixture('models', 'mlp_a_external.onnx'), lonely);
  const flat = writeNpy(join(tmp.dir, 'flat.npy'), '<f4', [4, 784], new Float32Array(4 * 784));
  const labels4 = writeNpy(join(tmp.dir, 'labels4.npy'), '<i8', [4], new BigInt64Array(4));
  const badLabels = writeNpy(join(tmp.dir, 'bad-labels.npy'), '<i8', [256], BigInt64Array.from({ length: 256 }, (_, i) => BigInt(i === 7 ? 12 : 1)));
  const empty = writeNpy(join(tmp.dir, 'empty.npy'), '<f4', [0, 1, 28, 28], new Float32Array(0));
  const f32 = fixture('data', 'fashion_test_x_f32.npy');
  const cases: [string, string[], RegExp][] = [
    ['a truncated model', [truncated, mlpB, '--data', x, '--labels', y], /truncated\.onnx: not a valid ONNX model/],
    ['a non-ONNX file', [y, mlpB, '--data', x, '--labels', y], /fashion_test_y\.npy: not a valid ONNX model/],
    ['a missing external data file', [lonely, mlpB, '--data', x, '--labels', y], /mlp_a_external\.onnx\.data' is missing/],
    ['a mismatched pair', [mlpA, fixture('models', 'cnn_bn_b.onnx'), '--data', x, '--labels', y], /differ at node 0 .*Flatten vs Conv/],
    ['data that does not fit the model', [mlpA, mlpB, '--data', flat, '--labels', labels4], /samples of shape \[784\] do not fit the input 'input'/],
    ['labels out of range', [mlpA, mlpB, '--data', f32, '--labels', badLabels], /bad-labels\.npy.*12/],
    ['labels of the wrong length', [mlpA, mlpB, '--data', f32, '--labels', y], /2000 labels .* 256 samples/],
    ['α outside [0, 1]', [mlpA, mlpB, '--data', x, '--labels', y, '--alphas', '0,-0.5,1'], /alphas\[1\] must be a number in \[0, 1\], got -0\.5/],
    ['an empty dataset', [mlpA, mlpB, '--data', empty], /empty\.npy/],
    ['a missing data file', [mlpA, mlpB, '--data', join(tmp.dir, 'nothing.npy'), '--labels', y], /nothing\.npy/],
  ];
  it.each(cases)('exits non-zero with a message naming the problem for %s', (_what, args, message) => {
    const r = llfc('lmc', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('llfc demo', () => {
  it('analyzes the bundled checkpoints and data with no arguments: LMC, LLFC per layer, commutativity', () => {
    const r = llfc('demo');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Analysis of .*mlp_a\.onnx/);
    expect(r.stdout).toMatch(/barriers: loss 0\.99/);
    expect(r.stdout).toMatch(/relu2 +activation/);
    expect(r.stdout).toMatch(/fc2 +Gemm/);
    expect(r.stdout).toMatch(/loss barrier: naive 0\.99\d+ → aligned 0\.0\d+/);
    expect(existsSync(fixture('models', 'mlp_a.onnx'))).toBe(true);
  });
});
