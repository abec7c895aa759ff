import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../dataset/helpers.js';
import { fixture, llfc as spawnLlfc, runCliInProcess as llfc, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const mlpA = fixture('models', 'mlp_a.onnx');
const mlpB = fixture('models', 'mlp_b.onnx');
const x = fixture('data', 'fashion_test_x.npy');
const y = fixture('data', 'fashion_test_y.npy');
const out = (name: string): string => join(tmp.dir, name);

describe('list flags refuse an empty item, naming the flag and the position', () => {
  const cases: [string, string[], string][] = [
    ['lmc --alphas', ['lmc', mlpA, mlpB, '--data', x, '--labels', y, '--alphas', '0.5,,0.7'], "--alphas: item 2 of '0.5,,0.7' is empty"],
    ['lmc --mean', ['lmc', mlpA, mlpB, '--data', x, '--labels', y, '--mean', ',0.2', '--std', '0.3'], "--mean: item 1 of ',0.2' is empty"],
    ['lmc --std', ['lmc', mlpA, mlpB, '--data', x, '--labels', y, '--mean', '0.2', '--std', '0.3,'], "--std: item 2 of '0.3,' is empty"],
    ['analyze --alphas', ['analyze', mlpA, mlpB, '--data', x, '--alphas', '0.25,0.5,,'], "--alphas: item 3 of '0.25,0.5,,' is empty"],
    ['analyze --layers', ['analyze', mlpA, mlpB, '--data', x, '--layers', 'relu1,,relu2'], "--layers: item 2 of 'relu1,,relu2' is empty"],
    ['analyze --align', ['analyze', mlpA, mlpB, '--data', x, '--align', 'weight,'], "--align: item 2 of 'weight,' is empty"],
    ['align --input-shape', ['align', mlpA, mlpB, '--method', 'weight', '-o', out('al.onnx'), '--input-shape', '2,,784'], "--input-shape: item 2 of '2,,784' is empty"],
    ['align --mean', ['align', mlpA, mlpB, '--method', 'activation', '--data', x, '--mean', '0.1,,0.2', '--std', '1', '-o', out('al2.onnx')], "--mean: item 2 of '0.1,,0.2' is empty"],
    ['spec --input-shape', ['spec', mlpA, '--input-shape', ',1,28,28'], "--input-shape: item 1 of ',1,28,28' is empty"],
    ['permute --input-shape', ['permute', mlpB, '--random', '-o', out('p.onnx'), '--input-shape', '2,1,28,,'], "--input-shape: item 4 of '2,1,28,,' is empty"],
  ];
  it.each(cases)('%s', async (_flag, args, message) => {
    const r = await llfc(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`llfc: error: ${message}\n`);
  });

  it('analyze --align names an unknown method and a method given twice', async () => {
    const unknown = await llfc('analyze', mlpA, mlpB, '--data', x, '--align', 'weight,orthogonal');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe("llfc: error: --align: item 2 of 'weight,orthogonal' is 'orthogonal', not one of weight, activation\n");
    const twice = await llfc('analyze', mlpA, mlpB, '--data', x, '--align', 'activation,activation');
    expect(twice.status).toBe(2);
    expect(twice.stderr).toBe("llfc: error: --align: 'activation' is given twice in 'activation,activation'\n");
  });

  it('an item that is not a number is named too', async () => {
    const r = await llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--alphas', '0,half,1');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("llfc: error: --alphas: item 2 of '0,half,1' is not a number ('half')\n");
  });
});

describe('the CLI parses and hands over: values are checked by the one validation', () => {
  it.each([
    ['lmc', ['lmc', mlpA, mlpB, '--data', x, '--labels', y]],
    ['analyze', ['analyze', mlpA, mlpB, '--data', x]],
    ['align', ['align', mlpA, mlpB, '--method', 'activation', '--data', x, '-o', out('bs.onnx')]],
  ])('%s --batch-size 0 gives the API’s message', async (_command, args) => {
    const r = await llfc(...args, '--batch-size', '0');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('llfc: error: batchSize must be a positive integer, got 0\n');
  });

  it('--batch-size that is not a number names the flag', async () => {
    const r = await llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--batch-size', 'lots');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("llfc: error: --batch-size: 'lots' is not a number\n");
  });

  it('α outside [0, 1]: lmc --alphas and interpolate --alpha give the API’s messages', async () => {
    const lmc = await llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--alphas', '0.5,2');
    expect(lmc.status).toBe(2);
    expect(lmc.stderr).toBe('llfc: error: alphas[1] must be a number in [0, 1], got 2\n');
    const interpolate = await llfc('interpolate', mlpA, mlpB, '--alpha', '2', '-o', out('mid.onnx'));
    expect(interpolate.status).toBe(2);
    expect(interpolate.stderr).toBe('llfc: error: alpha must be a number in [0, 1], got 2\n');
  });

  it('--steps 1, --max-sweeps 0, --seed 0.5 and --limit 0 give the table’s messages', async () => {
    expect((await llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--steps', '1')).stderr).toBe('llfc: error: steps must be an integer ≥ 2, got 1\n');
    expect((await llfc('align', mlpA, mlpB, '--method', 'weight', '-o', out('ms.onnx'), '--max-sweeps', '0')).stderr).toBe('llfc: error: maxSweeps must be a positive integer, got 0\n');
    expect((await llfc('permute', mlpB, '--random', '--seed', '0.5', '-o', out('s.onnx'))).stderr).toBe('llfc: error: seed must be an integer, got 0.5\n');
    const limit = await llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--limit', '0');
    expect(limit.status).toBe(2);
    expect(limit.stderr).toBe('llfc: error: limit must be a positive integer, got 0\n');
  });

  it('without --batch-size the report records the table’s default (256)', async () => {
    const report = out('default-batch.json');
    const r = await llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--mean', '0.286', '--std', '0.353', '--limit', '100', '--alphas', '0,1', '--out', report, '--quiet');
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(report, 'utf8')).settings).toEqual({ batchSize: 256, feed: 'initializers' });
  });
});

describe('non-finite input data', () => {
  const values = new Float32Array(8 * 784).fill(0.5);
  values[5 * 784 + 300] = Number.NaN;
  const nan = writeNpy(join(tmp.dir, 'nan.npy'), '<f4', [8, 1, 28, 28], values);
  const labels = writeNpy(join(tmp.dir, 'labels8.npy'), '<i8', [8], new BigInt64Array(8));
  const message = `${nan}: sample 5 holds NaN at feature 300 ([0, 10, 20] of its 1×28×28 values): non-finite input makes every loss and distance meaningless; pass allowNonfinite: true (--allow-nonfinite) to measure anyway`;

  it('llfc lmc exits 2 naming the file, the sample and the feature (a spawned process, as a user runs it)', () => {
    const r = spawnLlfc('lmc', mlpA, mlpB, '--data', nan, '--labels', labels);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`llfc: error: ${message}\n`);
  });

  it('llfc analyze and align --method activation exit 2 the same way', async () => {
    for (const args of [
      ['analyze', mlpA, mlpB, '--data', nan],
      ['align', mlpA, mlpB, '--method', 'activation', '--data', nan, '-o', out('nan-aligned.onnx')],
    ]) {
      const r = await llfc(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`llfc: error: ${message}\n`);
    }
  });

  it('--allow-nonfinite measures anyway: the loss is NaN, exit 0', async () => {
    const r = await llfc('lmc', mlpA, mlpB, '--data', nan, '--labels', labels, '--alphas', '0,1', '--allow-nonfinite', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).lmc.loss).toEqual([null, null]);
  });
});
