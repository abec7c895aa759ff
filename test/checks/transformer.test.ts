import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { openDataset } from '../../lib/dataset/index.js';
import { fixture } from '../helpers.js';

interface Point { alpha: number; distance: number; distanceStd?: number; coefficient?: number; skipped: number }
interface Reference {
  alphas: number[];
  samples: number;
  tokens: number;
  layers: { module: string; kind: string; llfc: Point[]; baseline: number; baselineSkipped: number; weakAdditivity?: Point[]; weakAdditivityBaseline?: number }[];
  commutativity: { module: string; distCom: number; distW: number; distH: number }[];
}

const references = JSON.parse(readFileSync(fixture('transformer', 'reference.json'), 'utf8')) as Record<'block' | 'mha', Reference>;
const pair = async (stem = 'block') => [await loadCheckpoint(fixture('transformer', `${stem}_a.onnx`)), await loadCheckpoint(fixture('transformer', `${stem}_b.onnx`))] as const;
const close = (ours: number, expected: number) => expect(Math.abs(ours - expected)).toBeLessThan(1e-4);

describe('transformer blocks (legacy export, exact and tanh GELU; hand-written attention and nn.MultiheadAttention) against PyTorch float64', () => {
  it.each(['block', 'mha'] as const)('%s: default layers are per block the attention output, the residual Adds and the GELU output, then the logits', async (stem) => {
    const reference = references[stem];
    const [a] = await pair(stem);
    const layers = selectLayers(a);
    expect(layers.map((l) => [l.module, l.kind])).toEqual(reference.layers.map((l) => [l.module, l.kind]));
    const gelus = layers.filter((l) => l.kind === 'activation');
    expect(gelus.map((l) => l.op)).toEqual(['Gelu', 'Gelu']);
    expect(gelus.map((l) => l.activationInput)).toEqual(['/blocks.0/mlp/fc1/Add_output_0', '/blocks.1/mlp/fc1/Add_output_0']);
    expect(layers.every((l) => l.tokens)).toBe(true);
  });

  it('--layers by module path picks the decomposed GELU as one layer, and the attention output', async () => {
    const [a] = await pair();
    const picked = selectLayers(a, ['blocks.1.mlp.act', 'blocks.0.attn.out']);
    expect(picked.map((l) => [l.node, l.op, l.kind])).toEqual([
      ['/blocks.0/attn/out/MatMul', 'MatMul', 'other'],
      ['/blocks.0/attn/out/Add', 'Add', 'attention'],
      ['/blocks.1/mlp/act/Mul_5', 'Gelu', 'activation'],
    ]);
    expect(picked[2]!.activationInput).toBe('/blocks.1/mlp/fc1/Add_output_0');
  });

  it.each(['block', 'mha'] as const)('%s: LLFC, weak additivity and commutativity with tokens as samples equal the reference within 1e-4', async (stem) => {
    const reference = references[stem];
    const [a, b] = await pair(stem);
    const data = await openDataset({ data: fixture('transformer', 'x.npy') });
    const result = await analyzePair(a, b, data, { alphas: reference.alphas, batchSize: 10 });
    expect(result.layers.map((l) => [l.module, l.kind])).toEqual(reference.layers.map((l) => [l.module, l.kind]));
    result.layers.forEach((ours, i) => {
      const expected = reference.layers[i]!;
      expected.llfc.forEach((p, k) => {
        expect(ours.llfc[k]!.alpha).toBe(p.alpha);
        close(ours.llfc[k]!.distance, p.distance);
        close(ours.llfc[k]!.distanceStd, p.distanceStd!);
        close(ours.llfc[k]!.coefficient, p.coefficient!);
        expect(ours.llfc[k]!.skipped).toBe(p.skipped);
      });
      close(ours.baseline, expected.baseline);
      if (expected.weakAdditivity) {
        expected.weakAdditivity.forEach((p, k) => close(ours.weakAdditivity![k]!.distance, p.distance));
        close(ours.weakAdditivityBaseline!, expected.weakAdditivityBaseline!);
      } else {
        expect(ours.weakAdditivity).toBeUndefined();
      }
    });
    expect(result.commutativity.map((c) => c.module)).toEqual(reference.commutativity.map((c) => c.module));
    result.commutativity.forEach((ours, i) => {
      const expected = reference.commutativity[i]!;
      close(ours.distCom, expected.distCom);
      close(ours.distW, expected.distW);
      close(ours.distH, expected.distH);
    });
  });
});
