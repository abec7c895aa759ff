/**
 * Sweep α finely along the line between two checkpoints and plot loss and accuracy.
 *   node --import tsx examples/sweep-and-plot.ts OUT_DIR
 * Writes lmc-loss.svg/.png and lmc-accuracy.svg/.png into OUT_DIR.
 */
import { alphaGrid, buildReport, lmc, writePlots } from 'llfc';

const outDir = process.argv[2] ?? 'sweep-plots';
const fixtures = new URL('../test/fixtures/', import.meta.url).pathname;
const a = `${fixtures}models/mlp_spawn_a.onnx`;
const b = `${fixtures}models/mlp_spawn_b.onnx`;
const data = { data: `${fixtures}data/fashion_test_x.npy`, labels: `${fixtures}data/fashion_test_y.npy`, normalize: { mean: [0.286], std: [0.353] } };

const curve = await lmc({ a, b, data }, { alphas: alphaGrid(21) });
const report = buildReport({
  models: { a, b },
  data: { source: data.data, samples: curve.samples, labels: true },
  settings: { batchSize: 256, feed: 'initializers' },
  lmc: curve,
});
const files = await writePlots(report, outDir);
console.log(`spawned pair: loss barrier ${curve.barriers!.loss.toFixed(4)}; wrote ${files.length} files to ${outDir}`);
