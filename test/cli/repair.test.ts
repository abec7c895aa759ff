import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { modelLoss } from '../../lib/checks/loss.js';
import { openDataset } from '../../lib/dataset/index.js';
import { fixture, llfc, runCliInProcess, tempDir } from '../helpers.js';

const [mlpA, mlpB] = [fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx')];
const [x, y] = [fixture('data', 'fashion_test_x.npy'), fixture('data', 'fashion_test_y.npy')];
const norm = ['--mean', '0.286', '--std', '0.353'];
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('--repair', () => {
  it('lmc prints and reports the curve before and after REPAIR and the repaired barriers, says which set and how many samples the statistics came from; the HTML page has its section and charts', () => {
    const out = tmp.path('lmc.json');
    const html = tmp.path('lmc.html');
    const r = llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '300', '--steps', '5', '--repair', '--repair-samples', '150', '--repair-data', x, '--out', out, '--html', html);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/REPAIR \(2 hidden layers corrected, ε = 0\.00001; statistics on the separate set .*fashion_test_x\.npy \(150 samples\)\)/);
    expect(r.stdout).toMatch(/repaired barriers: loss \d\.\d{4}/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.repair).toMatchObject({ form: 'fold', statistics: 'repair', source: x, samples: 150, epsilon: 1e-5, layers: ['fc1', 'fc2'] });
    expect(report.repair.lmc.alphas).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(report.repair.lmc.barriers.loss).toBeLessThan(report.lmc.barriers.loss);
    expect(report.settings).toMatchObject({ repair: true, repairSamples: 150 });
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<section id="repair">');
    expect(page).toContain('Loss before and after REPAIR');
    expect(page).toContain('Accuracy before and after REPAIR');
  }, 120_000);

  it('without --repair-data the statistics are the first --repair-samples of the data, and the report says so', async () => {
    const r = await runCliInProcess('lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '100', '--steps', '3', '--repair', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).repair).toMatchObject({ statistics: 'evaluation', samples: 100 });
  }, 60_000);

  it.each([
    ['0', 'repairSamples must be a positive integer, got 0'],
    ['-3', 'repairSamples must be a positive integer, got -3'],
    ['1.5', 'repairSamples must be a positive integer, got 1.5'],
    ['many', "--repair-samples: 'many' is not a number"],
  ])('--repair-samples %s is refused with exit 2 and a message naming the option', async (value, message) => {
    for (const command of ['lmc', 'analyze']) {
      const r = await runCliInProcess(command, mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '50', '--repair', '--repair-samples', value);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const i = await runCliInProcess('interpolate', mlpA, mlpB, '--alpha', '0.5', '-o', tmp.path('never.onnx'), '--data', x, ...norm, '--repair', '--repair-samples', value);
    expect(i.status).toBe(2);
    expect(i.stderr).toContain(message);
  });

  it('--repair-samples without --repair, and --repair with --shard, are refused', async () => {
    const r = await runCliInProcess('lmc', mlpA, mlpB, '--data', x, '--labels', y, '--repair-samples', '10');
    expect([r.status, r.stderr]).toEqual([2, expect.stringContaining('--repair-samples sets up REPAIR; give --repair too')]);
    const s = await runCliInProcess('analyze', mlpA, mlpB, '--data', x, '--labels', y, '--repair', '--shard', '0/2', '--out', tmp.path('part'));
    expect([s.status, s.stderr]).toEqual([2, expect.stringContaining('--shard with --repair')]);
  });

  it('interpolate --repair writes a model whose outputs equal the repaired θ(α) that lmc --repair measures', async () => {
    const out = tmp.path('repaired.onnx');
    const r = llfc('interpolate', fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'), '--alpha', '0.5', '-o', out, '--repair', '--data', x, ...norm, '--limit', '200', '--repair-samples', '100');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote the repaired θ\(0\.5\).*\nREPAIR: 9 hidden layers corrected \(conv1, layer1\.0\.conv1,.*\)\nstatistics on the first 100 samples of/);
    const [a, b, repaired] = await Promise.all([loadCheckpoint(fixture('models', 'resnet_a.onnx')), loadCheckpoint(fixture('models', 'resnet_b.onnx')), loadCheckpoint(out)]);
    const data = await openDataset({ data: x, labels: y, normalize: { mean: [0.286], std: [0.353] }, limit: 200 });
    const lmc = await linearModeConnectivity(a, b, data, { alphas: [0, 0.5, 1], repair: true, repairSamples: 100 });
    const written = await modelLoss(repaired, repaired.arena, data, { batchSize: 256 });
    expect(Math.abs(written.loss - lmc.repair!.lmc.loss[1]!) / written.loss).toBeLessThanOrEqual(1e-9);
    expect(written.accuracy).toBe(lmc.repair!.lmc.accuracy[1]);
    // Not θ(½) itself.
    expect(Math.abs(written.loss - lmc.loss[1]!)).toBeGreaterThan(1e-3);
  }, 180_000);
});
