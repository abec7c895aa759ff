import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { DatasetError, EmptyDatasetError, InvalidArgumentError, LabelError } from '../../lib/errors.js';
import { openDataset } from '../../lib/dataset/index.js';
import { bytesOf, npyBytes, readAll, seededBytes, tempDir, u8, writeNpy } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('.npy inputs', () => {
  it('round-trips float32 inputs unchanged, with shape (N, ...) giving the sample shape', async () => {
    const x = Float32Array.from({ length: 5 * 2 * 3 }, (_, i) => (i - 7) / 3 + 1e-7 * i);
    const file = writeNpy(tmp.path('f32.npy'), '<f4', [5, 2, 3], x);
    const ds = await openDataset({ data: file });
    expect(ds.length).toBe(5);
    expect(ds.sampleShape).toEqual([2, 3]);
    expect(ds.labels).toBeUndefined();
    expect(ds.source).toBe(file);
    const { inputs, labels } = await readAll(ds, 2);
    expect(inputs).toEqual(x);
    expect(labels).toBeUndefined();
  });

  it('rounds float64 inputs to the nearest float32', async () => {
    const x = Float64Array.from({ length: 4 * 3 }, (_, i) => Math.PI * (i - 5) + 1e-12);
    const file = writeNpy(tmp.path('f64.npy'), '<f8', [4, 3], x);
    const { inputs } = await readAll(await openDataset({ data: file }), 3);
    expect(inputs).toEqual(Float32Array.from(x, (v) => Math.fround(v)));
  });

  it('maps uint8 inputs to f32(f32(x) / 255), bit for bit, for every byte value', async () => {
    const x = Uint8Array.from({ length: 256 }, (_, i) => i);
    const file = writeNpy(tmp.path('u8.npy'), '|u1', [256], x);
    const ds = await openDataset({ data: file });
    expect(ds.sampleShape).toEqual([]);
    const { inputs } = await readAll(ds, 100);
    expect(Array.from(inputs)).toEqual(Array.from(x, u8));
    expect(inputs[255]).toBe(1);
  });

  it('reads a version 2.0 header', async () => {
    const x = seededBytes(3 * 4);
    const file = tmp.path('v2.npy');
    writeFileSync(file, npyBytes('|u1', [3, 4], x, { version: 2 }));
    const { inputs } = await readAll(await openDataset({ data: file }));
    expect(Array.from(inputs)).toEqual(Array.from(x, u8));
  });
});

describe('.npy labels', () => {
  const x = new Float32Array(6 * 2).fill(0.5);
  const data = writeNpy(tmp.path('lab-x.npy'), '<f4', [6, 2], x);
  const values = [0, 3, 1, 9, 2, 7];
  const cases: [string, string, Parameters<typeof bytesOf>[0]][] = [
    ['int64', '<i8', BigInt64Array.from(values, BigInt)],
    ['int32', '<i4', Int32Array.from(values)],
    ['int16', '<i2', Int16Array.from(values)],
    ['uint8', '|u1', Uint8Array.from(values)],
    ['int8', '|i1', Int8Array.from(values)],
    ['uint16', '<u2', Uint16Array.from(values)],
  ];
  for (const [name, descr, arr] of cases) {
    it(`round-trips ${name} labels into Int32Array, on the dataset and in each batch`, async () => {
      const labelsFile = writeNpy(tmp.path(`lab-${name}.npy`), descr, [6], arr);
      const ds = await openDataset({ data, labels: labelsFile });
      expect(Array.from(ds.labels!)).toEqual(values);
      const { labels } = await readAll(ds, 4);
      expect(Array.from(labels!)).toEqual(values);
    });
  }

  it('accepts labels of shape (N, 1)', async () => {
    const labelsFile = writeNpy(tmp.path('lab-col.npy'), '<i8', [6, 1], BigInt64Array.from(values, BigInt));
    const ds = await openDataset({ data, labels: labelsFile });
    expect(Array.from(ds.labels!)).toEqual(values);
  });

  it('rejects a negative label with a LabelError naming the file, index and value', async () => {
    const labelsFile = writeNpy(tmp.path('lab-neg.npy'), '<i8', [6], BigInt64Array.from([0, 1, 2, -4, 1, 1], BigInt));
    const err = await openDataset({ data, labels: labelsFile }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toContain(labelsFile);
    expect(err.message).toMatch(/index 3 is -4/);
  });

  it('rejects float labels with a DatasetError naming the file and dtype', async () => {
    const labelsFile = writeNpy(tmp.path('lab-float.npy'), '<f4', [6], new Float32Array(6));
    const err = await openDataset({ data, labels: labelsFile }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(labelsFile);
    expect(err.message).toMatch(/integers.*float32/);
  });

  it('rejects a labels count different from the samples count, naming both numbers and files', async () => {
    const labelsFile = writeNpy(tmp.path('lab-short.npy'), '<i8', [5], new BigInt64Array(5));
    const err = await openDataset({ data, labels: labelsFile }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toContain('5 labels');
    expect(err.message).toContain('6 samples');
    expect(err.message).toContain(labelsFile);
    expect(err.message).toContain(data);
  });

  it('rejects 2-D labels of more than one column', async () => {
    const labelsFile = writeNpy(tmp.path('lab-2d.npy'), '<i8', [6, 2], new BigInt64Array(12));
    const err = await openDataset({ data, labels: labelsFile }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/1-D.*\(6, 2\)/);
  });

  it('rejects labelsKey for a labels file that is not .npz', async () => {
    const labelsFile = writeNpy(tmp.path('lab-ok.npy'), '<i8', [6], new BigInt64Array(6));
    await expect(openDataset({ data, labels: labelsFile, labelsKey: 'y' })).rejects.toThrow(InvalidArgumentError);
  });
});

describe('.npy errors', () => {
  const expectDatasetError = async (file: string, pattern: RegExp, cls: typeof DatasetError = DatasetError) => {
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(pattern);
  };

  it('rejects a missing file with a DatasetError naming it', async () => {
    await expectDatasetError(tmp.path('nope.npy'), /not found/);
  });

  it('rejects Fortran-order arrays, naming the file', async () => {
    const file = writeNpy(tmp.path('fortran.npy'), '<f4', [2, 3], new Float32Array(6), { fortran: true });
    await expectDatasetError(file, /Fortran order/);
  });

  it('rejects big-endian multi-byte dtypes, naming the dtype', async () => {
    const file = writeNpy(tmp.path('be.npy'), '>f4', [2, 3], new Float32Array(6));
    await expectDatasetError(file, />f4.*big-endian/);
  });

  it.each([
    ['|i1', 'int8', Int8Array],
    ['<f2', 'float16', Uint16Array],
    ['|b1', 'bool', Uint8Array],
  ] as const)('rejects %s inputs as unsupported dtype %s', async (descr, name, Ctor) => {
    const file = writeNpy(tmp.path(`bad-${name}.npy`), descr, [2, 2], new Ctor(4));
    await expectDatasetError(file, new RegExp(`unsupported dtype ${name}`));
  });

  it('rejects an unknown type string, naming it', async () => {
    const file = tmp.path('complex.npy');
    writeFileSync(file, npyBytes('<c8', [2], new Uint8Array(16)));
    await expectDatasetError(file, /unsupported dtype '<c8'/);
  });

  it('rejects a structured dtype', async () => {
    const file = tmp.path('struct.npy');
    const buf = npyBytes('<f4', [2], new Uint8Array(8));
    const text = buf.toString('latin1').replace("'descr': '<f4'", "'descr': [('a','<f4')]");
    writeFileSync(file, Buffer.from(text, 'latin1'));
    await expectDatasetError(file, /structured/);
  });

  it('rejects a bad magic string', async () => {
    const file = tmp.path('magic.npy');
    const buf = npyBytes('<f4', [2], new Uint8Array(8));
    buf[1] = 0x4f;
    writeFileSync(file, buf);
    await expectDatasetError(file, /unrecognised data format/);
    const err = await openDataset({ data: file, format: 'npy' }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toBe(`${file}: not a .npy file (bad magic string)`);
  });

  it('rejects a header without a shape', async () => {
    const file = tmp.path('noshape.npy');
    const buf = npyBytes('<f4', [2], new Uint8Array(8));
    writeFileSync(file, Buffer.from(buf.toString('latin1').replace("'shape'", "'shapx'"), 'latin1'));
    await expectDatasetError(file, /bad \.npy header/);
  });

  it('rejects a truncated file, saying how many samples the header announces', async () => {
    const file = tmp.path('trunc.npy');
    writeFileSync(file, npyBytes('<f4', [10, 3], new Uint8Array(10 * 3 * 4)).subarray(0, -5));
    await expectDatasetError(file, /truncated.*10 samples/);
  });

  it('rejects bytes after the announced data', async () => {
    const file = tmp.path('long.npy');
    writeFileSync(file, Buffer.concat([npyBytes('<f4', [2], new Uint8Array(8)), Buffer.alloc(3)]));
    await expectDatasetError(file, /3 unexpected bytes/);
  });

  it('rejects an array of 0 samples with EmptyDatasetError', async () => {
    const file = writeNpy(tmp.path('empty.npy'), '<f4', [0, 3], new Float32Array(0));
    await expectDatasetError(file, /no samples/, EmptyDatasetError);
  });

  it('rejects a scalar array (no sample axis)', async () => {
    const file = writeNpy(tmp.path('scalar.npy'), '<f4', [], new Float32Array(1));
    await expectDatasetError(file, /scalar/);
  });

  it('rejects an empty file', async () => {
    const file = tmp.path('zero-bytes.npy');
    writeFileSync(file, Buffer.alloc(0));
    await expectDatasetError(file, /empty file/);
  });

  it('rejects a directory given as data', async () => {
    await expectDatasetError(tmp.dir, /directory/);
  });
});
