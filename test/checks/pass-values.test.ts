/**
 * What the shared pass lets a check read, and when (lib/checks/analyze.ts): A's and B's values
 * in add(), at an α only those named in needs.interpolatedValues (the others are let go before
 * any θ(α) runs, so a batch does not hold pre-activations and layer inputs beside θ(α)'s
 * features), θ(α)'s only at its turn; anything else is a typed error naming the value.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from '../../lib/checks/check.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { openDataset } from '../../lib/dataset/index.js';
import { randomDataset, tinyCheckpoint, tinyModel } from '../align/helpers.js';
import { fixture } from '../helpers.js';

const { seen, preActivations, probe } = vi.hoisted(() => {
  /** What the probe check saw: each read it tried, and what came of it. */
  const seen: string[] = [];
  /** A's pre-activation array of each batch, as add() got it. */
  const preActivations: unknown[] = [];

  function attempt(what: string, read: () => unknown): void {
    try {
      read();
      seen.push(`${what}: read`);
    } catch (e) {
      seen.push(`${what}: ${(e as Error).name} ${(e as Error).message}`);
    }
  }

  /** A check that taps one layer's output and its pre-activation, and reads the layer at α = 0.5. */
  const probe: CheckDefinition = {
    id: 'probe',
    perLayer: false,
    async create(setup: PairSetup): Promise<PairCheck> {
      const layer = setup.layers.find((l) => l.activationInput)!;
      const pre = layer.activationInput!;
      let batches = 0;
      return {
        needs: { endpointValues: [layer.name, pre], alphas: [0.5], interpolatedValues: [layer.name] },
        add(batch: PairBatch) {
          if (!batch.covers([pre])) return;
          preActivations.push(batch.value(pre, 0, 'probe').data);
          if (batches++ > 0) return;
          attempt('add: A pre-activation', () => batch.value(pre, 0, 'probe'));
          attempt('add: B pre-activation', () => batch.value(pre, 1, 'probe'));
        },
        addAt(batch: PairBatch, alpha: number) {
          if (batches > 1 || !batch.covers([layer.name])) return;
          attempt(`addAt(${alpha}): A layer`, () => batch.value(layer.name, 0, 'probe'));
          attempt(`addAt(${alpha}): θ layer`, () => batch.value(layer.name, alpha, 'probe'));
          attempt(`addAt(${alpha}): A pre-activation`, () => batch.value(pre, 0, 'probe'));
          attempt(`addAt(${alpha}): θ(0.25) layer`, () => batch.value(layer.name, 0.25, 'probe'));
        },
        result: () => ({}),
        accumulators: () => new Map(),
        release: async () => {},
      };
    },
  };
  return { seen, preActivations, probe };
});

vi.mock('../../lib/checks/registry.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../lib/checks/registry.js')>();
  return { ...original, CHECKS: [...original.CHECKS, probe] };
});

describe('values a check reads in the shared pass', () => {
  it('A’s and B’s values are readable in add(); at an α only those the check names, θ(α)’s only at its turn; other reads are typed errors naming the value', async () => {
    const a = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    const b = await loadCheckpoint(fixture('models', 'mlp_b.onnx'));
    const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), limit: 64 });
    await analyzePair(a, b, data, { batchSize: 32, alphas: [0.5], lmcAlphas: [0, 1] });
    const pre = selectLayers(a).find((l) => l.activationInput)!.activationInput!;
    expect(seen.slice(0, 4)).toEqual(['add: A pre-activation: read', 'add: B pre-activation: read', 'addAt(0.5): A layer: read', 'addAt(0.5): θ layer: read']);
    expect(seen[4]).toMatch(new RegExp(`^addAt\\(0\\.5\\): A pre-activation: InvalidArgumentError probe: A's value '${pre.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' was read after add\\(\\)`));
    expect(seen[5]).toMatch(/^addAt\(0\.5\): θ\(0\.25\) layer: InvalidArgumentError probe: θ\(0\.25\)'s values were read while it was not the α at work/);
    expect(seen).toHaveLength(6);
  });

  it('a small model’s values let go after add() are written into the same arrays batch after batch; a large model’s get new arrays, freed before θ(α) runs', async () => {
        const preArrays = async (a: Checkpoint, b: Checkpoint, sampleShape: number[]): Promise<unknown[]> => {
      preActivations.length = 0;
      await analyzePair(a, b, randomDataset(4, sampleShape), { batchSize: 2, alphas: [0.5], lmcAlphas: [0, 1], commutativity: false, weakAdditivity: false });
      return [...preActivations];
    };
    const small = await preArrays(await loadCheckpoint(fixture('models', 'mlp_a.onnx')), await loadCheckpoint(fixture('models', 'mlp_b.onnx')), [1, 28, 28]);
    expect(small).toHaveLength(2);
    expect(small[1]).toBe(small[0]);
    // 4096² + 4096 + 10·4096 + 10 parameters: just over the 16 Mi below which arrays are kept.
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
    const big = await preArrays(large(1), large(2), [width]);
    expect(big).toHaveLength(2);
    expect(big[1]).not.toBe(big[0]);
  });
});
