import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { lewcMix, linearDepths } from '../../lib/checks/lewc.js';
import { openDataset } from '../../lib/dataset/index.js';
import { reportCharts } from '../../lib/report/charts.js';
import { renderHtmlReport } from '../../lib/report/html.js';
import { buildReport } from '../../lib/report/json.js';
import { fixture } from '../helpers.js';

interface ReferencePoint { alpha: number; distance: number; distanceStd: number; coefficient: number; skipped: number }
interface ReferenceLayer { onnxTensor: string; linearDepth: number; predictedCoefficient: number; points: ReferencePoint[]; llfcCoefficientAtHalf: number }
interface ReferencePair { samples: number; alphas: number[]; layers: Record<string, ReferenceLayer> }
const references = JSON.parse(readFileSync(fixture('reference', 'lewc.json'), 'utf8')) as Record<string, ReferencePair>;

const fashion = (limit: number, labels = false) =>
  openDataset({ data: fixture('data', 'fashion_test_x.npy'), ...(labels ? { labels: fixture('data', 'fashion_test_y.npy') } : {}), normalize: { mean: [0.286], std: [0.353] }, limit });
const pair = async (name: string) => [await loadCheckpoint(fixture('models', `${name}_a.onnx`)), await loadCheckpoint(fixture('models', `${name}_b.onnx`))] as const;

describe('LEWC against PyTorch forward hooks (float64, target (1−α)^ℓ·f_A + α^ℓ·f_B)', () => {
  it.each(['mlp', 'cnn_bn'])('%s: depth, distance, std and coefficient per layer and α within 1e-4, and LLFC’s coefficient at ½ beside the prediction', async (name) => {
    const ref = references[name]!;
    const [a, b] = await pair(name);
    const result = await analyzePair(a, b, await fashion(ref.samples), { alphas: ref.alphas, batchSize: 128, lewc: true, weakAdditivity: false, commutativity: false });
    const withLewc = result.layers.filter((l) => l.lewc);
    expect(withLewc.map((l) => l.name)).toEqual(Object.values(ref.layers).map((l) => l.onnxTensor));
    for (const expected of Object.values(ref.layers)) {
      const ours = result.layers.find((l) => l.name === expected.onnxTensor)!;
      expect(ours.lewc!.linearDepth).toBe(expected.linearDepth);
      expect(ours.lewc!.predictedCoefficient).toBe(expected.predictedCoefficient);
      expected.points.forEach((p, k) => {
        const q = ours.lewc!.points[k]!;
        expect(q.alpha).toBe(p.alpha);
        expect(Math.abs(q.distance - p.distance)).toBeLessThan(1e-4);
        expect(Math.abs(q.distanceStd - p.distanceStd)).toBeLessThan(1e-4);
        expect(Math.abs(q.coefficient - p.coefficient)).toBeLessThan(1e-4);
        expect(q.skipped).toBe(p.skipped);
      });
      expect(Math.abs(ours.llfc.find((p) => p.alpha === 0.5)!.coefficient - expected.llfcCoefficientAtHalf)).toBeLessThan(1e-4);
    }
  });
});

describe('LEWC properties', () => {
  it('at α = ½ equals the LLFC distance, with the coefficient scaled by 2^(ℓ−1); elsewhere the targets differ', async () => {
    const [a, b] = await pair('mlp');
    const result = await analyzePair(a, b, await fashion(128), { alphas: [0.25, 0.5], batchSize: 64, lewc: true, commutativity: false });
    for (const layer of result.layers) {
      const l = layer.lewc!;
      const half = l.points.find((p) => p.alpha === 0.5)!;
      const llfc = layer.llfc.find((p) => p.alpha === 0.5)!;
      expect(half.distance).toBe(llfc.distance);
      expect(half.coefficient).toBeCloseTo(llfc.coefficient * 2 ** (l.linearDepth - 1), 10);
      if (l.linearDepth > 1) expect(l.points[0]!.distance).not.toBe(layer.llfc[0]!.distance);
    }
  });

  it('maps α to the LLFC mix weight β = α^ℓ / ((1−α)^ℓ + α^ℓ) and the scale (1−α)^ℓ + α^ℓ', () => {
    expect(lewcMix(0.25, 1)).toEqual({ beta: 0.25, scale: 1 });
    expect(lewcMix(0.25, 2).beta).toBeCloseTo(0.0625 / (0.5625 + 0.0625), 15);
    expect(lewcMix(0.25, 2).scale).toBeCloseTo(0.625, 15);
    expect(lewcMix(0.5, 5)).toEqual({ beta: 0.5, scale: 2 ** -4 });
  });

  it('counts depth in linear layers on the longest path from the input (a residual Add takes its deeper branch)', async () => {
    const [a] = await pair('resnet');
    const depths = linearDepths(a);
    const at = (tensor: string) => depths.get(tensor);
    expect(at('/relu/Relu_output_0')).toBe(1);
    expect(at('/layer1/layer1.0/add/Add_output_0')).toBe(3);
    expect(at('/layer2/layer2.0/add/Add_output_0')).toBe(5);
    expect(at('logits')).toBe(8);
  });

  it('is off by default: every other result is the same with and without it', async () => {
    const [a, b] = await pair('mlp');
    const data = await fashion(64, true);
    const plain = await analyzePair(a, b, data, { batchSize: 64 });
    const withLewc = await analyzePair(a, b, data, { batchSize: 64, lewc: true });
    expect(plain.layers.some((l) => 'lewc' in l)).toBe(false);
    expect({ ...withLewc, layers: withLewc.layers.map(({ lewc: _, ...rest }) => rest) }).toEqual(plain);
  });
});

describe('LEWC in the report', () => {
  it('has its HTML section, contents entry and two charts', async () => {
    const [a, b] = await pair('mlp');
    const analysis = await analyzePair(a, b, await fashion(64, true), { batchSize: 64, lewc: true });
    const { lmc, alphas, samples: _, ...perLayer } = analysis;
    const report = buildReport({ models: { a: a.file, b: b.file }, data: { source: 'x', samples: 64, labels: true }, settings: { batchSize: 64, feed: 'initializers' }, lmc, layerAlphas: alphas, ...perLayer });
    expect(reportCharts(report).map((c) => c.id)).toEqual(expect.arrayContaining(['lewc', 'lewc-coefficient']));
    const html = await renderHtmlReport(report);
    expect(html).toMatch(/<a href="#lewc">LEWC<\/a>/);
    expect(html).toMatch(/<section id="lewc">[\s\S]*data-chart="lewc"[\s\S]*LEWC 2<sup>−\(ℓ−1\)<\/sup>/);
  });

  it('llfc analyze --lewc prints the LEWC table and records the switch in the settings', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fixture('..', 'run-cli.ts'), 'analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), '--data', fixture('data', 'fashion_test_x.npy'), '--mean', '0.286', '--std', '0.353', '--limit', '64', '--lewc', '--no-commutativity'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/LEWC per layer[^\n]*\nlayer +ℓ +LLFC α=0\.25 +LEWC α=0\.25/);
    expect(r.stdout).toMatch(/\nrelu2 +2 +[\d.]+ +[\d.]+ .* 0\.500 +(LLFC|LEWC)\n/);
    const json = spawnSync(
      process.execPath,
      ['--import', 'tsx', fixture('..', 'run-cli.ts'), 'analyze', fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), '--data', fixture('data', 'fashion_test_x.npy'), '--limit', '16', '--lewc', '--json'],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(json.stdout);
    expect(report.settings.lewc).toBe(true);
    expect(report.layers.map((l: { lewc: { linearDepth: number } }) => l.lewc.linearDepth)).toEqual([1, 2, 3]);
  });
});
