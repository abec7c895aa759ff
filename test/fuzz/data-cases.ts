/**
 * Malformed data and label files, generated with a seeded generator: .npy (bad magic, headers,
 * dtypes, shapes, truncated or trailing data, NaN and Inf), .npz (broken zips, missing, several
 * or corrupt entries), IDX plain and gzipped (bad magic, type codes, dims, truncation, corrupt
 * streams) and CIFAR-10 batches (partial records, bad labels), each run through lmc, analyze or
 * activation matching.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../lib/align/random.js';
import { floatValueInfo } from '../../lib/onnx/graph.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { AttributeType, DataType, decodeModelProto, int64s, newModel, newTensor, shapeDims, tensorType } from '../../lib/onnx/proto.js';
import { cifarBytes, float32BE, forgeZipSizes, idxBytes, int32BE, npyBytes, seededBytes, zipBytes } from '../dataset/helpers.js';
import { fixture } from '../helpers.js';
import { DATA_COMMANDS, dataCommand, type DataCommand } from './commands.js';
import type { FuzzCase } from './harness.js';
import type { Workspace } from './workspace.js';

const N = 16;
/** --limit of every data case: the hostile values sit among the samples read. */
const LIMIT = 8;
const NONFINITE = 'NaN or Inf among the model inputs';
const FASHION = [1, 28, 28];
const PIXELS = 784;

/** A CNN fixture whose input dims are all symbolic, so any 4-D data passes the shape check and only onnxruntime can refuse it. */
function symbolicInput(name: string): Uint8Array {
  const model = decodeModelProto(readFileSync(fixture('models', name)));
  tensorType(model.graph!.input![0])!.shape!.dim = shapeDims(['batch', 'c', 'h', 'w']);
  return encodeModel(model);
}

/** Flatten + Gemm (3072 → 10) on 3×32×32 inputs, seeded weights: a pair that takes CIFAR-10 batches. */
function cifarModel(seed: number): Uint8Array {
  const rng = new Rng(seed);
  const weights = Float32Array.from({ length: 10 * 3072 }, () => rng.next() / 2 ** 32 - 0.5);
  const tensor = (name: string, dims: number[], values: Float32Array<ArrayBuffer>) =>
    newTensor({ name, dims: int64s(dims), dataType: DataType.FLOAT, rawData: new Uint8Array(values.buffer) });
  return encodeModel(
    newModel({
      irVersion: 7n,
      opsetImport: [{ domain: '', version: 13n }],
      graph: {
        name: 'cifar-linear',
        node: [
          { name: '/flatten/Flatten', opType: 'Flatten', input: ['input'], output: ['flat'], attribute: [{ name: 'axis', type: AttributeType.INT, i: 1n }] },
          { name: '/fc/Gemm', opType: 'Gemm', input: ['flat', 'fc.weight', 'fc.bias'], output: ['logits'], attribute: [{ name: 'transB', type: AttributeType.INT, i: 1n }] },
        ],
        initializer: [tensor('fc.weight', [10, 3072], weights), tensor('fc.bias', [10], new Float32Array(10))],
        input: [floatValueInfo('input', ['batch', 3, 32, 32])],
        output: [floatValueInfo('logits', ['batch', 10])],
      },
    }),
  );
}

const f32 = (values: ArrayLike<number>): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
const f64 = (values: ArrayLike<number>): Uint8Array => new Uint8Array(Float64Array.from(values).buffer);
const i64 = (values: ArrayLike<number>): Uint8Array => new Uint8Array(BigInt64Array.from(Array.from(values), (v) => BigInt(v)).buffer);

/** An .npy header with a free-form dict (for headers numpy would never write). */
function rawNpy(dict: string, data: Uint8Array, version = 1): Buffer {
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0, 0, 0]);
  prefix.writeUInt16LE(dict.length, 8);
  return Buffer.concat([prefix, Buffer.from(dict, 'latin1'), data]);
}

interface DataCase {
  name: string;
  /** Writes the files into the case's directory; returns the data options. */
  build(dir: string, ws: Workspace): Promise<string[]> | string[];
  mustRefuse?: string;
  /** The models: the Fashion-MNIST MLPs (default), the CIFAR-shaped pair, or the CNN pair with every input dim symbolic. */
  models?: 'fashion' | 'cifar' | 'symbolic';
  commands?: readonly DataCommand[];
}

/** The hostile data files, drawn from `rng`. */
function hostileData(rng: Rng): DataCase[] {
  const cases: DataCase[] = [];
  const pixels = (n: number) => Float32Array.from({ length: n * PIXELS }, () => rng.next() / 2 ** 32);
  const labels = (n: number) => Array.from({ length: n }, () => rng.below(10));
  /** Data `bytes` as x.npy (or another name) with valid labels beside it. */
  const data = (name: string, file: string, bytes: () => Uint8Array, extra: Partial<DataCase> = {}): void => {
    cases.push({
      name,
      build: (dir, ws) => ['--data', ws.file(dir, file, bytes()), '--labels', ws.file(dir, 'y.npy', npyBytes('<i8', [N], i64(labels(N)))), '--limit', String(LIMIT)],
      ...extra,
    });
  };
  /** Valid data with labels `bytes`. */
  const labelled = (name: string, file: string, bytes: () => Uint8Array | Promise<Uint8Array>, extra: Partial<DataCase> = {}): void => {
    cases.push({
      name,
      build: async (dir, ws) => ['--data', ws.file(dir, 'x.npy', npyBytes('<f4', [N, ...FASHION], f32(pixels(N)))), '--labels', ws.file(dir, file, await bytes())],
      commands: ['lmc', 'analyze', 'layerwise', 'merge', 'series'],
      ...extra,
    });
  };
  const good = () => f32(pixels(N));

  data('npy: a valid file (a control)', 'x.npy', () => npyBytes('<f4', [N, ...FASHION], good()));
  data('npy: bad magic', 'x.npy', () => Buffer.concat([Buffer.from('\x93NUMPX\x01\x00'), seededBytes(200, rng.next())]));
  data('npy: a header length of 65535 in a short file', 'x.npy', () => Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0xff, 0xff, 0x7b]));
  data('npy: format version 9', 'x.npy', () => { const b = npyBytes('<f4', [N, ...FASHION], good()); b[6] = 9; return b; });
  data('npy: version 2 with a 4 GiB header length', 'x.npy', () => { const b = npyBytes('<f4', [N, ...FASHION], good(), { version: 2 }); b.writeUInt32LE(0xffffffff, 8); return b; });
  data('npy: a header of random bytes', 'x.npy', () => rawNpy(Buffer.from(seededBytes(118, rng.next())).toString('latin1') + '\n', good()));
  data('npy: a header without descr', 'x.npy', () => rawNpy(`{'fortran_order': False, 'shape': (${N}, 1, 28, 28), }`.padEnd(117) + '\n', good()));
  const itemsize: Record<string, number> = { '<c8': 8, '>f4': 4, '<i8': 8 };
  for (const [descr, size] of Object.entries(itemsize)) {
    const numeric = descr !== '<c8';
    data(`npy: dtype ${descr}`, 'x.npy', () => npyBytes(descr, [N, ...FASHION], seededBytes(N * PIXELS * size, rng.next())), numeric ? {} : { mustRefuse: 'not a numeric dtype' });
  }
  data('npy: Fortran order', 'x.npy', () => npyBytes('<f4', [N, ...FASHION], good(), { fortran: true }), { mustRefuse: 'Fortran order' });
  data('npy: a negative dim', 'x.npy', () => rawNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': (-${N}, 1, 28, 28), }`.padEnd(117) + '\n', good()), { mustRefuse: 'negative dim' });
  data('npy: 2^40 samples in a small file', 'x.npy', () => npyBytes('<f4', [2 ** 40, ...FASHION], good()), { mustRefuse: 'truncated' });
  data('npy: dims whose product overflows 2^53', 'x.npy', () => npyBytes('<f4', [2 ** 30, 2 ** 30, 2 ** 30, 28], good()), { mustRefuse: 'truncated' });
  data('npy: a huge sample shape', 'x.npy', () => npyBytes('<f4', [N, 1, 2 ** 31, 2 ** 31], good()), { mustRefuse: 'truncated' });
  data('npy: data truncated', 'x.npy', () => { const b = npyBytes('<f4', [N, ...FASHION], good()); return b.subarray(0, b.length - 1 - rng.below(N * PIXELS * 4 - 1)); }, { mustRefuse: 'truncated' });
  data('npy: trailing bytes after the data', 'x.npy', () => Buffer.concat([npyBytes('<f4', [N, ...FASHION], good()), seededBytes(1 + rng.below(100), rng.next())]), { mustRefuse: 'trailing bytes' });
  data('npy: samples of the wrong shape (3×28×28)', 'x.npy', () => npyBytes('<f4', [N, 3, 28, 28], f32(new Float32Array(N * 3 * PIXELS))), { mustRefuse: 'shape mismatch' });
  data('npy: 20×20 images for a CNN whose input dims are all symbolic (its Gemm cannot take them)', 'x.npy', () => npyBytes('<f4', [N, 1, 20, 20], f32(new Float32Array(N * 400))), { models: 'symbolic', commands: ['analyze'], mustRefuse: 'the layers do not take the data' });
  data('npy: a scalar', 'x.npy', () => npyBytes('<f4', [], f32([1])), { mustRefuse: 'no sample axis' });
  data('npy: no samples', 'x.npy', () => npyBytes('<f4', [0, ...FASHION], new Uint8Array(0)), { mustRefuse: 'empty' });
  data('npy: a NaN pixel', 'x.npy', () => { const v = pixels(N); v[rng.below(LIMIT * PIXELS)] = NaN; return npyBytes('<f4', [N, ...FASHION], f32(v)); }, { mustRefuse: NONFINITE });
  data('npy: an Inf pixel (float64)', 'x.npy', () => { const v = Float64Array.from(pixels(N)); v[rng.below(LIMIT * PIXELS)] = Infinity; return npyBytes('<f8', [N, ...FASHION], f64(v)); }, { mustRefuse: NONFINITE });
  data('npy: a float64 pixel that overflows float32 (1e300)', 'x.npy', () => { const v = Float64Array.from(pixels(N)); v[rng.below(LIMIT * PIXELS)] = 1e300; return npyBytes('<f8', [N, ...FASHION], f64(v)); }, { mustRefuse: NONFINITE });
  data('npy: random bytes as float32 (NaN and Inf among them)', 'x.npy', () => npyBytes('<f4', [N, ...FASHION], seededBytes(N * PIXELS * 4, rng.next())), { mustRefuse: NONFINITE });
  data('npy: an unrecognised file', 'x.dat', () => seededBytes(1000, rng.next()), { mustRefuse: 'unknown format' });
  data('npy: an empty file', 'x.npy', () => new Uint8Array(0), { mustRefuse: 'empty' });

  const npz = (name: string, entries: () => Promise<Buffer>, extra: Partial<DataCase> & { key?: string } = {}): void => {
    const { key, ...rest } = extra;
    cases.push({
      name: `npz: ${name}`,
      build: async (dir, ws) => ['--data', ws.file(dir, 'x.npz', await entries()), ...(key ? ['--data-key', key] : []), '--labels', ws.file(dir, 'y.npy', npyBytes('<i8', [N], i64(labels(N)))), '--limit', String(LIMIT)],
      ...rest,
    });
  };
  const entry = (name: string, compress = rng.below(2) === 1) => ({ name, bytes: npyBytes('<f4', [N, ...FASHION], good()), compress });
  npz('a valid archive (a control)', () => zipBytes([entry('x.npy')]));
  npz('the zip signature then garbage', async () => Buffer.concat([Buffer.from('PK\x03\x04'), seededBytes(500, rng.next())]), { mustRefuse: 'not a zip' });
  npz('no .npy entries', () => zipBytes([{ name: 'readme.txt', bytes: Buffer.from('hello'), compress: false }]), { mustRefuse: 'no arrays' });
  npz('two arrays and no key', () => zipBytes([entry('a.npy'), entry('b.npy')]), { mustRefuse: 'ambiguous' });
  npz('a key it does not hold', () => zipBytes([entry('x.npy')]), { key: 'nothere', mustRefuse: 'missing key' });
  npz('a deflated entry with corrupt bytes', async () => { const b = await zipBytes([entry('x.npy', true)]); for (let k = 0; k < 8; k++) b[60 + rng.below(b.length - 200)]! ^= 0xff; return b; });
  npz('truncated to half', async () => { const b = await zipBytes([entry('x.npy')]); return b.subarray(0, b.length >> 1); }, { mustRefuse: 'truncated' });
  npz('an entry with a bad .npy header', () => zipBytes([{ name: 'x.npy', bytes: Buffer.concat([Buffer.from('\x93NUMPY\x01\x00\x10\x00{garbage}'), seededBytes(100, rng.next())]), compress: rng.below(2) === 1 }]), { mustRefuse: 'bad header' });
  npz('an entry with a NaN', () => { const v = pixels(N); v[rng.below(LIMIT * PIXELS)] = NaN; return zipBytes([{ name: 'x.npy', bytes: npyBytes('<f4', [N, ...FASHION], f32(v)), compress: true }]); }, { mustRefuse: NONFINITE });
  npz('an entry running past the end of the archive (forged sizes)', async () => forgeZipSizes(await zipBytes([entry('x.npy', false)]), { compressed: 2 ** 31, uncompressed: 2 ** 31 }), { mustRefuse: 'truncated' });
  npz('a zip64 archive', () => zipBytes([{ ...entry('x.npy'), zip64: true }]));
  npz('random bit flips in a stored archive', async () => { const b = await zipBytes([entry('x.npy', false)]); for (let f = 0; f < 4; f++) b[rng.below(b.length)]! ^= 1 << rng.below(8); return b; });

  const idx = (name: string, bytes: () => Uint8Array, extra: Partial<DataCase> = {}): void => {
    cases.push({
      name: `IDX: ${name}`,
      build: (dir, ws) => ['--data', ws.file(dir, 'images-idx3-ubyte', bytes()), '--labels', ws.file(dir, 'labels-idx1-ubyte', idxBytes(0x08, [N], Uint8Array.from(labels(N)))), '--limit', String(LIMIT)],
      ...extra,
    });
  };
  const images = () => idxBytes(0x08, [N, 28, 28], seededBytes(N * PIXELS, rng.next()));
  idx('valid uint8 images (a control)', images);
  idx('valid gzipped images (a control)', () => gzipSync(images()));
  idx('bad magic', () => { const b = images(); b[0] = 1; return b; }, { mustRefuse: 'bad magic' });
  idx('type code 0x0a', () => { const b = images(); b[2] = 0x0a; return b; }, { mustRefuse: 'bad type code' });
  idx('0 dimensions', () => { const b = images(); b[3] = 0; return b; }, { mustRefuse: 'no dims' });
  idx('255 dimensions in a short file', () => { const b = images(); b[3] = 255; return b; }, { mustRefuse: 'truncated header' });
  idx('dims of 2^32 − 1', () => idxBytes(0x08, [0xffffffff, 0xffffffff, 0xffffffff], seededBytes(100, rng.next())), { mustRefuse: 'truncated' });
  idx('data truncated', () => { const b = images(); return b.subarray(0, b.length - 1 - rng.below(N * PIXELS - 1)); }, { mustRefuse: 'truncated' });
  idx('trailing bytes', () => Buffer.concat([images(), Buffer.of(1, 2, 3)]), { mustRefuse: 'trailing bytes' });
  idx('gzip truncated', () => { const b = gzipSync(images()); return b.subarray(0, 20 + rng.below(b.length - 40)); }, { mustRefuse: 'truncated' });
  idx('gzip with corrupt bytes', () => { const b = gzipSync(images()); for (let k = 0; k < 6; k++) b[12 + rng.below(b.length - 24)]! ^= 0xff; return b; }, { mustRefuse: 'corrupt' });
  // 784 · 2^28 ≡ 0 (mod 2^32): the gzip trailer's size check cannot see the extra 2^28 samples.
  idx('gzip whose header claims 2^28 more samples than it holds', () => { const b = images(); b.writeUInt32BE(N + 2 ** 28, 4); return gzipSync(b); }, { mustRefuse: 'truncated' });
  idx('float32 images with a NaN', () => { const v = pixels(N); v[rng.below(LIMIT * PIXELS)] = NaN; return idxBytes(0x0d, [N, 28, 28], float32BE(v)); }, { mustRefuse: NONFINITE });
  idx('flat int32 samples (N × 784)', () => idxBytes(0x0c, [N, PIXELS], int32BE(new Int32Array(N * PIXELS))), { mustRefuse: 'not an input dtype' });

  labelled('labels: float64 values', 'y.npy', () => npyBytes('<f8', [N], f64(labels(N))), { mustRefuse: 'float labels' });
  labelled('labels: a negative value', 'y.npy', () => { const l = labels(N); l[rng.below(N)] = -3; return npyBytes('<i8', [N], i64(l)); }, { mustRefuse: 'negative label' });
  labelled('labels: 2^40', 'y.npy', () => { const l = labels(N); l[rng.below(N)] = 2 ** 40; return npyBytes('<i8', [N], i64(l)); }, { mustRefuse: 'label too large' });
  labelled('labels: 10 with 10 classes', 'y.npy', () => { const l = labels(N); l[rng.below(N)] = 10; return npyBytes('<i8', [N], i64(l)); }, { mustRefuse: 'label out of range' });
  labelled('labels: shape (N, 2)', 'y.npy', () => npyBytes('<i8', [N, 2], i64(labels(2 * N))), { mustRefuse: 'labels not 1-D' });
  labelled('labels: fewer than the samples', 'y.npy', () => npyBytes('<i8', [N - 3], i64(labels(N - 3))), { mustRefuse: 'count mismatch' });
  labelled('labels: IDX float32', 'labels-idx1-ubyte', () => idxBytes(0x0d, [N], float32BE(labels(N))), { mustRefuse: 'float labels' });
  labelled('labels: gzipped IDX int32 whose count is forged by 2^30 (the trailer still matches)', 'labels.gz', () => { const b = idxBytes(0x0c, [N], int32BE(labels(N))); b.writeUInt32BE(N + 2 ** 30, 4); return gzipSync(b); }, { mustRefuse: 'forged size' });
  labelled('labels: an .npz entry whose size is forged to 4 GiB', 'y.npz', async () => {
    const header = npyBytes('<i8', [2 ** 29 - 18], new Uint8Array(0));
    return forgeZipSizes(await zipBytes([{ name: 'y.npy', bytes: Buffer.concat([header, i64(labels(N))]), compress: true }]), { uncompressed: header.length + 8 * (2 ** 29 - 18) });
  }, { mustRefuse: 'forged size' });
  labelled('labels: truncated gzip', 'labels.gz', () => { const b = gzipSync(idxBytes(0x08, [N], Uint8Array.from(labels(N)))); return b.subarray(0, b.length - 5); }, { mustRefuse: 'truncated' });

  const cifar = (name: string, files: () => Uint8Array[], extra: Partial<DataCase> = {}): void => {
    cases.push({
      name: `CIFAR-10: ${name}`,
      build: (dir, ws) => ['--data', ...files().map((bytes, i) => ws.file(dir, `data_batch_${i + 1}.bin`, bytes)), '--limit', String(LIMIT)],
      models: 'cifar',
      ...extra,
    });
  };
  const records = (n: number) => cifarBytes(labels(n), () => rng.below(256));
  cifar('a valid batch (a control)', () => [records(4)]);
  cifar('two batches (a control)', () => [records(2), records(3)]);
  cifar('a partial record', () => [records(3).subarray(0, 3 * 3073 - 1 - rng.below(3000))], { mustRefuse: 'partial record' });
  cifar('an empty batch', () => [new Uint8Array(0)], { mustRefuse: 'empty' });
  cifar('a label byte of 200', () => { const b = records(4); b[3073 * rng.below(4)] = 200; return [b]; }, { mustRefuse: 'label out of range', commands: ['lmc', 'analyze'] });
  cifar('the second batch truncated', () => [records(2), records(2).subarray(0, 4000)], { mustRefuse: 'partial record' });
  cifar('an .npy file named .bin', () => [npyBytes('<f4', [N, ...FASHION], good())], { mustRefuse: 'not CIFAR' });
  cifar('batches fed to a 1×28×28 model', () => [records(4)], { models: 'fashion', mustRefuse: 'shape mismatch' });
  return cases;
}

/** The data cases: each hostile file met by lmc, analyze or activation matching in rotation. */
export async function dataCases(ws: Workspace, rng: Rng): Promise<FuzzCase[]> {
  const pairDir = ws.caseDir('pairs');
  const cifarPair = [ws.file(pairDir, 'a.onnx', cifarModel(1)), ws.file(pairDir, 'b.onnx', cifarModel(2))] as const;
  const fashionPair = [fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx')] as const;
  const symbolicPair = [ws.file(pairDir, 'symbolic_a.onnx', symbolicInput('cnn_bn_a.onnx')), ws.file(pairDir, 'symbolic_b.onnx', symbolicInput('cnn_bn_b.onnx'))] as const;
  const pairs = { fashion: fashionPair, cifar: cifarPair, symbolic: symbolicPair };
  const out: FuzzCase[] = [];
  for (const [i, d] of hostileData(rng).entries()) {
    const commands = d.commands ?? DATA_COMMANDS;
    const command = commands[i % commands.length]!;
    const dir = ws.caseDir(`data-${d.name}`);
    const options = await d.build(dir, ws);
    const [a, b] = pairs[d.models ?? 'fashion'];
    out.push({
      name: `${d.name} → ${command}`,
      family: 'data',
      ...dataCommand(command, a, b, options, dir),
      ...(d.mustRefuse ? { mustRefuse: d.mustRefuse } : {}),
      watch: [...ws.watch(dir), pairDir],
    });
  }
  return out;
}
