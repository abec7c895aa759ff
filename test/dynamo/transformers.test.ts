/**
 * Dynamo-style exports of the transformer fixtures (scripts/fixtures/dynamo_style.py: opset 18,
 * external data, state_dict names, val_N folded transposes of the MatMul weights, lifted
 * constants, merged small initializers, module paths in node metadata, a tied head as Transpose →
 * MatMul of the embedding table) compute what their legacy sources compute, and llfc measures them
 * as it measures the legacy exports and as PyTorch does (reference/transformer_*.json).
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset, type OpenDatasetOptions } from '../../lib/dataset/index.js';
import { CheckpointMismatchError } from '../../lib/errors.js';
import { readModel, writeModel } from '../../lib/onnx/model.js';
import { metadataValue } from '../../lib/onnx/proto.js';
import { expectLmcReference, type LmcCurveReference } from '../checks/lmc-reference.js';
import { expectMechanismsThroughLegacy, type MechanismsReference } from '../checks/mechanisms-reference.js';
import { fixture, tempDir } from '../helpers.js';
import { modelOutputs, TRANSFORMERS, transformerInput } from './transformer-inputs.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

type Curve = LmcCurveReference & { a: string; b: string; data: string; labels: string; normalize?: { mean: number[]; std: number[] } };
const rms = JSON.parse(readFileSync(fixture('reference', 'transformer_rms.json'), 'utf8')) as { lmc: Curve; mechanisms: MechanismsReference };
const curves: Record<string, Curve> = { ...(JSON.parse(readFileSync(fixture('reference', 'transformer_lmc.json'), 'utf8')) as Record<string, Curve>), vit_rms: rms.lmc };
const mechanisms: Record<string, MechanismsReference> = { ...(JSON.parse(readFileSync(fixture('reference', 'transformer_mechanisms.json'), 'utf8')) as Record<string, MechanismsReference>), vit_rms: rms.mechanisms };
const legacy = (name: string) => fixture('models', `${name}.onnx`);
const dynamo = (name: string) => fixture('models', 'dynamo', `${name}.onnx`);
const classifierData = (limit?: number): OpenDatasetOptions => ({ data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit });
const tokenData = (limit?: number): OpenDatasetOptions => ({ data: fixture('data', 'lm_heldout_ids.npy'), limit });
const dataOf = (pair: string, limit?: number) => (pair.startsWith('lm_') ? tokenData(limit) : classifierData(limit));

function closeTo(actual: number, expected: number, tolerance: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
}

describe('dynamo-style transformer fixtures', () => {
  it.each(TRANSFORMERS.flatMap((p) => [`${p}_a`, `${p}_b`]))('%s computes the same logits as its legacy source (onnxruntime, 1e-5)', async (name) => {
    const input = transformerInput(name);
    const [expected, actual] = await Promise.all([modelOutputs(legacy(name), input), modelOutputs(dynamo(name), input)]);
    expect(actual.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
    expect(worst).toBeLessThan(1e-5);
  });

  it('are written as the dynamo exporter writes them: opset 18, external data, val_N transposes with folded_from, lifted constants, module paths and fx node names in node metadata', async () => {
    const { proto, externalData } = await readModel(dynamo('vit_hand_a'));
    expect(externalData).toBe(true);
    expect(proto.opsetImport.find((o) => o.domain === '')?.version).toBe(18n);
    const graph = proto.graph!;
    expect(graph.node.some((n) => n.opType === 'Constant')).toBe(false);
    const q = graph.node.find((n) => n.opType === 'MatMul' && metadataValue(n.metadataProps, 'pkg.torch.onnx.name_scopes')?.includes("'blocks.0.attn.q'"))!;
    expect(metadataValue(q.metadataProps, 'pkg.torch.onnx.name_scopes')).toMatch(/^\['', 'blocks', 'blocks\.0', 'blocks\.0\.attn', 'blocks\.0\.attn\.q', 'linear(_\d+)?'\]$/);
    const weight = graph.initializer.find((t) => t.name === q.input[1])!;
    expect(weight.name).toMatch(/^val_\d+$/);
    expect(weight.dims).toEqual([32n, 32n]);
    expect(metadataValue(weight.metadataProps, 'pkg.onnxscript.optimizer.folded_from')).toBe("{'blocks.0.attn.q.weight'}");
    // Equal lifted constants are one initializer: both GELUs divide by the same √2.
    const gelus = graph.node.filter((n) => n.opType === 'Erf').map((erf) => graph.node.find((n) => n.output[0] === erf.input[0])!);
    expect(gelus.map((n) => n.opType)).toEqual(['Div', 'Div']);
    expect(gelus[0]!.input[1]).toBe(gelus[1]!.input[1]);
    // ReduceMean's axes are an input at opset 18.
    expect(graph.node.find((n) => n.opType === 'ReduceMean')!.input).toHaveLength(2);
  });

  it('lm_tied: the tied head is Transpose → MatMul of the embedding table the Gather reads', async () => {
    const graph = (await readModel(dynamo('lm_tied_a'))).proto.graph!;
    const head = graph.node.find((n) => n.output[0] === 'logits')!;
    const transpose = graph.node.find((n) => n.output[0] === head.input[1])!;
    expect([head.opType, transpose.opType, transpose.input[0]]).toEqual(['MatMul', 'Transpose', 'tok.weight']);
    expect(graph.node.some((n) => n.opType === 'Gather' && n.input[0] === 'tok.weight')).toBe(true);
  });
});

describe('llfc on dynamo-style transformer checkpoints', () => {
  it.each(TRANSFORMERS)('%s: the LMC curve equals the PyTorch reference and the legacy export’s curve', async (pair) => {
    const ref = curves[pair]!;
    const options: OpenDatasetOptions = { ...dataOf(pair), labels: fixture(ref.labels) };
    const run = async (file: (n: string) => string) => {
      const [a, b, data] = await Promise.all([loadCheckpoint(file(`${pair}_a`)), loadCheckpoint(file(`${pair}_b`)), openDataset(options)]);
      return linearModeConnectivity(a, b, data, { alphas: ref.alphas, batchSize: 500 });
    };
    const [d, l] = [await run(dynamo), await run(legacy)];
    expectLmcReference(d, ref);
    expect(d.accuracy).toEqual(l.accuracy);
    d.loss.forEach((loss, i) => closeTo(loss, l.loss[i]!, 1e-6));
  });

  it.each(TRANSFORMERS)('%s: LLFC, weak additivity and commutativity per layer equal the legacy export’s (1e-6), layer for layer, module paths from the dynamo metadata', async (pair) => {
    const options = { alphas: [0.25, 0.5, 0.75], batchSize: 125 };
    const run = async (file: (n: string) => string) => {
      const [a, b, data] = await Promise.all([loadCheckpoint(file(`${pair}_a`)), loadCheckpoint(file(`${pair}_b`)), openDataset(dataOf(pair, pair.startsWith('lm_') ? 64 : 250))]);
      return analyzePair(a, b, data, options);
    };
    const [d, l] = [await run(dynamo), await run(legacy)];
    expect(d.layers.map((x) => [x.module, x.kind, x.op])).toEqual(l.layers.map((x) => [x.module, x.kind, x.op]));
    expect(d.layers.some((x) => x.kind === 'attention') || pair === 'moe').toBe(true);
    d.layers.forEach((layer, i) => {
      const other = l.layers[i]!;
      closeTo(layer.baseline, other.baseline, 1e-6);
      layer.llfc.forEach((p, k) => [p.distance, p.distanceStd, p.coefficient].forEach((v, j) => closeTo(v, [other.llfc[k]!.distance, other.llfc[k]!.distanceStd, other.llfc[k]!.coefficient][j]!, 1e-6)));
      expect((layer.weakAdditivity ?? []).length).toBe((other.weakAdditivity ?? []).length);
      (layer.weakAdditivity ?? []).forEach((p, k) => closeTo(p.distance, other.weakAdditivity![k]!.distance, 1e-6));
    });
    expect(d.commutativity.map((c) => c.module)).toEqual(l.commutativity.map((c) => c.module));
    d.commutativity.forEach((c, i) => [c.distCom, c.distW, c.distH].forEach((v, j) => closeTo(v, [l.commutativity[i]!.distCom, l.commutativity[i]!.distW, l.commutativity[i]!.distH][j]!, 1e-6)));
  });

  it.each(['vit_hand', 'vit_mha', 'moe', 'vit_rms'])('%s: per-layer checks equal the PyTorch forward-hook reference (1e-4), tokens as samples', async (pair) => {
    const ref = mechanisms[pair]!;
    const [a, b, data] = await Promise.all([loadCheckpoint(dynamo(`${pair}_a`)), loadCheckpoint(dynamo(`${pair}_b`)), openDataset(classifierData(ref.samples))]);
    await expectMechanismsThroughLegacy(await analyzePair(a, b, data, { alphas: ref.alphas, batchSize: 125 }), ref, legacy(`${pair}_a`));
  });

  it('--layers selects by module path from the dynamo metadata (node names carry none)', async () => {
    const a = await loadCheckpoint(dynamo('vit_hand_a'));
    const picked = selectLayers(a, ['blocks.1.mlp.act', 'blocks.0.attn.out', 'blocks.0.add2']);
    expect(picked.map((l) => [l.module, l.op, l.kind])).toEqual([
      ['blocks.0.attn.out', 'MatMul', 'other'],
      ['blocks.0.attn.out', 'Add', 'attention'],
      ['blocks.0.add2', 'Add', 'add'],
      ['blocks.1.mlp.act', 'Gelu', 'activation'],
    ]);
    expect(picked.every((l) => /^node_/.test(l.node))).toBe(true);
    const legacyPicked = selectLayers(await loadCheckpoint(legacy('vit_hand_a')), ['blocks.1.mlp.act', 'blocks.0.attn.out', 'blocks.0.add2']);
    expect(legacyPicked.map((l) => [l.module, l.op, l.kind])).toEqual(picked.map((l) => [l.module, l.op, l.kind]));
  });

  it('lm_untied: a boolean initializer (the causal mask) that differs between A and B is a CheckpointMismatchError naming the tensor', async () => {
    const dir = join(tmp.dir, 'mask');
    mkdirSync(dir);
    const model = (await readModel(dynamo('lm_untied_b'))).proto;
    const mask = model.graph!.initializer.find((t) => t.dataType === 9)!;
    const b = join(dir, 'b.onnx');
    // Let every position see every other: no longer causal.
    mask.rawData = new Uint8Array(mask.rawData.length > 0 ? mask.rawData.length : 32 * 32).fill(1);
    mask.externalData = [];
    mask.dataLocation = 0;
    await writeModel(model, b);
    copyFileSync(dynamo('lm_untied_a'), join(dir, 'a.onnx'));
    copyFileSync(`${dynamo('lm_untied_a')}.data`, join(dir, 'lm_untied_a.onnx.data'));
    const [ca, cb] = await Promise.all([loadCheckpoint(join(dir, 'a.onnx')), loadCheckpoint(b)]);
    const error = (await linearModeConnectivity(ca, cb, await openDataset({ ...tokenData(4), labels: fixture('data', 'lm_heldout_labels.npy') })).catch((e: unknown) => e)) as CheckpointMismatchError;
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect(error.tensor).toBe(mask.name);
    expect(error.message).toMatch(new RegExp(`the BOOL initializer '${mask.name}' of shape \\[32, 32\\] differs from '${mask.name}'.*never interpolated and must be equal in A and B`));
  });

  it('lm_untied: the lifted −inf fill value of the causal mask is a constant, not a parameter (interpolating it would give NaN)', async () => {
    const a = await loadCheckpoint(dynamo('lm_untied_a'));
    const wheres = a.structure.filter((s) => s.op === '::Where');
    expect(wheres).toHaveLength(2);
    for (const w of wheres) expect(w.inputs[1]).toMatchObject({ kind: 'constant', type: 'FLOAT', shape: [] });
  });
});
