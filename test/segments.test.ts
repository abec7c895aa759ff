/**
 * A model cut into segments (lib/segments.ts) and the pass that runs it segment by segment
 * (lib/checks/pass-models.ts): the segments tile the graph and its parameters, each reads only
 * what earlier segments pass on, and the analysis equals the one from whole runs.
 */
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, parameterValueName, type Checkpoint } from '../lib/checkpoint.js';
import { analyzePair, type AnalyzeOptions } from '../lib/checks/analyze.js';
import { openDataset, type Dataset } from '../lib/dataset/index.js';
import { rewireParameters } from '../lib/checkpoint.js';
import { planSegments } from '../lib/segments.js';
import { randomDataset, tinyCheckpoint, tinyModel } from './align/helpers.js';
import { fileBackedFloats, releaseFilePages } from '../lib/file-backed.js';
import { fileBackedResidentKb, fixture } from './helpers.js';

const pair = async (name: string): Promise<[Checkpoint, Checkpoint]> => [
  await loadCheckpoint(fixture('models', `${name}_a.onnx`)),
  await loadCheckpoint(fixture('models', `${name}_b.onnx`)),
];

const fashion = (limit: number) => () => openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), limit });
const tokens = () => openDataset({ data: fixture('data', 'lm_heldout_ids.npy'), labels: fixture('data', 'lm_heldout_labels.npy'), limit: 24 });

/** The largest difference between two analyses' numbers, relative where they are not near zero (1e-9 absolute). */
function largestDifference(x: unknown, y: unknown, path = ''): { difference: number; path: string } {
  if (typeof x === 'number' && typeof y === 'number') {
    const scale = Math.max(Math.abs(x), Math.abs(y));
    return { difference: Math.abs(x - y) <= 1e-9 ? 0 : Math.abs(x - y) / scale, path };
  }
  if (x !== null && typeof x === 'object') {
    let worst = { difference: 0, path };
    for (const key of Object.keys(x)) {
      const d = largestDifference((x as Record<string, unknown>)[key], (y as Record<string, unknown> | undefined)?.[key], `${path}.${key}`);
      if (d.difference > worst.difference) worst = d;
    }
    return worst;
  }
  return { difference: x === y ? 0 : Infinity, path };
}

describe('planSegments', () => {
  it.each(['mlp', 'resnet', 'vit_hand', 'lm_untied', 'moe'])('%s: segments tile the nodes and the arena in order, and each reads only data inputs and values earlier segments pass on', async (name) => {
    const [a] = await pair(name);
    const nodes = rewireParameters(a).graph!.node.length;
    for (const count of [2, 5, 16]) {
      const plan = planSegments(a, count)!;
      const { segments } = plan;
      expect(segments.length).toBeGreaterThan(1);
      expect(segments[0]!.start).toBe(0);
      expect(segments.at(-1)!.end).toBe(nodes);
      segments.forEach((s, k) => {
        if (k > 0) expect(s.start).toBe(segments[k - 1]!.end);
        // Its parameters fill its arena range exactly, right after the segment before's.
        expect(s.parameters.reduce((n, p) => n + p.length, 0)).toBe(s.hi - s.lo);
        for (const x of s.inputs) {
          const from = plan.segmentOf(x);
          if (a.inputs.some((v) => v.name === x)) continue;
          expect(from).toBeLessThan(k);
          expect(segments[from!]!.carried).toContain(x);
        }
      });
      expect(segments.flatMap((s) => s.parameters.map((p) => p.index))).toEqual(a.parameters.map((p) => p.index));
      // Over the budget only where one node holds more: a segment's other nodes hold no parameters.
      const budget = Math.ceil(a.arena.length / count);
      if (name === 'mlp' || name === 'resnet') for (const s of segments) if (s.hi - s.lo > budget) expect(new Set(s.parameters.map((p) => p.nodeIndex)).size).toBe(1);
    }
  });

  it('a segment model takes its inputs and its parameters and returns what later segments read and its taps', async () => {
    const [a] = await pair('mlp');
    const plan = planSegments(a, 3)!;
    const first = plan.segments[0]!;
    const model = plan.model(first, [...first.computes]);
    expect(model.graph!.input.map((v) => v.name)).toEqual([...first.inputs, ...first.parameters.map(parameterValueName)]);
    expect(model.graph!.output.map((v) => v.name)).toEqual([...new Set([...first.carried, ...first.computes])]);
  });

  it('a graph of shared tapped bytes is cut where its features are, not only where its parameters are', async () => {
    const [a] = await pair('resnet');
    const byParameters = planSegments(a, 4)!;
    const taps = [...byParameters.segments[0]!.computes];
    const byBytes = planSegments(a, 4, { taps, bytes: new Map(taps.map((t) => [t, 1000])) })!;
    expect(byBytes.segments.length).toBeGreaterThan(byParameters.segments.length);
    expect(byBytes.segmentOf(taps.at(-1)!)).toBeGreaterThan(0);
  });
});

describe('the pass in segments', () => {
  const cases: [string, () => Promise<Dataset>, AnalyzeOptions][] = [
    ['mlp', fashion(200), { lewc: true, calibrate: true }],
    ['resnet', fashion(64), {}],
    ['vit_hand', fashion(64), {}],
    ['lm_untied', tokens, {}],
  ];
  it.each(cases)('%s: the analysis in segments equals the one from whole runs (1e-5)', async (name, data, options) => {
    const [a, b] = await pair(name);
    const whole = await analyzePair(a, b, await data(), { batchSize: 32, ...options });
    for (const segments of [3, 16]) {
      const parted = await analyzePair(a, b, await data(), { batchSize: 32, segments, ...options });
      const d = largestDifference(whole, parted);
      expect(d.difference, `${segments} segments: ${d.path}`).toBeLessThan(1e-5);
    }
  });

  it('a model of 16M parameters or more runs in segments by default, with the same analysis as whole runs', async () => {
    const width = 4096;
    const large = (seed: number) =>
      tinyCheckpoint(
        tinyModel({
          inputShape: [width],
          nodes: [
            { op: 'Gemm', inputs: ['x', 'w1', 'c1'], outputs: ['h'], attrs: { transB: 1 }, name: '/fc1/Gemm' },
            { op: 'Relu', inputs: ['h'], outputs: ['r'], name: '/relu/Relu' },
            { op: 'Gemm', inputs: ['r', 'w2', 'c2'], outputs: ['y'], attrs: { transB: 1 }, name: '/fc2/Gemm' },
          ],
          params: { w1: [width, width], c1: [width], w2: [10, width], c2: [10] },
          seed,
        }),
      );
    const [a, b] = [large(1), large(2)];
    const options: AnalyzeOptions = { batchSize: 2, alphas: [0.5], lmcAlphas: [0, 0.5, 1] };
    const phases: number[] = [];
    const parted = await analyzePair(a, b, randomDataset(4, [width]), { ...options, onProgress: (e) => phases.push(e.total) });
    const whole = await analyzePair(a, b, randomDataset(4, [width]), { ...options, segments: 1 });
    // Per batch: A, B and θ(0.5) in each of the segments (fc1, relu, fc2), against 3 whole runs.
    expect(phases[0]).toBe(2 * 3 * 3);
    const d = largestDifference(whole, parted);
    expect(d.difference, d.path).toBeLessThan(1e-5);

    // File-backed arenas (as the analyze task loads a large pair): the same analysis, and the
    // pass hands back each segment's pages, so fc1's weights (all but 0.3% of them) are not held at the end.
    const backed = [a, b].map((c) => {
      const arena = fileBackedFloats(c.arena.length);
      arena.set(c.arena);
      releaseFilePages(arena);
      return { ...c, arena };
    });
    const fromFiles = await analyzePair(backed[0]!, backed[1]!, randomDataset(4, [width]), options);
    expect(fromFiles).toEqual(parted);
    const resident = fileBackedResidentKb(a.arena.length);
    expect(resident).toHaveLength(2);
    for (const kb of resident) expect(kb).toBeLessThan((a.arena.length * 4) / 1024 / 10);
  });
});
