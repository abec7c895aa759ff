import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

import { DatasetError, EmptyDatasetError, LabelError } from '../../lib/errors.js';
import { openDataset } from '../../lib/dataset/index.js';
import { float32BE, idxBytes, int32BE, readAll, seededBytes, tempDir, u8, writeIdx } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const N = 13;
const H = 4;
const W = 5;
const images = seededBytes(N * H * W, 3);
const labelValues = Array.from({ length: N }, (_, i) => (i * 3) % 10);

describe('IDX files', () => {
  for (const gz of [false, true]) {
    const kind = gz ? 'gzipped' : 'plain';
    it(`reads ${kind} idx3 ubyte images as N×1×H×W with idx1 ubyte labels`, async () => {
      const data = writeIdx(tmp.path(`img-${kind}.idx`), 0x08, [N, H, W], images, gz);
      const labels = writeIdx(tmp.path(`lab-${kind}.idx`), 0x08, [N], Uint8Array.from(labelValues), gz);
      const ds = await openDataset({ data, labels });
      expect(ds.length).toBe(N);
      expect(ds.sampleShape).toEqual([1, H, W]);
      expect(Array.from(ds.labels!)).toEqual(labelValues);
      const read = await readAll(ds, 4);
      expect(Array.from(read.inputs)).toEqual(Array.from(images, u8));
      expect(Array.from(read.labels!)).toEqual(labelValues);
    });

    it(`applies limit to ${kind} IDX data and labels`, async () => {
      const data = writeIdx(tmp.path(`img-lim-${kind}.idx`), 0x08, [N, H, W], images, gz);
      const labels = writeIdx(tmp.path(`lab-lim-${kind}.idx`), 0x08, [N], Uint8Array.from(labelValues), gz);
      const ds = await openDataset({ data, labels, limit: 5 });
      expect(ds.length).toBe(5);
      const read = await readAll(ds, 2);
      expect(Array.from(read.inputs)).toEqual(Array.from(images.subarray(0, 5 * H * W), u8));
      expect(Array.from(read.labels!)).toEqual(labelValues.slice(0, 5));
    });

    it(`rejects a ${kind} file shorter than its header announces, naming the file`, async () => {
      const bytes = idxBytes(0x08, [N, H, W], images).subarray(0, -7);
      const file = tmp.path(`trunc-${kind}.idx`);
      writeFileSync(file, gz ? gzipSync(bytes) : bytes);
      const err = await openDataset({ data: file }).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(new RegExp(`truncated.*${N} samples`));
    });
  }

  it('keeps 4-D IDX images as N×C×H×W and 2-D IDX data as N×D', async () => {
    const four = writeIdx(tmp.path('four.idx'), 0x08, [3, 2, 2, 2], seededBytes(24));
    expect((await openDataset({ data: four })).sampleShape).toEqual([2, 2, 2]);
    const two = writeIdx(tmp.path('two.idx'), 0x08, [3, 8], seededBytes(24));
    expect((await openDataset({ data: two })).sampleShape).toEqual([8]);
  });

  it('reads big-endian float32 IDX inputs and int32 IDX labels', async () => {
    const values = Array.from({ length: 3 * 2 * 2 }, (_, i) => Math.fround(i / 7 - 0.5));
    const data = writeIdx(tmp.path('float.idx'), 0x0d, [3, 2, 2], float32BE(values));
    const labels = writeIdx(tmp.path('int.idx'), 0x0c, [3], int32BE([2, 0, 1]));
    const ds = await openDataset({ data, labels });
    const read = await readAll(ds, 2);
    expect(Array.from(read.inputs)).toEqual(values);
    expect(Array.from(read.labels!)).toEqual([2, 0, 1]);
  });

  it('rejects negative int32 IDX labels with a LabelError naming the file', async () => {
    const data = writeIdx(tmp.path('neg-data.idx'), 0x08, [3, 2, 2], seededBytes(12));
    const labels = writeIdx(tmp.path('neg.idx'), 0x0c, [3], int32BE([2, -1, 1]));
    const err = await openDataset({ data, labels }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toContain(labels);
    expect(err.message).toMatch(/index 1 is -1/);
  });

  it('rejects float IDX labels with a DatasetError', async () => {
    const data = writeIdx(tmp.path('fl-data.idx'), 0x08, [2, 2, 2], seededBytes(8));
    const labels = writeIdx(tmp.path('fl-lab.idx'), 0x0d, [2], float32BE([1, 2]));
    const err = await openDataset({ data, labels }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/labels must be integers/);
  });

  it('rejects labels whose count differs from the images, naming both counts and files', async () => {
    const data = writeIdx(tmp.path('cnt-data.idx'), 0x08, [N, H, W], images, true);
    const labels = writeIdx(tmp.path('cnt-lab.idx'), 0x08, [N - 1], new Uint8Array(N - 1), true);
    const err = await openDataset({ data, labels }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toContain(`${N - 1} labels in ${labels}`);
    expect(err.message).toContain(`${N} samples in ${data}`);
  });

  it('rejects int16 IDX inputs as an unsupported dtype', async () => {
    const file = writeIdx(tmp.path('short.idx'), 0x0b, [2, 2], new Uint8Array(8));
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/unsupported dtype int16/);
  });

  it('rejects an unknown IDX type code in a gzipped file, naming it', async () => {
    const bytes = idxBytes(0x08, [2, 2], new Uint8Array(4));
    bytes[2] = 0x07;
    const file = tmp.path('badtype.idx.gz');
    writeFileSync(file, gzipSync(bytes));
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/unsupported IDX type code 0x07/);
  });

  it('rejects a bad magic number when the format is forced to idx', async () => {
    const file = tmp.path('badmagic.idx');
    writeFileSync(file, Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5]));
    const err = await openDataset({ data: file, format: 'idx' }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/bad magic number/);
  });

  it('rejects extra bytes after a plain IDX file\'s data', async () => {
    const file = tmp.path('extra.idx');
    writeFileSync(file, Buffer.concat([idxBytes(0x08, [2, 2], new Uint8Array(4)), Buffer.alloc(2)]));
    await expect(openDataset({ data: file })).rejects.toThrow(/2 unexpected bytes/);
  });

  it('rejects 0 images with EmptyDatasetError', async () => {
    const file = writeIdx(tmp.path('empty.idx'), 0x08, [0, 28, 28], new Uint8Array(0));
    await expect(openDataset({ data: file })).rejects.toThrow(EmptyDatasetError);
    const gz = writeIdx(tmp.path('empty.idx.gz'), 0x08, [0, 28, 28], new Uint8Array(0), true);
    await expect(openDataset({ data: gz })).rejects.toThrow(EmptyDatasetError);
  });

  it('rejects a gzip file cut short (its trailer no longer matches the header)', async () => {
    const whole = gzipSync(idxBytes(0x08, [N, H, W], images));
    const file = tmp.path('cut.idx.gz');
    writeFileSync(file, whole.subarray(0, whole.length - 12));
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(file);
  });

  it('refuses a gzipped header announcing more bytes than the compressed file can hold (a count forged by 2^30, trailer still matching) before allocating them', async () => {
    const forged = idxBytes(0x0c, [N], int32BE(labelValues));
    forged.writeUInt32BE(N + 2 ** 30, 4);
    const labels = tmp.path('forged-count.idx.gz');
    writeFileSync(labels, gzipSync(forged));
    const data = writeIdx(tmp.path('img-forged.idx'), 0x08, [N, H, W], images);
    const err = await openDataset({ data, labels }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/forged-count\.idx\.gz: its IDX header \(shape 1073741837\) announces 4294967356 bytes, but \d+ compressed bytes inflate to at most \d+/);
  });

  it('reports corrupt gzip data met while streaming as a DatasetError naming the file', async () => {
    const bytes = idxBytes(0x08, [200, 10, 10], seededBytes(20000, 9));
    const whole = Buffer.from(gzipSync(bytes, { level: 1 }));
    for (let i = 200; i < 400; i++) whole[i] = (whole[i]! * 7 + 13) & 0xff;
    const file = tmp.path('corrupt.idx.gz');
    writeFileSync(file, whole);
    const err = await (async () => readAll(await openDataset({ data: file }), 16))().catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(file);
  });
});
