import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, llfc, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--mean', '0.286', '--std', '0.353', '--limit', '200'];

describe('llfc analyze', () => {
  it('writes the JSON report with layers and commutativity, and the HTML report', () => {
    const out = join(tmp.dir, 'analysis.json');
    const html = join(tmp.dir, 'analysis.html');
    const r = llfc('analyze', fixture('models', 'cnn_bn_a.onnx'), fixture('models', 'cnn_bn_b.onnx'), ...data, '--labels', fixture('data', 'fashion_test_y.npy'), '--alphas', '0.5', '--steps', '5', '--out', out, '--html', html);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.lmc.alphas).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(report.layers.map((l: { module: string }) => l.module)).toEqual(['relu1', 'relu2', 'fc']);
    expect(report.layers[0].llfc.map((p: { alpha: number }) => p.alpha)).toEqual([0.5]);
    expect(report.commutativity.map((c: { weight: string }) => c.weight)).toEqual(['conv1.weight', 'conv2.weight', 'fc.weight']);
    expect(existsSync(html)).toBe(true);
  });

  it('--align weight analyzes the naive and the aligned pair; alignment lowers the MLP barrier and the LLFC distances', () => {
    const out = join(tmp.dir, 'aligned.json');
    const r = llfc('analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, '--labels', fixture('data', 'fashion_test_y.npy'), '--align', 'weight', '--out', out);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.aligned.method).toBe('weight');
    expect(report.aligned.spec.groups.map((g: { size: number }) => g.size)).toEqual([256, 256]);
    expect(report.aligned.lmc.barriers.loss).toBeLessThan(report.lmc.barriers.loss / 10);
    report.layers.forEach((layer: { llfc: { distance: number }[] }, i: number) =>
      expect(report.aligned.layers[i].llfc[1].distance).toBeLessThan(layer.llfc[1]!.distance),
    );
    expect(report.aligned.objective.length).toBeGreaterThan(0);
  });

  it('--align activation needs no extra data and lowers the barrier too', () => {
    const r = llfc('analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, '--labels', fixture('data', 'fashion_test_y.npy'), '--align', 'activation', '--json', '--no-commutativity');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.aligned.method).toBe('activation');
    expect(report.aligned.lmc.barriers.loss).toBeLessThan(report.lmc.barriers.loss / 5);
  });

  it('runs without labels and says LMC was skipped', () => {
    const r = llfc('analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, '--layers', 'relu2');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/no labels given, skipped/);
    expect(r.stdout).toMatch(/relu2/);
  });

  it.each([
    [['--layers', 'nonsense'], /no layer matches 'nonsense'/],
    [['--alphas', '0.5,7'], /alphas\[1\] must be a number in \[0, 1\], got 7/],
  ])('exits 2 naming the problem for %s', (args, message) => {
    const r = llfc('analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('stops cleanly on Ctrl-C (SIGINT) sent while the analysis runs: exit 130 and no partial output file', async () => {
    const out = join(tmp.dir, 'interrupted.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fixture('..', 'run-cli.ts'), 'analyze', fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'), '--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--batch-size', '50', '--out', out],
      { env: { ...process.env, LLFC_PROGRESS: 'lines' } },
    );
    let stderr = '';
    let progress: RegExpMatchArray | null = null;
    // The first progress line means the work has started, so its Ctrl-C handler is installed.
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (progress) return;
      progress = stderr.match(/^llfc: analyze (\d+)\/(\d+)$/m);
      if (progress) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(progress, stderr).not.toBeNull();
    expect(Number(progress![1])).toBeLessThan(Number(progress![2]));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted.*nothing written/);
    expect(existsSync(out)).toBe(false);
  });
});
