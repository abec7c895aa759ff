import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { DatasetError, EmptyDatasetError, InvalidArgumentError } from '../../lib/errors.js';
import { openDataset } from '../../lib/dataset/index.js';
import { cifarBytes, norm32, readAll, tempDir, u8 } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const pixel = (r: number, j: number) => (r * 31 + j * 7 + (j >> 10) * 3) & 0xff;
const batch1Labels = [3, 0, 9, 1, 4];
const batch2Labels = [7, 7, 2];
const batch1 = tmp.path('data_batch_1.bin');
const batch2 = tmp.path('data_batch_2.bin');
writeFileSync(batch1, cifarBytes(batch1Labels, pixel));
writeFileSync(batch2, cifarBytes(batch2Labels, (r, j) => pixel(r + batch1Labels.length, j)));

function expectedPixels(records: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < records; r++) for (let j = 0; j < 3072; j++) out.push(u8(pixel(r, j)));
  return out;
}

describe('CIFAR-10 binary batches', () => {
  it('reads one batch file as N×3×32×32 uint8 → float32 with the labels from the records', async () => {
    const ds = await openDataset({ data: batch1 });
    expect(ds.length).toBe(5);
    expect(ds.sampleShape).toEqual([3, 32, 32]);
    expect(Array.from(ds.labels!)).toEqual(batch1Labels);
    const { inputs, labels } = await readAll(ds, 2);
    expect(Array.from(inputs)).toEqual(expectedPixels(5));
    expect(Array.from(labels!)).toEqual(batch1Labels);
  });

  it('reads several batch files as one dataset, batches crossing file boundaries', async () => {
    const ds = await openDataset({ data: [batch1, batch2] });
    expect(ds.length).toBe(8);
    expect(ds.source).toBe(`${batch1}, ${batch2}`);
    const { inputs, labels } = await readAll(ds, 3);
    expect(Array.from(inputs)).toEqual(expectedPixels(8));
    expect(Array.from(labels!)).toEqual([...batch1Labels, ...batch2Labels]);
  });

  it('applies limit across files, to inputs and labels', async () => {
    const ds = await openDataset({ data: [batch1, batch2], limit: 6 });
    expect(ds.length).toBe(6);
    const { inputs, labels } = await readAll(ds, 4);
    expect(Array.from(inputs)).toEqual(expectedPixels(6));
    expect(Array.from(labels!)).toEqual([...batch1Labels, 7]);
  });

  it('normalizes each of the 3 channels with its own mean and std, bit-exactly', async () => {
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.247, 0.2435, 0.2616];
    const ds = await openDataset({ data: batch1, normalize: { mean, std }, limit: 2 });
    const { inputs } = await readAll(ds, 2);
    const expected: number[] = [];
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < 3072; j++) expected.push(norm32(u8(pixel(r, j)), mean[j >> 10]!, std[j >> 10]!));
    }
    expect(Array.from(inputs)).toEqual(expected);
  });

  it('rejects a file whose size is not a whole number of 3073-byte records, naming it', async () => {
    const file = tmp.path('test_batch.bin');
    writeFileSync(file, cifarBytes([1, 2], pixel).subarray(0, 3073 + 100));
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/not a multiple of the 3073-byte record/);
  });

  it('rejects an empty batch file with EmptyDatasetError', async () => {
    const file = tmp.path('empty_batch.bin');
    writeFileSync(file, Buffer.alloc(0));
    await expect(openDataset({ data: file })).rejects.toThrow(EmptyDatasetError);
  });

  it('rejects a missing batch among several, naming it', async () => {
    const missing = tmp.path('data_batch_9.bin');
    const err = await openDataset({ data: [batch1, missing] }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toBe(`${missing}: file not found`);
  });

  it('rejects a separate labels file, since the records carry the labels', async () => {
    await expect(openDataset({ data: batch1, labels: batch2 })).rejects.toThrow(InvalidArgumentError);
  });

  it('reads a file of another name as CIFAR-10 when the format is forced', async () => {
    const file = tmp.path('cifar.dat');
    writeFileSync(file, cifarBytes([5], pixel));
    const ds = await openDataset({ data: file, format: 'cifar10' });
    expect(Array.from(ds.labels!)).toEqual([5]);
  });
});
