/**
 * Analyze a pair of checkpoints: LMC, then per layer the LLFC distance against its baseline.
 *   node --import tsx examples/analyze-pair.ts [A.onnx B.onnx X.npy Y.npy]
 * Without arguments it uses the bundled Fashion-MNIST MLPs.
 */
import { analyze } from 'llfc';

const fixtures = new URL('../test/fixtures/', import.meta.url).pathname;
const [a = `${fixtures}models/mlp_a.onnx`, b = `${fixtures}models/mlp_b.onnx`, x = `${fixtures}data/fashion_test_x.npy`, y = `${fixtures}data/fashion_test_y.npy`] = process.argv.slice(2);

const result = await analyze(
  { a, b, data: { data: x, labels: y, normalize: { mean: [0.286], std: [0.353] }, limit: 1000 } },
  { alphas: [0.5], onProgress: (e) => process.stderr.write(`\r${e.phase} ${e.done}/${e.total}`) },
);
process.stderr.write('\n');

console.log(`loss barrier ${result.lmc!.barriers!.loss.toFixed(4)}, accuracy barrier ${(100 * result.lmc!.barriers!.accuracy).toFixed(2)}%`);
for (const layer of result.layers) {
  const d = layer.llfc[0]!.distance;
  const verdict = d < layer.baseline / 2 ? 'LLFC holds' : 'LLFC does not hold';
  console.log(`${(layer.module ?? layer.name).padEnd(12)} LLFC distance ${d.toFixed(4)} vs baseline ${layer.baseline.toFixed(4)}: ${verdict}`);
}
