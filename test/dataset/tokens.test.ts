import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset, type Batch, type Dataset } from '../../lib/dataset/index.js';
import { DatasetError, InvalidArgumentError, LabelError, UnknownOptionError } from '../../lib/errors.js';
import { tempDir, writeNpy } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function batches(ds: Dataset, size: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of ds.batches(size)) out.push(b);
  return out;
}

const ids = (b: Batch[]): number[] => b.flatMap((x) => Array.from(x.inputs as BigInt64Array, Number));
const labels = (b: Batch[]): number[] => b.flatMap((x) => Array.from(x.labels!));

/** A flat uint16 token file holding 1000, 1001, … (n tokens). */
function flatFile(name: string, n: number): string {
  const file = tmp.path(name);
  writeFileSync(file, new Uint8Array(Uint16Array.from({ length: n }, (_, i) => 1000 + i).buffer));
  return file;
}

describe('a flat token file (--tokens, --dtype, --context)', () => {
  it('cuts non-overlapping windows of T + 1 tokens: inputs the first T, labels the last T, the remainder left out', async () => {
    const file = flatFile('val.bin', 3 * 5 + 4);
    const ds = await openDataset({ tokens: file, dtype: 'uint16', context: 4 });
    expect(ds.length).toBe(3);
    expect(ds.sampleShape).toEqual([4]);
    expect(ds.labelShape).toEqual([4]);
    expect(ds.inputType).toBe('int64');
    const got = await batches(ds, 2);
    expect(got.map((b) => b.size)).toEqual([2, 1]);
    expect(got[0]!.inputs).toBeInstanceOf(BigInt64Array);
    expect(ids(got)).toEqual([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1010, 1011, 1012, 1013]);
    expect(labels(got)).toEqual([1001, 1002, 1003, 1004, 1006, 1007, 1008, 1009, 1011, 1012, 1013, 1014]);
  });

  it('--limit counts windows', async () => {
    const ds = await openDataset({ tokens: flatFile('limit.bin', 50), dtype: 'uint16', context: 4, limit: 2 });
    expect(ds.length).toBe(2);
    expect(labels(await batches(ds, 8))).toEqual([1001, 1002, 1003, 1004, 1006, 1007, 1008, 1009]);
  });

  it('reads int32 and int64 token files in little-endian order', async () => {
    const file = tmp.path('val64.bin');
    writeFileSync(file, new Uint8Array(BigInt64Array.from([7n, 8n, 9n, 70000n, 5n, 6n]).buffer));
    const got = await batches(await openDataset({ tokens: file, dtype: 'int64', context: 2 }), 4);
    expect(ids(got)).toEqual([7, 8, 70000, 5]);
    expect(labels(got)).toEqual([8, 9, 5, 6]);
  });

  it('a context larger than the file is a DatasetError naming the file and the counts', async () => {
    const err = await openDataset({ tokens: flatFile('short.bin', 10), dtype: 'uint16', context: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/short\.bin: context 10 needs windows of 11 tokens, but the file holds 10 uint16 tokens/);
  });

  it('a file that is not a whole number of tokens is a DatasetError', async () => {
    const file = tmp.path('odd.bin');
    writeFileSync(file, new Uint8Array(9));
    const err = await openDataset({ tokens: file, dtype: 'int32', context: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/odd\.bin: 9 bytes is not a whole number of int32 tokens/);
  });

  it.each([
    [{ dtype: 'uint16' }, /give the context/],
    [{ context: 4 }, /give its dtype \(uint16, int32, int64\)/],
    [{ dtype: 'float32', context: 4 }, /dtype must be 'uint16' or 'int32' or 'int64', got 'float32'/],
    [{ dtype: 'uint16', context: 0 }, /context must be a positive integer, got 0/],
    [{ dtype: 'uint16', context: 4, labels: 'y.npy' }, /labels does not apply to a flat token file/],
    [{ dtype: 'uint16', context: 4, normalize: { mean: [0], std: [1] } }, /normalize does not apply to a flat token file/],
    [{ dtype: 'uint16', context: 4, data: 'x.npy' }, /give data or tokens, not both/],
  ])('refuses bad token-file options %j with an InvalidArgumentError', async (extra, message) => {
    const err = await openDataset({ tokens: flatFile('opts.bin', 20), ...(extra as object) }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(message);
  });

  it('refuses dtype and context without a token file, and unknown keys by name', async () => {
    const x = writeNpy(tmp.path('x.npy'), '<i8', [2, 3], new BigInt64Array(6));
    await expect(openDataset({ data: x, context: 3 })).rejects.toThrow(/context applies only to a flat token file/);
    await expect(openDataset({ data: x, ignore_index: 3 } as never)).rejects.toBeInstanceOf(UnknownOptionError);
  });
});

describe('integer .npy / .npz token ids', () => {
  it.each([
    ['<u2', 'uint16', Uint16Array.from([65535, 0, 1, 2, 3, 40000])],
    ['<i4', 'int32', Int32Array.from([65535, 0, 1, 2, 3, 40000])],
    ['<i8', 'int64', BigInt64Array.from([65535n, 0n, 1n, 2n, 3n, 40000n])],
  ] as const)('%s (%s) ids flow unchanged into int64 (no /255, no normalization)', async (descr, _name, values) => {
    const ds = await openDataset({ data: writeNpy(tmp.path(`ids-${descr.slice(1)}.npy`), descr, [2, 3], values) });
    expect(ds.inputType).toBe('int64');
    expect(ids(await batches(ds, 1))).toEqual([65535, 0, 1, 2, 3, 40000]);
  });

  it('next-token labels are the ids shifted by one, the last position the ignore index', async () => {
    const x = writeNpy(tmp.path('nt.npy'), '<i8', [2, 3], BigInt64Array.from([5n, 6n, 7n, 8n, 9n, 10n]));
    expect(labels(await batches(await openDataset({ data: x, labels: 'next-token' }), 2))).toEqual([6, 7, -100, 9, 10, -100]);
    expect(labels(await batches(await openDataset({ data: x, labels: 'next-token', ignoreIndex: -1, limit: 1 }), 2))).toEqual([6, 7, -1]);
  });

  it('N×T labels keep the ignore index and are sliced per batch', async () => {
    const x = writeNpy(tmp.path('x3.npy'), '<i4', [3, 2], Int32Array.from([1, 2, 3, 4, 5, 6]));
    const y = writeNpy(tmp.path('y3.npy'), '<i8', [3, 2], BigInt64Array.from([2n, -100n, 4n, 5n, -100n, 0n]));
    const got = await batches(await openDataset({ data: x, labels: y }), 2);
    expect(got.map((b) => Array.from(b.labels!))).toEqual([[2, -100, 4, 5], [-100, 0]]);
  });

  it('labels whose T differs from the inputs are a LabelError naming both files', async () => {
    const x = writeNpy(tmp.path('xt.npy'), '<i8', [2, 4], new BigInt64Array(8));
    const y = writeNpy(tmp.path('yt.npy'), '<i8', [2, 3], new BigInt64Array(6));
    const err = await openDataset({ data: x, labels: y }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toMatch(/yt\.npy: labels of shape \(2, 3\) but .*xt\.npy has 4 positions per sample .*T must match/);
  });

  it('negative labels other than the ignore index are a LabelError', async () => {
    const x = writeNpy(tmp.path('xn.npy'), '<i8', [1, 2], new BigInt64Array(2));
    const y = writeNpy(tmp.path('yn.npy'), '<i8', [1, 2], BigInt64Array.from([-100n, -5n]));
    await expect(openDataset({ data: x, labels: y })).rejects.toThrow(/yn\.npy: label at index 1 is -5; labels must be integers ≥ 0 or the ignore index -100/);
  });

  it('normalization of integer data is an InvalidArgumentError', async () => {
    const x = writeNpy(tmp.path('xm.npy'), '<u2', [1, 2], new Uint16Array(2));
    const err = await openDataset({ data: x, normalize: { mean: [0.5], std: [0.2] } }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/xm\.npy holds token ids \(uint16\), which are fed unchanged: drop the normalization/);
  });

  it('token ids of another rank than N×T are a DatasetError', async () => {
    const x = writeNpy(tmp.path('x3d.npy'), '<i8', [1, 2, 2], new BigInt64Array(4));
    await expect(openDataset({ data: x })).rejects.toThrow(/token ids must be an N×T array, got shape \(1, 2, 2\)/);
  });
});
