import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, llfc, runCliInProcess, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const model = (name: string): string => fixture('models', `${name}.onnx`);
const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--mean', '0.286', '--std', '0.353', '--labels', fixture('data', 'fashion_test_y.npy')];

describe('llfc layerwise', () => {
  it('prints the per-layer and cumulative barriers and writes the JSON report, the HTML page with its charts, and the plots', () => {
    const out = tmp.path('layerwise.json');
    const html = tmp.path('layerwise.html');
    const r = llfc('layerwise', model('cnn_bn_a'), model('cnn_bn_b'), ...data, '--limit', '100', '--draws', '1', '--seed', '7', '--feed', 'inputs', '--out', out, '--html', html, '--plots', tmp.path('plots'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/bn1 +-?\d\.\d{4}/);
    expect(r.stdout).toMatch(/cumulative, random #1/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.layerwise.groups.map((g: { name: string }) => g.name)).toEqual(['conv1', 'bn1', 'conv2', 'bn2', 'fc']);
    expect(report.layerwise.cumulative.map((c: { order: string }) => c.order)).toEqual(['shallow-to-deep', 'deep-to-shallow', 'random']);
    expect(report.settings).toMatchObject({ groupBy: 'layer', draws: 1, seed: 7, feed: 'inputs' });
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('id="layerwise"');
    for (const id of ['layerwise-loss', 'layerwise-error', 'layerwise-cumulative-loss', 'layerwise-cumulative-error']) expect(page).toContain(`data-chart="${id}"`);
    expect(page).not.toContain('id="lmc"');
    expect(readFileSync(tmp.path('plots/layerwise-cumulative-loss.svg'), 'utf8')).toContain('<svg');
  });

  it('groups by top-level module with --group-by module', async () => {
    const r = await runCliInProcess('layerwise', model('resnet_a'), model('resnet_b'), ...data, '--limit', '32', '--group-by', 'module', '--draws', '0', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).layerwise.groups.map((g: { name: string }) => g.name)).toEqual(['conv1', 'layer1', 'layer2', 'layer3', 'fc']);
  });

  it('exits 2 naming the unknown module prefix, a bad --group-by, missing labels, or bad --draws', async () => {
    const prefix = await runCliInProcess('layerwise', model('resnet_a'), model('resnet_b'), ...data, '--limit', '8', '--modules', 'layer1,block9');
    expect(prefix.status).toBe(2);
    expect(prefix.stderr).toMatch(/no layer is under the module prefix 'block9'/);
    const groupBy = await runCliInProcess('layerwise', model('mlp_a'), model('mlp_b'), ...data, '--group-by', 'tensor');
    expect(groupBy.status).toBe(2);
    expect(groupBy.stderr).toMatch(/--group-by/);
    const noLabels = await runCliInProcess('layerwise', model('mlp_a'), model('mlp_b'), '--data', fixture('data', 'fashion_test_x.npy'), '--limit', '8');
    expect(noLabels.status).toBe(2);
    expect(noLabels.stderr).toMatch(/needs labels/);
    const draws = await runCliInProcess('layerwise', model('mlp_a'), model('mlp_b'), ...data, '--draws', '1.5');
    expect(draws.status).toBe(2);
    expect(draws.stderr).toMatch(/draws must be an integer ≥ 0/);
  });

  it('refuses a pair of different architectures', async () => {
    const r = await runCliInProcess('layerwise', model('mlp_a'), model('cnn_bn_b'), ...data, '--limit', '8');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/differ/);
  });
});
