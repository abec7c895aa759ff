import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { align } from '../../lib/align/index.js';
import { openDataset, type OpenDatasetOptions } from '../../lib/dataset/index.js';
import { loadPair } from '../../lib/load-checkpoints.js';
import { reducePartials } from '../../lib/shard/reduce.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';
import { expectSameResult, runAllShards } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const fashion: OpenDatasetOptions = { data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 40 };

/** The pairs activation matching is tested on, with data of 5 or 6 batches (so 7 shards leave some empty). */
const PAIRS = [
  { name: 'mlp', a: fixture('models', 'mlp_a.onnx'), b: fixture('models', 'mlp_b.onnx'), data: fashion, batchSize: 8, correlation: 'pearson' as const },
  { name: 'mlp', a: fixture('models', 'mlp_a.onnx'), b: fixture('models', 'mlp_b.onnx'), data: fashion, batchSize: 8, correlation: 'cross' as const },
  { name: 'cnn_bn', a: fixture('models', 'cnn_bn_a.onnx'), b: fixture('models', 'cnn_bn_b.onnx'), data: fashion, batchSize: 8, correlation: 'cross' as const },
  { name: 'resnet', a: fixture('models', 'resnet_a.onnx'), b: fixture('models', 'resnet_b.onnx'), data: fashion, batchSize: 8, correlation: 'pearson' as const },
  { name: 'moe (experts by pairs)', a: fixture('models', 'moe_a.onnx'), b: fixture('models', 'moe_b.onnx'), data: fashion, batchSize: 8, correlation: 'pearson' as const },
  { name: 'vit (heads)', a: fixture('models', 'vit_hand_a.onnx'), b: fixture('models', 'vit_hand_b.onnx'), data: fashion, batchSize: 8, correlation: 'cross' as const },
  { name: 'transformer block', a: fixture('transformer', 'block_a.onnx'), b: fixture('transformer', 'block_b.onnx'), data: { data: fixture('transformer', 'x.npy') }, batchSize: 4, correlation: 'cross' as const },
];

describe.each(PAIRS)('$name ($correlation): activation matching from the reduced cross-correlations', ({ name, a, b, data, batchSize, correlation }) => {
  it.each([1, 2, 3, 7])('in %i shards gives the single run\'s permutations, scores within 1e-12 relative', async (count) => {
    const options = { method: 'activation' as const, batchSize, correlation };
    const [pa, pb] = await loadPair(a, b);
    const single = await align(pa, pb, { ...options, data: await openDataset(data) });
    const { files } = await runAllShards('align', a, b, data, options, count, (i) => tmp.path(`${name.replace(/\W+/g, '_')}-${correlation}-${count}-${i}.json`));
    const reduced = await reducePartials(files, {});
    if (reduced.command !== 'align') throw new Error('expected an alignment');
    const am = reduced.alignment.activationMatching!;
    expect(am.permutations).toEqual(single.activationMatching!.permutations);
    const { permutations: _, ...rest } = single.activationMatching!;
    expectSameResult({ ...am, permutations: undefined }, { ...rest, permutations: undefined });
    expectSameResult(reduced.alignment.objective, single.objective);
  });
});

describe('llfc align --method activation --shard and llfc reduce -o', () => {
  it('writes the aligned model, permutations and parameters the single run writes', async () => {
    const args = ['align', fixture('models', 'cnn_bn_a.onnx'), fixture('models', 'cnn_bn_b.onnx'), '--method', 'activation', '--data', fashion.data as string, '--mean', '0.286', '--std', '0.353', '--limit', '40', '--batch-size', '8'];
    expect((await runCliInProcess(...args, '-o', tmp.path('single.onnx'), '--quiet')).status).toBe(0);
    for (const i of [0, 1, 2]) expect((await runCliInProcess(...args, '--shard', `${i}/3`, '--out', tmp.path(`align-${i}.json`), '--quiet')).status).toBe(0);
    const reduced = await runCliInProcess('reduce', tmp.path('align-2.json'), tmp.path('align-0.json'), tmp.path('align-1.json'), '-o', tmp.path('reduced.onnx'));
    expect(reduced.status).toBe(0);
    expect(reduced.stdout).toMatch(/activation matching \(cross\) of .*cnn_bn_b\.onnx to .*cnn_bn_a\.onnx on 40 samples/);
    for (const suffix of ['onnx', 'perms.json', 'safetensors']) expect(readFileSync(tmp.path(`reduced.${suffix}`)).equals(readFileSync(tmp.path(`single.${suffix}`))), suffix).toBe(true);
    const wrong = await runCliInProcess('reduce', tmp.path('align-0.json'), tmp.path('align-1.json'), tmp.path('align-2.json'), '--out', tmp.path('report.json'));
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/partials of activation matching reduce to an alignment: give the aligned model's files \(-o, --perm-out, --safetensors\), not --out/);
  });
});
