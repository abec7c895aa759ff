/**
 * Tapped runs as the analyze pass makes them: the addon's onnxruntime runner writing every
 * tapped value into arrays kept from batch to batch (lib/runner.ts), against onnxruntime-node
 * returning each in a new buffer (the baseline), in the same process on the same session model:
 * the small ResNet fixture with every Conv, Relu and Add output tapped, normalized Fashion-MNIST
 * batches of 256. Best of --repeat rounds of 8 runs each, interleaved; the values are checked equal first.
 *
 *   npm run bench -- runner [--repeat=5]
 */
import { loadPair } from '../lib/load-checkpoints.js';
import { OutputBuffers } from '../lib/runner.js';
import { ModelSession } from '../lib/session.js';
import { openDataset } from '../lib/dataset/index.js';
import { fixture } from '../test/helpers.js';
import { NORMALIZE } from './analyze.js';
import { bestOf, isMain, row } from './timing.js';

const BATCH = 256;
const RUNS = 7;

export async function main(args: string[]): Promise<void> {
  const repeat = Number(args.find((a) => a.startsWith('--repeat='))?.slice(9) ?? '5');
  const [a] = await loadPair(fixture('models', 'resnet_a.onnx'), fixture('models', 'resnet_b.onnx'));
  const taps = a.model.graph!.node.filter((n) => ['Conv', 'Relu', 'Add'].includes(n.opType)).map((n) => n.output[0]!);
  const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), normalize: NORMALIZE, limit: RUNS * BATCH });
  const batches: Float32Array[] = [];
  for await (const batch of data.batches(BATCH)) batches.push(Float32Array.from(batch.inputs as Float32Array));
  const dims = [BATCH, 1, 28, 28];
  const forced = process.env.LLFC_ORT_RUNNER;
  const sessionOn = async (runner: string): Promise<ModelSession> => {
    process.env.LLFC_ORT_RUNNER = runner;
    try {
      return await ModelSession.create(a, { parameters: a.arena, taps });
    } finally {
      if (forced === undefined) delete process.env.LLFC_ORT_RUNNER;
      else process.env.LLFC_ORT_RUNNER = forced;
    }
  };
  const [mine, theirs] = [await sessionOn('native'), await sessionOn('node')];
  const into = new OutputBuffers();
  const [got, want] = [await mine.run(batches[0]!, dims, undefined, into), await theirs.run(batches[0]!, dims)];
  const bytes = Object.values(want).reduce((n, t) => n + (t.data as Float32Array).byteLength, 0);
  for (const [name, t] of Object.entries(want)) {
    const [x, y] = [got[name]!.data as Float32Array, t.data as Float32Array];
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) throw new Error(`the runners disagree on '${name}'`);
  }
  let node = Infinity;
  let kept = Infinity;
  for (let r = 0; r < repeat; r++) {
    node = Math.min(node, await bestOf(1, async () => { for (const x of batches) await theirs.run(x, dims); }));
    kept = Math.min(kept, await bestOf(1, async () => { for (const x of batches) await mine.run(x, dims, undefined, into); }));
  }
  await Promise.all([mine.release(), theirs.release()]);
  console.log(`small ResNet, ${taps.length} values tapped (${(bytes / 1e6).toFixed(0)} MB per run of ${BATCH}), ${RUNS} runs, best of ${repeat}`);
  const widths = [44, 12, 10];
  console.log(row(['runner', 'ms per run', 'ratio'], widths));
  console.log(row(['onnxruntime-node, new buffers (baseline)', (node / RUNS).toFixed(1), '1.00×'], widths));
  console.log(row(['addon runner, kept arrays', (kept / RUNS).toFixed(1), `${(node / kept).toFixed(2)}×`], widths));
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
