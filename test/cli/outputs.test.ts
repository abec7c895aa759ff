import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alignFiles, interpolate } from '../../lib/api.js';
import { OutputError } from '../../lib/errors.js';
import { encodeModel, readModel } from '../../lib/onnx/model.js';
import { DataType, newShape, tensorType } from '../../lib/onnx/proto.js';
import { tinyModel } from '../align/helpers.js';
import { writeNpy } from '../dataset/helpers.js';
import { fixture, llfc, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const model = (name: string) => fixture('models', `${name}.onnx`);
const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--limit', '50'];
const lmcArgs = ['lmc', model('mlp_a'), model('mlp_b'), ...data, '--alphas', '0,1', '--quiet'];

let n = 0;
function freshDir(): string {
  const dir = join(tmp.dir, `case${n++}`);
  mkdirSync(dir);
  return dir;
}

/** Exit 2 with one `llfc: error:` line and no stack trace. */
function expectCleanRefusal(r: ReturnType<typeof llfc>, message: RegExp): void {
  expect(r.stderr).toMatch(/^llfc: error: /);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.status).toBe(2);
}

describe('CLI outputs are checked before any work', () => {
  it('--out naming a device node (the /dev/full case) is refused and the node stays a device', (ctx) => {
    const dir = freshDir();
    const device = join(dir, 'full');
    const made = spawnSync('mknod', [device, 'c', '1', '7'], { encoding: 'utf8' });
    if (made.status !== 0) return ctx.skip(`mknod is not permitted here: ${made.stderr.trim() || made.error?.message}`);
    expectCleanRefusal(llfc(...lmcArgs, '--out', device), /refusing to write --out .*full: it is a character device, not a regular file/);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    expect(readdirSync(dir)).toEqual(['full']);
  });

  it('--out naming a FIFO is refused (no hang) and stays a FIFO', (ctx) => {
    const dir = freshDir();
    const fifo = join(dir, 'pipe');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return ctx.skip('mkfifo is not available here');
    expectCleanRefusal(llfc(...lmcArgs, '--out', fifo), /it is a FIFO \(named pipe\), not a regular file/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('--out naming a symbolic link is refused; link and target stay as they were', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'target.json'), 'keep');
    symlinkSync(join(dir, 'target.json'), join(dir, 'link.json'));
    expectCleanRefusal(llfc(...lmcArgs, '--out', join(dir, 'link.json')), /refusing to write --out .*link\.json: it is a symbolic link/);
    expect(lstatSync(join(dir, 'link.json')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'target.json'), 'utf8')).toBe('keep');
  });

  it('--out into a directory that does not exist', () => {
    const missing = join(freshDir(), 'missing');
    expectCleanRefusal(llfc(...lmcArgs, '--out', join(missing, 'r.json')), new RegExp(`cannot write --out .*r\\.json: the directory ${missing} does not exist`));
  });

  it('--out into a directory that does not take new files (/proc, which stops root too)', (ctx) => {
    if (!existsSync('/proc/self')) return ctx.skip('no /proc on this system');
    expectCleanRefusal(llfc(...lmcArgs, '--out', '/proc/llfc.json'), /cannot write --out \/proc\/llfc\.json: the directory \/proc does not take new files/);
  });

  it('--html into a missing directory fails before the work (the data is never opened) and --out is not written', () => {
    const dir = freshDir();
    const args = ['lmc', model('mlp_a'), model('mlp_b'), '--data', join(dir, 'no-such-data.npy'), '--out', join(dir, 'r.json'), '--html', join(dir, 'missing', 'r.html')];
    expectCleanRefusal(llfc(...args), /cannot write --html .*r\.html: the directory .*missing does not exist/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('align: -o writable but --perm-out in a missing directory: nothing written, before the work', () => {
    const dir = freshDir();
    const r = llfc('align', model('mlp_a'), model('mlp_b'), '--method', 'weight', '-o', join(dir, 'b.onnx'), '--perm-out', join(dir, 'missing', 'perms.json'));
    expectCleanRefusal(r, /cannot write --perm-out .*perms\.json: the directory .*missing does not exist/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('interpolate -o naming a hard link to input B is refused and B is unchanged', () => {
    const dir = freshDir();
    const b = join(dir, 'b.onnx');
    copyFileSync(model('mlp_b'), b);
    linkSync(b, join(dir, 'b-link.onnx'));
    expectCleanRefusal(llfc('interpolate', model('mlp_a'), b, '--alpha', '0.5', '-o', join(dir, 'b-link.onnx')), /refusing to write .*b-link\.onnx: it is an input file/);
    expect(readFileSync(b).equals(readFileSync(model('mlp_b')))).toBe(true);
  });

  it('permute: -o and --perm-out naming the same file are refused', () => {
    const out = join(freshDir(), 'same.json');
    expectCleanRefusal(llfc('permute', model('mlp_a'), '--random', '-o', out, '--perm-out', out), /same\.json is named for two outputs \(--output .* and --perm-out .*\)/);
    expect(existsSync(out)).toBe(false);
  });

  it('spec --out naming a directory is refused', () => {
    expectCleanRefusal(llfc('spec', model('mlp_a'), '--out', freshDir()), /refusing to write --out .*: it is a directory, not a regular file/);
  });
});

describe('the library checks its outputs too', () => {
  it('alignFiles refuses to write over B (by path or through a hard link), before aligning', async () => {
    const dir = freshDir();
    const b = join(dir, 'b.onnx');
    copyFileSync(model('mlp_b'), b);
    linkSync(b, join(dir, 'b-link.onnx'));
    await expect(alignFiles({ a: model('mlp_a'), b, outputs: { onnx: b } }, { method: 'weight' })).rejects.toThrow(/refusing to write outputs\.onnx .*b\.onnx: it is an input file/);
    await expect(alignFiles({ a: model('mlp_a'), b, outputs: { onnx: join(dir, 'ok.onnx'), safetensors: join(dir, 'b-link.onnx') } }, { method: 'weight' })).rejects.toBeInstanceOf(OutputError);
    expect(readFileSync(b).equals(readFileSync(model('mlp_b')))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['b-link.onnx', 'b.onnx']);
  });

  it('alignFiles refuses to write over its data file', async () => {
    const dir = freshDir();
    const x = join(dir, 'x.npy');
    copyFileSync(fixture('data', 'fashion_test_x.npy'), x);
    await expect(alignFiles({ a: model('mlp_a'), b: model('mlp_b'), data: { data: x, limit: 10 }, outputs: { permutations: x } }, { method: 'activation' })).rejects.toThrow(/it is an input file/);
    expect(readFileSync(x).equals(readFileSync(fixture('data', 'fashion_test_x.npy')))).toBe(true);
  });

  it('interpolate() refuses an output that is a symbolic link to A', async () => {
    const dir = freshDir();
    symlinkSync(model('mlp_a'), join(dir, 'a.onnx'));
    await expect(interpolate(model('mlp_a'), model('mlp_b'), 0.5, join(dir, 'a.onnx'))).rejects.toThrow(/it is an input file/);
  });
});

describe('bad checkpoints and data: exit 2 with a message naming what is wrong', () => {
  it('an initializer whose raw_data does not match its shape names the file, tensor, shape and both sizes', async () => {
    const proto = (await readModel(model('mlp_a'))).proto;
    const tensor = proto.graph!.initializer!.find((t) => t.name === 'fc2.weight')!;
    tensor.rawData = tensor.rawData!.subarray(0, tensor.rawData!.length - 12);
    const bad = join(freshDir(), 'short.onnx');
    writeFileSync(bad, encodeModel(proto));
    const out = join(tmp.dir, 'never.onnx');
    const r = llfc('interpolate', bad, model('mlp_b'), '--alpha', '0.5', '-o', out);
    expectCleanRefusal(r, /short\.onnx: not a valid ONNX model: initializer 'fc2\.weight' of shape \[256, 256\] \(float32\) has 262132 bytes of raw_data, its shape needs 262144/);
    expect(existsSync(out)).toBe(false);
  });

  it('a token model (int64 input) fed float data names the input and both types', () => {
    const dir = freshDir();
    const proto = tinyModel({
      inputShape: [4],
      nodes: [
        { op: 'Gather', inputs: ['emb', 'x'], outputs: ['g'] },
        { op: 'ReduceMean', inputs: ['g'], outputs: ['m'], attrs: { axes: [1], keepdims: 0 } },
        { op: 'Gemm', inputs: ['m', 'w', 'bias'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { emb: [10, 8], w: [3, 8], bias: [3] },
    });
    tensorType(proto.graph!.input![0])!.elemType = DataType.INT64;
    tensorType(proto.graph!.output![0])!.shape = newShape(['batch', 3]);
    const file = join(dir, 'tokens.onnx');
    writeFileSync(file, encodeModel(proto));
    const x = writeNpy(join(dir, 'x.npy'), '<f4', [6, 4], Float32Array.from({ length: 24 }, (_, i) => i % 10));
    const y = writeNpy(join(dir, 'y.npy'), '<i8', [6], BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n]));
    const r = llfc('lmc', file, file, '--data', x, '--labels', y, '--out', join(dir, 'r.json'));
    expectCleanRefusal(r, /x\.npy: the data is FLOAT \(float32\) but the input 'x' of .*tokens\.onnx takes INT64/);
    expect(existsSync(join(dir, 'r.json'))).toBe(false);
  });
});
