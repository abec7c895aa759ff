import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { fixture, llfc } from '../helpers.js';

const schema = JSON.parse(readFileSync(fixture('..', '..', 'schema', 'report-v1.schema.json'), 'utf8'));
const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);

function llfcJson(...args: string[]): unknown {
  const r = llfc(...args, '--json');
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--mean', '0.286', '--std', '0.353', '--limit', '64'];
const labels = ['--labels', fixture('data', 'fashion_test_y.npy')];

describe('the versioned JSON Schema of the report', () => {
  it.each([
    ['llfc lmc', ['lmc', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, ...labels]],
    ['llfc analyze on a ResNet', ['analyze', fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'), ...data, ...labels]],
    ['llfc analyze without labels', ['analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data]],
    ['llfc analyze --align weight', ['analyze', fixture('models', 'cnn_bn_a.onnx'), fixture('models', 'cnn_bn_b.onnx'), ...data, ...labels, '--align', 'weight']],
    ['llfc analyze --lewc --align weight', ['analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, '--lewc', '--align', 'weight']],
    ['llfc lmc --calibrate', ['lmc', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, ...labels, '--calibrate', '--steps', '3']],
    ['llfc analyze --calibrate --align weight', ['analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, ...labels, '--calibrate', '--align', 'weight', '--no-commutativity']],
    ['llfc lmc --repair (BatchNorm kept)', ['lmc', fixture('models', 'cnn_bn_a.onnx'), fixture('models', 'cnn_bn_b.onnx'), ...data, ...labels, '--repair', '--steps', '3']],
    ['llfc analyze --repair --align weight', ['analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, ...labels, '--repair', '--repair-samples', '32', '--steps', '3', '--align', 'weight', '--no-commutativity']],
    ['llfc layerwise', ['layerwise', fixture('models', 'cnn_bn_a.onnx'), fixture('models', 'cnn_bn_b.onnx'), ...data, ...labels, '--draws', '1']],
    ['llfc layerwise --modules', ['layerwise', fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'), ...data, ...labels, '--modules', 'layer1,layer3', '--draws', '0']],
    ['llfc analyze --align weight,activation on a mixture of experts', ['analyze', fixture('models', 'moe_a.onnx'), fixture('models', 'moe_b.onnx'), ...data, ...labels, '--align', 'weight,activation', '--no-commutativity']],
    ['llfc analyze --align activation --symmetry orthogonal on a ViT', ['analyze', fixture('models', 'vit_hand_a.onnx'), fixture('models', 'vit_hand_b.onnx'), ...data, ...labels, '--align', 'activation', '--symmetry', 'orthogonal', '--no-commutativity', '--steps', '3']],
    ['llfc analyze on a byte LM (token counts)', ['analyze', fixture('models', 'lm_tied_a.onnx'), fixture('models', 'lm_tied_b.onnx'), '--data', fixture('data', 'lm_heldout_ids.npy'), '--labels', 'next-token', '--limit', '8']],
  ])('describes what %s writes', (_what, args) => {
    const report = llfcJson(...args);
    const ok = validate(report);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects a LEWC part without its depth', () => {
    const report = llfcJson('analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, '--lewc', '--no-commutativity') as { layers: { lewc: Record<string, unknown> }[] };
    expect(validate(report)).toBe(true);
    delete report.layers[0]!.lewc.linearDepth;
    expect(validate(report)).toBe(false);
  });

  it('rejects a report with a misspelled field', () => {
    const report = llfcJson('lmc', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), ...data, ...labels) as Record<string, unknown>;
    expect(validate({ ...report, lmcc: report.lmc })).toBe(false);
  });
});
