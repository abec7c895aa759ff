import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../lib/align/safetensors.js';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { modelLoss } from '../../lib/checks/loss.js';
import { openDataset } from '../../lib/dataset/index.js';
import { optionDefault } from '../../lib/options.js';
import type { StudyReport } from '../../lib/report/study.js';
import { fixture, llfc, runCliInProcess, tempDir } from '../helpers.js';

const schemaFile = (name: string): unknown => JSON.parse(readFileSync(fixture('..', '..', 'schema', name), 'utf8'));
const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
ajv.addSchema(schemaFile('report-v1.schema.json') as object);
const validate = ajv.compile(schemaFile('study-report-v1.schema.json') as object);

const seeds = [0, 1, 2, 3].map((k) => fixture('models', `merge_mlp_${k}.onnx`));
const children = ['k0_c0', 'k0_c1', 'k50_c0', 'k50_c1', 'k300_c0', 'k300_c1'].map((k) => fixture('models', `spawn_${k}.onnx`));
const normalize = ['--mean', '0.286', '--std', '0.353'];
// The batch the CLI evaluates in: onnxruntime's float results may depend on the batch's size on
// some CPUs, so the written model is evaluated as the CLI evaluated it, and must equal it exactly.
const CLI_BATCH = optionDefault('batchSize');
const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), ...normalize];
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function expectValid(report: unknown): void {
  const ok = validate(report);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

describe('llfc merge', () => {
  it('MergeMany of four seeds writes the merged ONNX and safetensors together, and a schema-valid report whose merged accuracy is the written model’s', async () => {
    const out = tmp.path('merged.onnx');
    const r = llfc('merge', ...seeds, '-o', out, '--method', 'mergemany', ...data, '--out', tmp.path('merge.json'), '--html', tmp.path('merge.html'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/merge of 4 models: mergemany, weight matching \(\d+ rounds, converged\)/);
    const report = JSON.parse(readFileSync(tmp.path('merge.json'), 'utf8')) as StudyReport;
    expectValid(report);
    expect(report.kind).toBe('merge');
    expect(report.merge!.permutations).toHaveLength(4);
    expect(report.merge!.evaluation!.models).toHaveLength(4);
    const merged = await loadCheckpoint(out);
    const dataset = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] } });
    const evaluated = await modelLoss(merged, merged.arena, dataset, { batchSize: CLI_BATCH });
    expect(evaluated).toEqual(report.merge!.evaluation!.merged);
    const state = decodeSafetensors(readFileSync(tmp.path('merged.safetensors')), 'merged.safetensors');
    const fc1 = state.tensors.find((t) => t.name === 'fc1.weight')!;
    expect(fc1.shape).toEqual([128, 784]);
    const p = merged.parameters.find((q) => q.tensor === 'fc1.weight')!;
    expect(fc1.data).toEqual(merged.arena.subarray(p.offset, p.offset + p.length));
    const html = readFileSync(tmp.path('merge.html'), 'utf8');
    expect(html).toContain('id="chart-merge-accuracy"');
    expect(html).toContain('MergeMany');
  });

  it('refuses a tree of three without --pad, a single model and a model of another architecture (exit 2, naming the file and tensor), writing nothing', async () => {
    const out = tmp.path('bad.onnx');
    const tree = await runCliInProcess('merge', ...seeds.slice(0, 3), '-o', out, '--method', 'tree');
    expect(tree.status).toBe(2);
    expect(tree.stderr).toMatch(/power of two.*got 3.*--pad/);
    const one = await runCliInProcess('merge', seeds[0]!, '-o', out, '--method', 'mean');
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/at least 2 models, got 1/);
    const other = await runCliInProcess('merge', ...seeds.slice(0, 2), fixture('models', 'mlp_a.onnx'), '-o', out, '--method', 'mergemany');
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/mlp_a\.onnx/);
    expect(other.stderr).toMatch(/fc1\.weight/);
    const activation = await runCliInProcess('merge', ...seeds.slice(0, 2), '-o', out, '--method', 'tree', '--match', 'activation');
    expect(activation.status).toBe(2);
    expect(activation.stderr).toMatch(/needs data/);
    expect(existsSync(out)).toBe(false);
  });

  it('a padded tree of three reports each model’s weight, without data (no evaluation), schema-valid', () => {
    const r = llfc('merge', ...seeds.slice(0, 3), '-o', tmp.path('tree3.onnx'), '--method', 'tree', '--pad', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as StudyReport;
    expectValid(report);
    expect(report.data).toBeNull();
    expect(report.merge!.weights).toEqual([0.25, 0.25, 0.5]);
    expect(report.merge!.evaluation).toBeNull();
    expect(existsSync(tmp.path('tree3.safetensors'))).toBe(true);
  });
});

describe('llfc merge --repair', () => {
  it('writes the repaired merge: the report has the merge’s loss and accuracy before and after REPAIR (after = the written model’s, better), the layers and the statistics set, schema-valid, with the repaired row in the text and the HTML', async () => {
    const out = tmp.path('repaired.onnx');
    const r = llfc('merge', ...seeds, '-o', out, '--method', 'tree', ...data, '--repair', '--repair-samples', '500', '--out', tmp.path('repaired.json'), '--html', tmp.path('repaired.html'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(tmp.path('repaired.json'), 'utf8')) as StudyReport;
    expectValid(report);
    const repair = report.merge!.repair!;
    expect(repair).toMatchObject({ form: 'fold', statistics: 'evaluation', samples: 500, layers: ['fc1', 'fc2'] });
    expect(repair.merged!.loss).toBeLessThan(report.merge!.evaluation!.merged.loss);
    const written = await loadCheckpoint(out);
    const dataset = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] } });
    expect(await modelLoss(written, written.arena, dataset, { batchSize: CLI_BATCH })).toEqual(repair.merged);
    expect(r.stdout).toMatch(/merged, repaired/);
    expect(r.stdout).toMatch(/REPAIR of the merge: 2 hidden layers corrected.*the first 500 samples of/);
    const html = readFileSync(tmp.path('repaired.html'), 'utf8');
    expect(html).toContain('merged, repaired');
    expect(html).toContain('REPAIR of the merge');
  });

  it('--repair-data takes the statistics from a separate set, and the report says so', () => {
    const r = llfc('merge', ...seeds.slice(0, 2), '-o', tmp.path('separate.onnx'), '--method', 'mean', ...data, '--limit', '300', '--repair', '--repair-data', fixture('data', 'fashion_test_x.npy'), '--repair-samples', '200', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as StudyReport;
    expectValid(report);
    expect(report.merge!.repair).toMatchObject({ statistics: 'repair', samples: 200, source: fixture('data', 'fashion_test_x.npy') });
  });

  it('refuses --repair without data, and --repair-samples or --repair-data without --repair (exit 2), writing nothing', async () => {
    const out = tmp.path('no-data.onnx');
    const none = await runCliInProcess('merge', ...seeds.slice(0, 2), '-o', out, '--method', 'mean', '--repair');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--repair measures the merged model’s statistics on data: give --data/);
    const samples = await runCliInProcess('merge', ...seeds.slice(0, 2), '-o', out, '--method', 'mean', ...data, '--repair-samples', '10');
    expect(samples.status).toBe(2);
    expect(samples.stderr).toMatch(/--repair-samples sets up REPAIR; give --repair too/);
    const set = await runCliInProcess('merge', ...seeds.slice(0, 2), '-o', out, '--method', 'mean', ...data, '--repair-data', fixture('data', 'fashion_test_x.npy'));
    expect(set.status).toBe(2);
    expect(set.stderr).toMatch(/--repair-data sets up REPAIR; give --repair too/);
    const bad = await runCliInProcess('merge', ...seeds.slice(0, 2), '-o', out, '--method', 'mean', ...data, '--repair', '--repair-samples', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/repairSamples must be a positive integer/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('llfc series', () => {
  it('writes the barrier matrix and the instability curve (steps from a manifest), schema-valid, with the heatmap and the curve in the HTML', () => {
    const manifest = tmp.path('manifest.json');
    writeFileSync(manifest, JSON.stringify({ children: children.map((file, i) => ({ file, step: [0, 0, 50, 50, 300, 300][i] })) }));
    const r = llfc('series', ...children, ...data, '--limit', '500', '--manifest', manifest, '--json', '--html', tmp.path('series.html'));
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as StudyReport;
    expectValid(report);
    const s = report.series!;
    expect(s.stepSource).toBe('manifest');
    expect(s.instability.map((p) => p.step)).toEqual([0, 50, 300]);
    expect(s.matrix.loss).toHaveLength(6);
    expect(s.matrix.loss[1]![0]).toBe(s.matrix.loss[0]![1]);
    const html = readFileSync(tmp.path('series.html'), 'utf8');
    expect(html).toContain('id="chart-series-loss-barrier"');
    expect(html).toContain('id="chart-instability-loss"');
  });

  it('refuses α without both ends (exit 2)', async () => {
    const r = await runCliInProcess('series', ...children.slice(0, 2), ...data, '--alphas', '0,0.5');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/α = 0 and α = 1/);
  });
});
