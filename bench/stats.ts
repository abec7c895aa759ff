/**
 * The per-batch feature statistics of the analysis (native/feature_stats.cc) against a
 * multithreaded memcpy of the same bytes, in the same run: the kernels only read their features,
 * so a memcpy moving as many bytes (half read, half written) is the bound they are measured by.
 * One batch of 256 samples of 12,544 features (16 channels of 28 × 28, as the small ResNet's
 * first layers); three α, as the analysis. Bytes counted: each float the kernel reads, once per
 * pass over it (weak additivity and LLFC read their inputs once per α).
 */
import { native } from '../lib/native.js';
import { bestOf, isMain, memcpyGBs, row } from './timing.js';

const SAMPLES = 256;
const WIDTH = 16 * 28 * 28;
const ALPHAS = Float64Array.of(0.25, 0.5, 0.75);

export async function main(): Promise<void> {
  const addon = native();
  const n = SAMPLES * WIDTH;
  const random = () => Float32Array.from({ length: n }, () => Math.random() - 0.5);
  const [ha, hb] = [random(), random()];
  const [fa, fb] = [ha.map((x) => Math.max(x, 0)), hb.map((x) => Math.max(x, 0))];
  const compared = Array.from(ALPHAS, () => random());
  const acc = new Float64Array(ALPHAS.length * 5);
  const three = new Float64Array(3);
  const activation = (name: string) => ({ id: addon.activations[name]!, alpha: 0, beta: 0 });
  const kernels: { name: string; floats: number; run: () => void }[] = [
    { name: 'weak additivity, ReLU', floats: 4 * n * ALPHAS.length, run: () => addon.weakAdditivityStats({ ha, hb, fa, fb, samples: SAMPLES, alphas: ALPHAS, activation: activation('Relu'), acc }) },
    { name: 'weak additivity, GELU', floats: 4 * n * ALPHAS.length, run: () => addon.weakAdditivityStats({ ha, hb, fa, fb, samples: SAMPLES, alphas: ALPHAS, activation: activation('Gelu'), acc }) },
    { name: 'LLFC (cosine)', floats: 3 * n * ALPHAS.length, run: () => addon.cosineStats({ compared, alphas: ALPHAS, fa, fb, samples: SAMPLES, acc }) },
    { name: 'commutativity sums', floats: 3 * n, run: () => addon.outputCommutativitySums({ za: ha, zb: hb, d: fa, outer: SAMPLES, channels: 16, inner: 28 * 28, out: three }) },
    { name: 'sums of squares', floats: 2 * n, run: () => addon.sumSquares(ha, hb, three) },
  ];
  console.log(`feature statistics of one batch (${SAMPLES} × ${WIDTH} floats, ${ALPHAS.length} α) against a memcpy of the bytes they read (backend ${addon.backend})`);
  const widths = [24, 10, 10, 12, 8];
  console.log(row(['kernel', 'ms', 'GB/s', 'memcpy GB/s', 'ratio'], widths));
  for (const kernel of kernels) {
    const ms = await bestOf(10, kernel.run);
    const gb = (kernel.floats * 4) / ms / 1e6;
    const copyGb = await memcpyGBs(kernel.floats, 10);
    console.log(row([kernel.name, ms.toFixed(2), gb.toFixed(2), copyGb.toFixed(2), (gb / copyGb).toFixed(2)], widths));
  }
}

if (isMain(import.meta.url)) await main();
