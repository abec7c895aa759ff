import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DatasetError, InvalidArgumentError, LabelError } from '../../lib/errors.js';
import { openDataset } from '../../lib/dataset/index.js';
import { bytesOf, forgeZipSizes, npyBytes, readAll, seededBytes, tempDir, u8, writeNpy, zipBytes } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const N = 23;
const x = seededBytes(N * 2 * 3 * 3, 7);
const xf = Float32Array.from({ length: N * 4 }, (_, i) => Math.sin(i) * 10);
const y = BigInt64Array.from({ length: N }, (_, i) => BigInt((i * 7) % 10));
const expectedX = Array.from(x, u8);
const expectedY = Array.from(y, Number);

const xNpy = npyBytes('|u1', [N, 2, 3, 3], x);
const xfNpy = npyBytes('<f4', [N, 4], bytesOf(xf));
const yNpy = npyBytes('<i8', [N], bytesOf(y));

async function writeZip(name: string, entries: Parameters<typeof zipBytes>[0]): Promise<string> {
  const file = tmp.path(name);
  writeFileSync(file, await zipBytes(entries));
  return file;
}

const files: Record<string, string> = {};
beforeAll(async () => {
  for (const [label, compress, zip64] of [
    ['stored', false, false],
    ['deflated', true, false],
    ['stored-zip64', false, true],
    ['deflated-zip64', true, true],
  ] as const) {
    files[label] = await writeZip(`${label}.npz`, [
      { name: 'x.npy', bytes: xNpy, compress, zip64 },
      { name: 'y.npy', bytes: yNpy, compress, zip64 },
      { name: 'xf.npy', bytes: xfNpy, compress, zip64 },
    ]);
  }
  files.single = await writeZip('single.npz', [{ name: 'arr_0.npy', bytes: xNpy, compress: true }]);
  files.labelsOnly = await writeZip('labels.npz', [{ name: 'y.npy', bytes: yNpy, compress: false }]);
});

describe('.npz archives', () => {
  for (const label of ['stored', 'deflated', 'stored-zip64', 'deflated-zip64']) {
    it(`round-trips uint8 inputs and int64 labels from ${label} entries picked by key and labelsKey`, async () => {
      const ds = await openDataset({ data: files[label]!, key: 'x', labelsKey: 'y' });
      expect(ds.length).toBe(N);
      expect(ds.sampleShape).toEqual([2, 3, 3]);
      expect(ds.source).toBe(`${files[label]} [x.npy]`);
      expect(Array.from(ds.labels!)).toEqual(expectedY);
      const { inputs, labels } = await readAll(ds, 5);
      expect(Array.from(inputs)).toEqual(expectedX);
      expect(Array.from(labels!)).toEqual(expectedY);
    });

    it(`round-trips float32 inputs from ${label} entries`, async () => {
      const ds = await openDataset({ data: files[label]!, key: 'xf.npy' });
      expect(ds.sampleShape).toEqual([4]);
      const { inputs } = await readAll(ds, 6);
      expect(inputs).toEqual(xf);
    });
  }

  it('reads the only array of an archive when no key is given', async () => {
    const ds = await openDataset({ data: files.single! });
    expect(ds.length).toBe(N);
    expect(Array.from((await readAll(ds, 50)).inputs)).toEqual(expectedX);
  });

  it('reads labels from a separate .npz (its only array, or by labelsKey)', async () => {
    const a = await openDataset({ data: files.single!, labels: files.labelsOnly! });
    expect(Array.from(a.labels!)).toEqual(expectedY);
    const b = await openDataset({ data: files.single!, labels: files.deflated!, labelsKey: 'y' });
    expect(Array.from(b.labels!)).toEqual(expectedY);
  });

  it('applies limit to stored and deflated entries alike', async () => {
    for (const label of ['stored', 'deflated']) {
      const ds = await openDataset({ data: files[label]!, key: 'x', labelsKey: 'y', limit: 9 });
      expect(ds.length).toBe(9);
      const { inputs, labels } = await readAll(ds, 4);
      expect(Array.from(inputs)).toEqual(expectedX.slice(0, 9 * 18));
      expect(Array.from(labels!)).toEqual(expectedY.slice(0, 9));
    }
  });

  it('gives an error listing the keys when several arrays are present and no key is given', async () => {
    const err = await openDataset({ data: files.stored! }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(files.stored);
    expect(err.message).toMatch(/several arrays \('x', 'y', 'xf'\).*'key'/);
  });

  it('gives an error listing the keys when the key is absent', async () => {
    const err = await openDataset({ data: files.stored!, key: 'z' }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/no array 'z'.*'x', 'y', 'xf'/);
    const err2 = await openDataset({ data: files.single!, labelsKey: 'labels' }).catch((e) => e);
    expect(err2).toBeInstanceOf(DatasetError);
    expect(err2.message).toMatch(/no array 'labels'.*'arr_0'/);
  });

  it('names the labelsKey option when a labels archive is ambiguous', async () => {
    const err = await openDataset({ data: files.single!, labels: files.stored! }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/'labelsKey'/);
  });

  it('rejects a labels count different from the samples count', async () => {
    const err = await openDataset({ data: files.stored!, key: 'x', labels: writeNpy(tmp.path('y3.npy'), '<i8', [3], new BigInt64Array(3)) }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toMatch(/3 labels.*23 samples/);
  });

  it('rejects key for data that is not .npz', async () => {
    const file = writeNpy(tmp.path('plain.npy'), '<f4', [2], new Float32Array(2));
    await expect(openDataset({ data: file, key: 'x' })).rejects.toThrow(InvalidArgumentError);
    await expect(openDataset({ data: file, labelsKey: 'y' })).rejects.toThrow(InvalidArgumentError);
  });

  it('rejects an archive without .npy entries', async () => {
    const file = await writeZip('none.npz', [{ name: 'readme.txt', bytes: Buffer.from('hi'), compress: false }]);
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/no arrays/);
  });

  it('rejects a truncated archive, naming the file', async () => {
    const whole = await zipBytes([{ name: 'x.npy', bytes: xNpy, compress: false }]);
    const file = tmp.path('trunc.npz');
    writeFileSync(file, whole.subarray(0, whole.length - 30));
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/not a valid \.npz/);
  });

  it('rejects an entry whose .npy header announces more data than the entry holds', async () => {
    const short = Buffer.concat([npyBytes('|u1', [N + 5, 2, 3, 3], x)]);
    for (const compress of [false, true]) {
      const file = await writeZip(`short-${compress}.npz`, [{ name: 'x.npy', bytes: short, compress }]);
      const err = await openDataset({ data: file }).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect(err.message).toContain(`${file} [x.npy]`);
      expect(err.message).toMatch(/truncated/);
    }
  });

  it('refuses a deflated entry whose announced size its compressed bytes cannot hold (forged to 4 GiB) before allocating it', async () => {
    const huge = 2 ** 32 - 16;
    const header = npyBytes('<i8', [(huge - 128) / 8], new Uint8Array(0));
    expect(header.length).toBe(128);
    const file = tmp.path('forged-size.npz');
    writeFileSync(file, forgeZipSizes(await zipBytes([{ name: 'y.npy', bytes: Buffer.concat([header, Buffer.from(bytesOf(y))]), compress: true }]), { uncompressed: huge }));
    const err = await openDataset({ data: files.single!, labels: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/forged-size\.npz \[y\.npy\]: the zip entry announces 4294967280 bytes, but \d+ compressed bytes inflate to at most \d+/);
  });

  it('rejects an unsupported dtype inside an archive, naming the entry', async () => {
    const file = await writeZip('int.npz', [{ name: 'x.npy', bytes: npyBytes('|i1', [2], new Uint8Array(2)), compress: true }]);
    const err = await openDataset({ data: file }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/\[x\.npy\].*unsupported dtype int8/);
  });

  it('rejects corrupt deflate data with a DatasetError when reading', async () => {
    const whole = await zipBytes([{ name: 'x.npy', bytes: xNpy, compress: true }]);
    // Damage the compressed bytes after the header region so that opening succeeds or fails cleanly.
    const damaged = Buffer.from(whole);
    const dataStart = 30 + 'x.npy'.length;
    for (let i = dataStart + 40; i < dataStart + 200 && i < damaged.length - 100; i++) damaged[i] = 0xff;
    const file = tmp.path('corrupt.npz');
    writeFileSync(file, damaged);
    const err = await (async () => {
      const ds = await openDataset({ data: file });
      await readAll(ds, 4);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toContain(`${file} [x.npy]`);
    expect(err.message).toMatch(/corrupt deflate data/);
  });
});
