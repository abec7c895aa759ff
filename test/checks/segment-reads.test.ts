/**
 * What a check may read in a pass that runs the models in segments (lib/checks/pass-models.ts):
 * each group of values in the one call that covers it; a value read in another part is a typed
 * error naming the value and the part.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from '../../lib/checks/check.js';
import { openDataset } from '../../lib/dataset/index.js';
import { fixture } from '../helpers.js';

const { reads, stray } = vi.hoisted(() => {
  /** Per add() call: whether it covered the first layer, and what reading it gave. */
  const reads: { covered: boolean; outcome: string }[] = [];
  /** A check that reads the first reported layer in every add() call, covered or not. */
  const stray: CheckDefinition = {
    id: 'stray',
    perLayer: false,
    async create(setup: PairSetup): Promise<PairCheck> {
      const layer = setup.layers[0]!;
      return {
        needs: { endpointValues: [layer.name], alphas: [], interpolatedValues: [] },
        add(batch: PairBatch) {
          const covered = batch.covers([layer.name]);
          try {
            batch.value(layer.name, 0, 'stray');
            reads.push({ covered, outcome: 'read' });
          } catch (e) {
            reads.push({ covered, outcome: `${(e as Error).name} ${(e as Error).message}` });
          }
        },
        result: () => ({}),
        accumulators: () => new Map(),
        release: async () => {},
      };
    },
  };
  return { reads, stray };
});

vi.mock('../../lib/checks/registry.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../lib/checks/registry.js')>();
  return { ...original, CHECKS: [...original.CHECKS, stray] };
});

describe('reads in a pass in segments', () => {
  it('a value is readable in the one part that covers it; read in another part it is a typed error naming the value and the part', async () => {
    const a = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    const b = await loadCheckpoint(fixture('models', 'mlp_b.onnx'));
    const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), limit: 16 });
    await analyzePair(a, b, data, { batchSize: 16, alphas: [0.5], lmcAlphas: [0, 1], segments: 3 });
    // One batch: one add() call per part, one of them covering the layer.
    expect(reads.length).toBeGreaterThan(2);
    expect(reads.filter((r) => r.covered)).toEqual([{ covered: true, outcome: 'read' }]);
    for (const r of reads.filter((x) => !x.covered)) expect(r.outcome).toMatch(new RegExp(`^InvalidArgumentError stray: '.+' is not readable in part \\d+ of ${reads.length} of the pass`));
  });
});
