import { closeSync, openSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { CancelledError, DatasetError, InvalidArgumentError, LabelError } from '../../lib/errors.js';
import { checkLabels, openDataset, type Batch } from '../../lib/dataset/index.js';
import { bytesOf, collect, idxBytes, norm32, npyBytes, readAll, seededBytes, tempDir, u8, writeNpy } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const N = 23;
const D = 6;
const xs = seededBytes(N * D, 11);
const data = writeNpy(tmp.path('x.npy'), '|u1', [N, D], xs);
const labelValues = Array.from({ length: N }, (_, i) => i % 4);
const labels = writeNpy(tmp.path('y.npy'), '<i8', [N], BigInt64Array.from(labelValues, BigInt));

describe('batches', () => {
  it.each([1, 2, 5, 7, 22, 23, 24, 100])(
    'with batch size %i cover every sample exactly once, in order, the last batch partial',
    async (batchSize) => {
      const ds = await openDataset({ data, labels });
      const batches = await collect(ds, batchSize);
      expect(batches.length).toBe(Math.ceil(N / batchSize));
      let next = 0;
      batches.forEach((b, i) => {
        expect(b.index).toBe(i);
        expect(b.start).toBe(next);
        expect(b.size).toBe(Math.min(batchSize, N - next));
        expect(b.inputs.length).toBe(b.size * D);
        expect(Array.from(b.inputs as Float32Array)).toEqual(Array.from(xs.subarray(next * D, (next + b.size) * D), u8));
        expect(Array.from(b.labels!)).toEqual(labelValues.slice(next, next + b.size));
        next += b.size;
      });
      expect(next).toBe(N);
    },
  );

  it('yields fresh arrays: an earlier batch is unchanged after later batches are read', async () => {
    const ds = await openDataset({ data, labels });
    const it1 = ds.batches(4);
    const first = (await it1.next()).value as Batch;
    const copy = { inputs: Float32Array.from(first.inputs as Float32Array), labels: Int32Array.from(first.labels!) };
    for await (const _ of it1) {
      // drain
    }
    expect(first.inputs).toEqual(copy.inputs);
    expect(first.labels).toEqual(copy.labels);
    first.labels![0] = 99;
    expect(ds.labels![0]).toBe(labelValues[0]);
  });

  it('starts an independent pass on each call, also after breaking out of a loop', async () => {
    const ds = await openDataset({ data });
    for await (const b of ds.batches(5)) {
      expect(b.index).toBe(0);
      break;
    }
    const a = ds.batches(3);
    const b = ds.batches(3);
    expect(((await a.next()).value as Batch).start).toBe(0);
    expect(((await a.next()).value as Batch).start).toBe(3);
    expect(((await b.next()).value as Batch).start).toBe(0);
    await a.return?.();
    await b.return?.();
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, '4' as unknown as number])(
    'rejects batch size %s with InvalidArgumentError at call time',
    async (bad) => {
      const ds = await openDataset({ data });
      expect(() => ds.batches(bad)).toThrow(InvalidArgumentError);
    },
  );

  it('throws CancelledError when the signal is already aborted', async () => {
    const ds = await openDataset({ data });
    const ac = new AbortController();
    ac.abort();
    await expect(collect_(ds.batches(4, { signal: ac.signal }))).rejects.toThrow(CancelledError);
  });

  it('throws CancelledError at the next batch after the signal is aborted mid-iteration', async () => {
    const ds = await openDataset({ data });
    const ac = new AbortController();
    const seen: number[] = [];
    const err = await (async () => {
      for await (const b of ds.batches(4, { signal: ac.signal })) {
        seen.push(b.index);
        if (b.index === 1) ac.abort();
      }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.message).toContain(data);
    expect(seen).toEqual([0, 1]);
  });

  it('reads only the batches asked for from a file far larger than memory (3 GiB sparse .npy)', async () => {
    // The header announces 3 GiB of data; the file is sparse, so it costs no disk. Reading the
    // whole file would fail (beyond fs.readFile's 2 GiB limit); positioned reads do not.
    const file = tmp.path('huge.npy');
    const rows = 3 * 2 ** 20;
    const header = npyBytes('|u1', [rows, 1024], new Uint8Array(0));
    const fd = openSync(file, 'w');
    writeSync(fd, header);
    writeSync(fd, Uint8Array.from([255, 128]), 0, 2, header.length);
    ftruncateSync(fd, header.length + rows * 1024);
    closeSync(fd);
    const ds = await openDataset({ data: file });
    expect(ds.length).toBe(rows);
    let count = 0;
    for await (const b of ds.batches(64)) {
      if (count === 0) expect([b.inputs[0], b.inputs[1], b.inputs[2]]).toEqual([1, u8(128), 0]);
      if (++count === 3) break;
    }
    expect(count).toBe(3);
  });
});

async function collect_(it: AsyncIterableIterator<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('limit', () => {
  it('keeps the first N samples and labels', async () => {
    const ds = await openDataset({ data, labels, limit: 10 });
    expect(ds.length).toBe(10);
    expect(Array.from(ds.labels!)).toEqual(labelValues.slice(0, 10));
    const { inputs, labels: l } = await readAll(ds, 4);
    expect(Array.from(inputs)).toEqual(Array.from(xs.subarray(0, 10 * D), u8));
    expect(Array.from(l!)).toEqual(labelValues.slice(0, 10));
  });

  it('larger than the dataset keeps every sample', async () => {
    const ds = await openDataset({ data, labels, limit: 1000 });
    expect(ds.length).toBe(N);
  });

  it.each([0, -3, 2.5, Number.NaN, '5' as unknown as number])('rejects limit %s with InvalidArgumentError', async (bad) => {
    await expect(openDataset({ data, limit: bad })).rejects.toThrow(InvalidArgumentError);
  });
});

describe('normalization', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const gray = writeNpy(tmp.path('gray.npy'), '|u1', [256, 1, 1, 1], all);

  it('matches numpy float32 results for uint8 data (golden bits from numpy 2)', async () => {
    // numpy: ((x.astype(np.float32) / 255) - np.float32(0.2860)) / np.float32(0.3530)
    const golden: [number, number][] = [
      [0, 0xbf4f6929], [1, 0xbf4c911b], [37, 0xbecc5e24], [127, 0x3f19c603],
      [128, 0x3f1c9e13], [200, 0x3fb4b111], [254, 0x4000bd4c], [255, 0x4001734f],
    ];
    const ds = await openDataset({ data: gray, normalize: { mean: [0.286], std: [0.353] } });
    const { inputs } = await readAll(ds, 100);
    const bits = new Uint32Array(inputs.buffer);
    for (const [x, b] of golden) expect(bits[x]!.toString(16)).toBe(b.toString(16));
  });

  it('of uint8 data is bit-identical to the step-by-step float32 computation for random mean/std', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.double({ min: 0.01, max: 10, noNaN: true }),
        async (mean, std) => {
          const ds = await openDataset({ data: gray, normalize: { mean: [mean], std: [std] } });
          const { inputs } = await readAll(ds, 256);
          for (let x = 0; x < 256; x++) {
            if (!Object.is(inputs[x], norm32(u8(x), mean, std))) return false;
          }
          return true;
        },
      ),
      { numRuns: 25 },
    );
  });

  it('of float32 and float64 data applies f32(f32(v - mean) / std) to the float32 value', async () => {
    const values = Float64Array.from({ length: 4 * 3 * 2 }, (_, i) => Math.tan(i + 0.3) * 3);
    const mean = [0.1, -0.7, 1 / 3];
    const std = [0.9, 2.2, 1e-3];
    const f32 = Float32Array.from(values);
    const files = [
      writeNpy(tmp.path('nf32.npy'), '<f4', [4, 3, 2], f32),
      writeNpy(tmp.path('nf64.npy'), '<f8', [4, 3, 2], values),
    ];
    const expected = Array.from(f32, (v, i) => norm32(v, mean[Math.floor(i / 2) % 3]!, std[Math.floor(i / 2) % 3]!));
    for (const file of files) {
      const { inputs } = await readAll(await openDataset({ data: file, normalize: { mean, std } }), 3);
      expect(Array.from(inputs)).toEqual(expected);
    }
  });

  it('applies a single mean/std to every channel, and mixes single and per-channel values', async () => {
    const x = seededBytes(2 * 3 * 4, 5);
    const file = writeNpy(tmp.path('three.npy'), '|u1', [2, 3, 4], x);
    const { inputs } = await readAll(await openDataset({ data: file, normalize: { mean: [0.5], std: [0.25, 0.5, 2] } }), 2);
    expect(Array.from(inputs)).toEqual(Array.from(x, (v, i) => norm32(u8(v), 0.5, [0.25, 0.5, 2][Math.floor(i / 4) % 3]!)));
  });

  it('rejects a mean or std whose length is neither 1 nor the channel count, naming the file', async () => {
    const file = writeNpy(tmp.path('ch3.npy'), '|u1', [2, 3, 4], new Uint8Array(24));
    const err = await openDataset({ data: file, normalize: { mean: [0.1, 0.2], std: [1] } }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/normalize\.mean has 2 values.*3 channels/);
    expect(err.message).toContain(file);
  });

  it.each([
    [{ mean: [], std: [1] }, /non-empty/],
    [{ mean: [0], std: [0] }, /std\[0\].*0 in float32/],
    [{ mean: [Number.NaN], std: [1] }, /finite/],
    [{ mean: [0] } as unknown as { mean: number[]; std: number[] }, /std/],
  ])('rejects the invalid normalization %j', async (normalize, pattern) => {
    await expect(openDataset({ data, normalize })).rejects.toThrow(pattern);
    await expect(openDataset({ data, normalize })).rejects.toThrow(InvalidArgumentError);
  });
});

describe('openDataset options', () => {
  it('rejects an empty data list and several files for formats other than CIFAR-10', async () => {
    await expect(openDataset({ data: [] })).rejects.toThrow(InvalidArgumentError);
    await expect(openDataset({ data: [data, data] })).rejects.toThrow(/only read as CIFAR-10/);
  });

  it('rejects an unknown format name', async () => {
    await expect(openDataset({ data, format: 'csv' as 'npy' })).rejects.toThrow(InvalidArgumentError);
  });

  it('rejects a missing labels file, naming it', async () => {
    const missing = tmp.path('missing-labels.npy');
    const err = await openDataset({ data, labels: missing }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toBe(`${missing}: file not found`);
  });

  it('rejects a labels file of unknown format', async () => {
    const file = tmp.path('labels.txt');
    writeFileSync(file, '1\n2\n');
    await expect(openDataset({ data, labels: file })).rejects.toThrow(/unrecognised labels format/);
  });

  it('detects IDX data by content, whatever its name', async () => {
    const file = tmp.path('images.dat');
    writeFileSync(file, idxBytes(0x08, [2, 3], bytesOf(Uint8Array.from([0, 51, 102, 153, 204, 255]))));
    const { inputs } = await readAll(await openDataset({ data: file }));
    expect(Array.from(inputs)).toEqual([0, 51, 102, 153, 204, 255].map(u8));
  });
});

describe('checkLabels', () => {
  it('accepts labels in [0, numClasses)', () => {
    expect(() => checkLabels(Int32Array.from([0, 9, 3]), 10, 'y.npy')).not.toThrow();
  });

  it('names the first out-of-range index and value and the source', () => {
    let err: unknown;
    try {
      checkLabels(Int32Array.from([0, 1, 10, 12, -1]), 10, 'y.npy');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabelError);
    expect((err as Error).message).toBe('y.npy: label 10 at index 2 is outside [0, 10) (10 classes)');
    expect(() => checkLabels(Int32Array.from([3, -1]), 10, 'z')).toThrow(/label -1 at index 1/);
  });

  it('rejects a numClasses that is not a positive integer', () => {
    expect(() => checkLabels(new Int32Array(1), 0, 'y')).toThrow(InvalidArgumentError);
    expect(() => checkLabels(new Int32Array(1), 2.5, 'y')).toThrow(InvalidArgumentError);
  });
});
