/**
 * Layer-wise barriers cost one evaluation pass per distinct θ_{S,k} (about 2L + 1 for the
 * per-layer barriers of L layers, plus the cumulative prefixes). Prints the time per pass, with
 * the parameters baked in as initializers (a session per pass, the default) and fed as inputs
 * to one reused session, against a pass of a plain `lmc` sweep (11 α, its default feed) on the
 * same pair and data, measured in the same run. Target: ratio (layer-wise pass / lmc pass) ≤ about 1.
 */
import { existsSync } from 'node:fs';
import { loadCheckpoint } from '../lib/checkpoint.js';
import { linearModeConnectivity } from '../lib/checks/lmc.js';
import { openDataset } from '../lib/dataset/index.js';
import { layerwiseBarriers } from '../lib/studies/layerwise.js';
import { fixture } from '../test/helpers.js';
import { bestOf, isMain, row } from './timing.js';

export async function main(): Promise<void> {
  const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 1000 });
  const pairs = ['mlp', 'cnn_bn', 'cnn_folded', 'resnet'].filter((p) => existsSync(fixture('models', `${p}_a.onnx`)));
  const widths = [12, 8, 8, 16, 16, 14, 8, 8];
  console.log(`layer-wise barriers (draws 0) vs an 11-point lmc sweep, ${data.length} samples, batch 500`);
  console.log(row(['pair', 'groups', 'passes', 'ms/pass lw init', 'ms/pass lw inp', 'ms/pass lmc', 'ratio', 'inp/lmc'], widths));
  for (const pair of pairs) {
    const [a, b] = await Promise.all([loadCheckpoint(fixture('models', `${pair}_a.onnx`)), loadCheckpoint(fixture('models', `${pair}_b.onnx`))]);
    let passes = 0;
    let groups = 0;
    const layerwise = (feed: 'inputs' | 'initializers') => async () => {
      const r = await layerwiseBarriers(a, b, data, { draws: 0, batchSize: 500, feed });
      passes = r.passes;
      groups = r.groups.length;
    };
    const tInit = await bestOf(2, layerwise('initializers'));
    const tInputs = await bestOf(2, layerwise('inputs'));
    const tLmc = await bestOf(2, () => linearModeConnectivity(a, b, data, { batchSize: 500 }));
    const perLmcPass = tLmc / 11;
    const [init, inputs] = [tInit / passes, tInputs / passes];
    console.log(row([pair, groups, passes, init.toFixed(1), inputs.toFixed(1), perLmcPass.toFixed(1), (init / perLmcPass).toFixed(2), (inputs / perLmcPass).toFixed(2)], widths));
  }
  console.log('ratio = layer-wise ms per pass (default feed) / lmc ms per α: at or below 1 means a layer-wise pass costs no more than an LMC point; inp/lmc: the same with one reused session');
}

if (isMain(import.meta.url)) await main();
