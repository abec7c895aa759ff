import { afterAll, describe, expect, it } from 'vitest';
import { analyzePair } from '../../lib/checks/analyze.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset, type OpenDatasetOptions } from '../../lib/dataset/index.js';
import { loadPair } from '../../lib/load-checkpoints.js';
import { reducePartials } from '../../lib/shard/reduce.js';
import { fixture, tempDir } from '../helpers.js';
import { expectSameResult, runAllShards } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const fashion: OpenDatasetOptions = { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 40 };
const tokens: OpenDatasetOptions = { data: fixture('tokens', 'ids.npy'), labels: fixture('tokens', 'labels.npy') };

/** Every fixture pair the checks are tested on, with data of 5 batches (so 7 shards leave 2 empty). */
const PAIRS = [
  { name: 'mlp', a: fixture('models', 'mlp_a.onnx'), b: fixture('models', 'mlp_b.onnx'), data: fashion, batchSize: 8 },
  { name: 'cnn_bn', a: fixture('models', 'cnn_bn_a.onnx'), b: fixture('models', 'cnn_bn_b.onnx'), data: fashion, batchSize: 8 },
  { name: 'resnet', a: fixture('models', 'resnet_a.onnx'), b: fixture('models', 'resnet_b.onnx'), data: fashion, batchSize: 8 },
  { name: 'lm (token ids, token labels)', a: fixture('tokens', 'lm_a.onnx'), b: fixture('tokens', 'lm_b.onnx'), data: tokens, batchSize: 6 },
  { name: 'transformer block (tokens as samples, no labels)', a: fixture('transformer', 'block_a.onnx'), b: fixture('transformer', 'block_b.onnx'), data: { data: fixture('transformer', 'x.npy') }, batchSize: 4 },
];
const COUNTS = [1, 2, 3, 7];

describe.each(PAIRS)('$name: the reduced shards give the single run', ({ name, a, b, data, batchSize }) => {
  const options = { batchSize, alphas: [0.25, 0.5], lmcAlphas: [0, 0.5, 1], lewc: true };

  it.each(COUNTS)('analyze in %i shards: every statistic within 1e-12 relative, accuracies and counts exact', async (count) => {
    const [pa, pb] = await loadPair(a, b);
    const single = await analyzePair(pa, pb, await openDataset(data), options);
    const { files, outcomes } = await runAllShards('analyze', a, b, data, options, count, (i) => tmp.path(`analyze-${name.replace(/\W+/g, '_')}-${count}-${i}.json`));
    if (count === 7) expect(outcomes.some((o) => o.shard.from === o.shard.to)).toBe(true);
    expect(outcomes.map((o) => o.shard.to - o.shard.from).reduce((x, y) => x + y, 0)).toBe(single.samples);
    const reduced = await reducePartials([...files].reverse());
    if (reduced.command !== 'analyze') throw new Error('expected an analyze result');
    expectSameResult(reduced.analysis, single);
  });

});

describe.each(PAIRS.filter((p) => p.data.labels !== undefined))('$name: the reduced shards of lmc give the single run', ({ name, a, b, data, batchSize }) => {
  const options = { batchSize, alphas: [0, 0.25, 0.5, 0.75, 1] };
  it.each(COUNTS)('lmc in %i shards: losses and barriers within 1e-12 relative, accuracies exact', async (count) => {
    const [pa, pb] = await loadPair(a, b);
    const single = await linearModeConnectivity(pa, pb, await openDataset(data), options);
    const { files } = await runAllShards('lmc', a, b, data, options, count, (i) => tmp.path(`lmc-${name.replace(/\W+/g, '_')}-${count}-${i}.json`));
    const reduced = await reducePartials(files);
    if (reduced.command !== 'lmc') throw new Error('expected an lmc result');
    expectSameResult(reduced.lmc, single);
  });
});
