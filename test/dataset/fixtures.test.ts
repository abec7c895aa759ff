/**
 * Checks on the Fashion-MNIST fixture files written by scripts/fixtures/make_fixtures.py and on
 * the real Fashion-MNIST test set where this machine has it; each test is skipped when its
 * files are absent (e.g. in CI without the data set).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { checkLabels, openDataset } from '../../lib/dataset/index.js';
import { readAll } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url));
const npyX = fixture('fashion_test_x.npy');
const npyY = fixture('fashion_test_y.npy');
const npyF32 = fixture('fashion_test_x_f32.npy');
const idxX = fixture('fashion_test-images-idx3-ubyte.gz');
const idxY = fixture('fashion_test-labels-idx1-ubyte.gz');
const haveNpy = existsSync(npyX) && existsSync(npyY);
const haveIdx = existsSync(idxX) && existsSync(idxY);

const REAL = '/usr/share/datasets/fashion-mnist';
const realX = `${REAL}/t10k-images-idx3-ubyte.gz`;
const realY = `${REAL}/t10k-labels-idx1-ubyte.gz`;
const haveReal = existsSync(realX) && existsSync(realY);

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

describe('Fashion-MNIST fixtures', () => {
  it.skipIf(!(haveNpy && haveIdx))('read identical inputs and labels from the .npy pair and the gzipped IDX pair', async () => {
    const normalize = { mean: [0.286], std: [0.353] };
    const fromNpy = await openDataset({ data: npyX, labels: npyY, normalize });
    const fromIdx = await openDataset({ data: idxX, labels: idxY, normalize });
    expect(fromNpy.length).toBe(2000);
    expect(fromIdx.length).toBe(2000);
    expect(fromNpy.sampleShape).toEqual([1, 28, 28]);
    expect(fromIdx.sampleShape).toEqual([1, 28, 28]);
    expect(fromIdx.labels).toEqual(fromNpy.labels);
    checkLabels(fromNpy.labels!, 10, npyY);
    const a = await readAll(fromNpy, 256);
    const b = await readAll(fromIdx, 300);
    expect(a.inputs.length).toBe(2000 * 784);
    expect(sameBits(a.inputs, b.inputs)).toBe(true);
    expect(b.labels).toEqual(a.labels);
  });

  it.skipIf(!(haveNpy && existsSync(npyF32)))('convert uint8 to float32 bit-identically to numpy (x.astype(float32) / 255)', async () => {
    const ref = await openDataset({ data: npyF32 });
    const u8 = await openDataset({ data: npyX, limit: ref.length });
    expect(ref.sampleShape).toEqual([1, 28, 28]);
    const a = await readAll(u8, 128);
    const b = await readAll(ref, 128);
    expect(sameBits(a.inputs, b.inputs)).toBe(true);
  });
});

describe('real Fashion-MNIST test set', () => {
  it.skipIf(!haveReal)('opens as 10000 samples of 1×28×28 with labels 0–9 and inputs in [0, 1]', async () => {
    const ds = await openDataset({ data: realX, labels: realY });
    expect(ds.length).toBe(10000);
    expect(ds.sampleShape).toEqual([1, 28, 28]);
    checkLabels(ds.labels!, 10, realY);
    let seen = 0;
    for await (const b of ds.batches(1000)) {
      for (const v of b.inputs) if (!(v >= 0 && v <= 1)) throw new Error(`value ${v} out of [0, 1]`);
      seen += b.size;
    }
    expect(seen).toBe(10000);
  });

  it.skipIf(!(haveReal && haveNpy))('matches the fixture .npy on its first 2000 samples', async () => {
    const real = await openDataset({ data: realX, labels: realY, limit: 2000 });
    const fix = await openDataset({ data: npyX, labels: npyY });
    expect(real.labels).toEqual(fix.labels);
    const a = await readAll(real, 500);
    const b = await readAll(fix, 500);
    expect(sameBits(a.inputs, b.inputs)).toBe(true);
  });
});
