/**
 * Align B to A by weight matching (Git Re-Basin), write the aligned B and the midpoint model
 * θ(½) of A and the aligned B, then compare the midpoint's accuracy with the naive midpoint's.
 *   node --import tsx examples/align-then-midpoint.ts OUT_DIR
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { align, interpolate, lmc, loadCheckpoint, writeAlignment } from 'llfc';

const outDir = process.argv[2] ?? 'aligned';
mkdirSync(outDir, { recursive: true });
const fixtures = new URL('../test/fixtures/', import.meta.url).pathname;
const aFile = `${fixtures}models/mlp_a.onnx`;
const bFile = `${fixtures}models/mlp_b.onnx`;
const data = { data: `${fixtures}data/fashion_test_x.npy`, labels: `${fixtures}data/fashion_test_y.npy`, normalize: { mean: [0.286], std: [0.353] } };

const [a, b] = await Promise.all([loadCheckpoint(aFile), loadCheckpoint(bFile)]);
const result = await align(a, b, { method: 'weight' });
console.log(`weight matching: ${result.spec.groups.length} groups, objective per sweep ${result.objective.map((o) => o.toFixed(1)).join(' → ')}`);

const alignedB = join(outDir, 'b_aligned.onnx');
await writeAlignment(a, result, { onnx: alignedB, permutations: join(outDir, 'perms.json') });
const naiveMid = join(outDir, 'mid_naive.onnx');
const alignedMid = join(outDir, 'mid_aligned.onnx');
await interpolate(aFile, bFile, 0.5, naiveMid);
await interpolate(aFile, alignedB, 0.5, alignedMid);

for (const [name, file] of [['naive', naiveMid], ['aligned', alignedMid]] as const) {
  const r = await lmc({ a: file, b: file, data }, { alphas: [0] });
  console.log(`${name} midpoint: accuracy ${(100 * r.accuracy[0]!).toFixed(2)}%, loss ${r.loss[0]!.toFixed(4)}`);
}
