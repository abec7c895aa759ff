import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alignFiles, analyze, interpolate, lmc } from '../lib/api.js';
import { loadCheckpoint } from '../lib/checkpoint.js';
import { foldedBatchNorm } from '../lib/folded-batchnorm.js';
import { fixture, runCliInProcess as llfc, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const model = (name: string): string => fixture('models', `${name}.onnx`);
const data = { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 64 };
const dataFlags = ['--data', data.data, '--labels', data.labels, '--mean', '0.286', '--std', '0.353', '--limit', '64'];
const cnnFoldedConvs = ['/conv1/Conv', '/conv2/Conv'];


describe('foldedBatchNorm: an eval-mode export with BatchNorm folded into its convolutions', () => {
  it('finds every Conv of the small ResNet and of the folded CNN (exporter-made onnx::Conv_N weights)', async () => {
    const resnet = foldedBatchNorm(await loadCheckpoint(model('resnet_a')))!;
    expect(resnet.convs).toHaveLength(9);
    expect(resnet.convs).toContain('/layer2/layer2.0/downsample/downsample.0/Conv');
    expect(foldedBatchNorm(await loadCheckpoint(model('cnn_folded_b')))).toEqual({ convs: cnnFoldedConvs });
  });

  it('finds none where BatchNorm is kept (TrainingMode.PRESERVE), absent (MLP) or never followed a Conv (SqueezeNet)', async () => {
    for (const name of ['cnn_bn_a', 'mlp_a', 'squeezenet1_1']) expect(foldedBatchNorm(await loadCheckpoint(model(name))), name).toBeUndefined();
  });

  it('names only the folded convolutions of a model that also has unfolded ones (MobileNetV3: squeeze-excitation convs have no BatchNorm)', async () => {
    const checkpoint = await loadCheckpoint(model('mobilenet_v3_small'));
    const folded = foldedBatchNorm(checkpoint)!;
    const convs = checkpoint.model.graph!.node!.filter((n) => n.opType === 'Conv');
    expect(folded.convs.length).toBeGreaterThan(0);
    expect(folded.convs.length).toBeLessThan(convs.length);
    expect(folded.convs.some((c) => c.includes('/fc'))).toBe(false);
  });
});

describe('results say when they measured folded checkpoints', () => {
  it('lmc(), analyze(), interpolate() and alignFiles() carry foldedBatchNorm for the folded CNN, and not for the BatchNorm one', async () => {
    const folded = { a: model('cnn_folded_a'), b: model('cnn_folded_b') };
    const kept = { a: model('cnn_bn_a'), b: model('cnn_bn_b') };
    expect((await lmc({ ...folded, data }, { alphas: [0, 1] })).foldedBatchNorm).toEqual({ convs: cnnFoldedConvs });
    expect(await lmc({ ...kept, data }, { alphas: [0, 1] })).not.toHaveProperty('foldedBatchNorm');
    expect((await analyze({ ...folded, data }, { alphas: [0.5], lmcAlphas: [0, 1] })).foldedBatchNorm).toEqual({ convs: cnnFoldedConvs });
    expect((await interpolate(folded.a, folded.b, 0.5, join(tmp.dir, 'mid.onnx'))).foldedBatchNorm).toEqual({ convs: cnnFoldedConvs });
    expect(await interpolate(kept.a, kept.b, 0.5, join(tmp.dir, 'mid-kept.onnx'))).not.toHaveProperty('foldedBatchNorm');
    expect((await alignFiles({ ...folded, outputs: { onnx: join(tmp.dir, 'aligned.onnx') } }, { method: 'weight' })).foldedBatchNorm).toEqual({ convs: cnnFoldedConvs });
  });
});

describe('the CLI warns on folded checkpoints and the report records them', () => {
  const warning = `warning: ${model('cnn_folded_a')} has BatchNorm folded into 2 convolutions (an eval-mode export), so θ(α) interpolates the folded weights, not the PyTorch state_dicts; export with training=torch.onnx.TrainingMode.PRESERVE to keep BatchNorm`;

  it('lmc: a warning line, and foldedBatchNorm in the JSON report', async () => {
    const out = join(tmp.dir, 'folded.json');
    const r = await llfc('lmc', model('cnn_folded_a'), model('cnn_folded_b'), ...dataFlags, '--alphas', '0,1', '--out', out);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toContain(warning);
    expect(JSON.parse(readFileSync(out, 'utf8')).foldedBatchNorm).toEqual({ convs: cnnFoldedConvs });
  });

  it('lmc on the BatchNorm CNN: no warning, no field', async () => {
    const out = join(tmp.dir, 'kept.json');
    const r = await llfc('lmc', model('cnn_bn_a'), model('cnn_bn_b'), ...dataFlags, '--alphas', '0,1', '--out', out);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/warning/);
    expect(JSON.parse(readFileSync(out, 'utf8'))).not.toHaveProperty('foldedBatchNorm');
  });

  it.each([
    ['analyze', ['analyze', model('cnn_folded_a'), model('cnn_folded_b'), ...dataFlags, '--alphas', '0.5', '--steps', '3']],
    ['interpolate', ['interpolate', model('cnn_folded_a'), model('cnn_folded_b'), '--alpha', '0.5', '-o', join(tmp.dir, 'mid-cli.onnx')]],
    ['align', ['align', model('cnn_folded_a'), model('cnn_folded_b'), '--method', 'weight', '-o', join(tmp.dir, 'aligned-cli.onnx')]],
  ])('%s prints the warning line', async (_command, args) => {
    const r = await llfc(...args);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toContain(warning);
  });

  it('--json carries the field instead (stdout stays one JSON document)', async () => {
    const r = await llfc('analyze', model('cnn_folded_a'), model('cnn_folded_b'), ...dataFlags, '--alphas', '0.5', '--steps', '3', '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).foldedBatchNorm).toEqual({ convs: cnnFoldedConvs });
  });
});
