/**
 * Write the midpoint model θ(½) of two checkpoints and check it with onnxruntime.
 *   node --import tsx examples/interpolate-midpoint.ts OUT.onnx
 */
import { interpolate, lmc } from 'llfc';

const out = process.argv[2] ?? 'midpoint.onnx';
const fixtures = new URL('../test/fixtures/', import.meta.url).pathname;
const a = `${fixtures}models/cnn_bn_a.onnx`;
const b = `${fixtures}models/cnn_bn_b.onnx`;

await interpolate(a, b, 0.5, out);
// The written model at α = 0 against itself is the midpoint of A and B.
const check = await lmc(
  { a: out, b: out, data: { data: `${fixtures}data/fashion_test_x.npy`, labels: `${fixtures}data/fashion_test_y.npy`, normalize: { mean: [0.286], std: [0.353] } } },
  { alphas: [0] },
);
console.log(`wrote ${out}: accuracy ${(100 * check.accuracy[0]!).toFixed(2)}%, loss ${check.loss[0]!.toFixed(4)}`);
