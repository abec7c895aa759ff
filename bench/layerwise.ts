/**
 * Layer-wise barriers cost one evaluation pass per distinct θ_{S,k}: 2L + 1 for the per-layer
 * barriers of L layers (each layer at ½ on base A and on base B, and θ(½)), the two endpoints, and
 * the cumulative prefixes not already measured. Prints, per pair, L, 2L + 1 and the passes made;
 * how many times the data was read from its files (once: the batches stay in memory between
 * passes, lib/dataset/resident.ts; the checkpoints are loaded once, before the run); and the time
 * per pass with the parameters baked in as initializers (a session per pass, the default) and fed
 * as inputs to one reused session (the model decoded once), against a pass of a plain `lmc`
 * sweep (11 α, its default feed) on the same pair and data, measured in the same run.
 * Target: ratio (layer-wise pass / lmc pass) ≤ about 1.
 *
 * Measured with this bench (2 cores shared with a full test run and other work, so absolute times
 * are inflated; 1000 samples, batch 500; ms per pass, session per pass / one reused session /
 * lmc α): mlp 64 / 24 / 91, cnn_bn 130 / 685 / 270, cnn_folded 140 / 530 / 248, resnet 938 /
 * 1653 / 1087, vit_hand 144 / 89 / 137. A session per pass wins on conv nets (2–5×: onnxruntime
 * pre-packs constant conv weights, which weights fed as inputs cannot get), the reused session
 * on the MLP and the ViT (1.6–2.6×: their Gemm/MatMul gain less than a session creation costs).
 * The default stays a session per pass, the large win and the small loss; `feed: 'inputs'`
 * (`--feed inputs`) takes the other.
 */
import { existsSync } from 'node:fs';
import { loadCheckpoint } from '../lib/checkpoint.js';
import { linearModeConnectivity } from '../lib/checks/lmc.js';
import { openDataset, type Dataset } from '../lib/dataset/index.js';
import { layerwiseBarriers } from '../lib/studies/layerwise.js';
import { fixture } from '../test/helpers.js';
import { bestOf, isMain, row } from './timing.js';

/** The data, counting how many times a pass opens its files. */
function countingReads(data: Dataset): { data: Dataset; reads: () => number } {
  let reads = 0;
  const counted = Object.create(data) as Dataset;
  counted.batches = (...args: Parameters<Dataset['batches']>) => {
    reads++;
    return data.batches(...args);
  };
  return { data: counted, reads: () => reads };
}

export async function main(): Promise<void> {
  const opened = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 1000 });
  const pairs = ['mlp', 'cnn_bn', 'cnn_folded', 'resnet', 'vit_hand'].filter((p) => existsSync(fixture('models', `${p}_a.onnx`)));
  const widths = [12, 4, 6, 7, 11, 11, 16, 16, 12, 7, 8];
  console.log(`layer-wise barriers (draws 0) vs an 11-point lmc sweep, ${opened.length} samples, batch 500`);
  console.log(row(['pair', 'L', '2L+1', 'passes', 'cumulative', 'data reads', 'ms/pass lw init', 'ms/pass lw inp', 'ms/pass lmc', 'ratio', 'inp/lmc'], widths));
  for (const pair of pairs) {
    const [a, b] = await Promise.all([loadCheckpoint(fixture('models', `${pair}_a.onnx`)), loadCheckpoint(fixture('models', `${pair}_b.onnx`))]);
    let passes = 0;
    let groups = 0;
    let reads = 0;
    const layerwise = (feed: 'inputs' | 'initializers') => async () => {
      const counted = countingReads(opened);
      const r = await layerwiseBarriers(a, b, counted.data, { draws: 0, batchSize: 500, feed });
      passes = r.passes;
      groups = r.groups.length;
      reads = counted.reads();
    };
    const tInit = await bestOf(2, layerwise('initializers'));
    const tInputs = await bestOf(2, layerwise('inputs'));
    const tLmc = await bestOf(2, () => linearModeConnectivity(a, b, opened, { batchSize: 500 }));
    const perLmcPass = tLmc / 11;
    const [init, inputs] = [tInit / passes, tInputs / passes];
    const perLayer = 2 * groups + 1;
    const cumulative = passes - perLayer - 2;
    console.log(row([pair, groups, perLayer, passes, cumulative, reads, init.toFixed(1), inputs.toFixed(1), perLmcPass.toFixed(1), (init / perLmcPass).toFixed(2), (inputs / perLmcPass).toFixed(2)], widths));
  }
  console.log('passes = 2L+1 (every layer at ½ on both bases, θ(½)) + 2 endpoints + the cumulative prefixes not measured already; data reads: times a pass read the data files (1: the other passes replay the batches held in memory)');
  console.log('ratio = layer-wise ms per pass (default feed: a session per pass) / lmc ms per α: at or below 1 means a layer-wise pass costs no more than an LMC point; inp/lmc: the same with one reused session fed the parameters as inputs');
}

if (isMain(import.meta.url)) await main();
