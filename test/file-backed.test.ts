/**
 * File-backed floats (native/file_backed.h, lib/file-backed.ts): zeroed, they keep every value
 * written when their pages are handed back, handing back drops the process's resident memory
 * of them, other memory is never touched, and bad arguments are typed errors.
 */
import { readdirSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { fileBackedFloats, releaseFilePages } from '../lib/file-backed.js';
import { native } from '../lib/native.js';
import { NativeError } from '../lib/errors.js';
import { fileBackedResidentKb, tempDir } from './helpers.js';

const tmpdirBefore = process.env.TMPDIR;
afterEach(() => {
  if (tmpdirBefore === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmpdirBefore;
});

describe('file-backed floats', () => {
  it('start at zero, and keep what is written after their pages are handed back, whole or in part', () => {
    const x = fileBackedFloats(1_000_003);
    expect(x.every((v) => v === 0)).toBe(true);
    for (let i = 0; i < x.length; i++) x[i] = i * 0.5 - 7;
    releaseFilePages(x.subarray(1000, 2000));
    expect(x[1500]).toBe(1500 * 0.5 - 7);
    releaseFilePages(x);
    expect(x.every((v, i) => v === i * 0.5 - 7)).toBe(true);
  });

  it('handing back their pages leaves none resident, and reading brings back only the pages read', () => {
    const floats = 3_000_017;
    const x = fileBackedFloats(floats);
    x.fill(1);
    expect(fileBackedResidentKb(floats)).toEqual([Math.ceil((floats * 4) / 4096) * 4]);
    expect(native().releaseFilePages(x)).toBe(Math.ceil((floats * 4) / 4096) * 4096);
    expect(fileBackedResidentKb(floats)).toEqual([0]);
    let sum = 0;
    for (let i = 0; i < floats / 4; i++) sum += x[i]!;
    expect(sum).toBe(Math.ceil(floats / 4));
    const [resident] = fileBackedResidentKb(floats);
    expect(resident).toBeGreaterThanOrEqual((floats * 4) / 4 / 1024 - 4);
    expect(resident).toBeLessThan((floats * 4) / 3 / 1024);
  });

  it('memory that is not file-backed is left alone: its values stay and nothing is handed back', () => {
    const plain = Float32Array.from({ length: 100_000 }, (_, i) => i);
    expect(native().releaseFilePages(plain)).toBe(0);
    expect(native().releaseFilePages(new Float32Array(new SharedArrayBuffer(4 * 50_000)).fill(3))).toBe(0);
    expect(plain.every((v, i) => v === i)).toBe(true);
  });

  it('a temporary directory that cannot hold the file gives ordinary memory, and the addon says why', () => {
    process.env.TMPDIR = '/nonexistent-llfc-dir';
    const x = fileBackedFloats(10);
    x[9] = 2;
    expect(native().releaseFilePages(x)).toBe(0);
    expect(x[9]).toBe(2);
    expect(native().fileBackedFloats('/nonexistent-llfc-dir', 10)).toEqual({ unavailable: expect.stringMatching(/cannot make a file in \/nonexistent-llfc-dir: No such file/) });
  });

  it('the file lies in the temporary directory, unnamed: nothing is left there', () => {
    const dir = tempDir();
    try {
      process.env.TMPDIR = dir.dir;
      const x = fileBackedFloats(1000);
      x[0] = 1;
      expect(native().releaseFilePages(x)).toBe(4096);
      expect(readdirSync(dir.dir)).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });

  it('is copied, never moved, to another thread, even when listed for transfer', async () => {
    const x = fileBackedFloats(1000);
    x[3] = 7;
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<Float32Array>((resolve) => port2.once('message', resolve));
    try {
      port1.postMessage(x, [x.buffer]);
      const copy = await received;
      expect([copy.length, copy[3]]).toEqual([1000, 7]);
    } catch (e) {
      // Node 21 and later refuse a buffer marked untransferable instead of copying it.
      expect((e as Error).name).toBe('DataCloneError');
    } finally {
      port1.close();
    }
    expect([x.length, x[3]]).toEqual([1000, 7]);
  });

  it.each([
    ['a dir that is not a string', () => native().fileBackedFloats(3 as unknown as string, 10), /dir must be a string/],
    ['an empty dir', () => native().fileBackedFloats('', 10), /non-empty path/],
    ['a dir with a NUL byte', () => native().fileBackedFloats('/tmp\0x', 10), /without NUL bytes/],
    ['no floats', () => native().fileBackedFloats('/tmp', 0), /count must be an integer in \[1, /],
    ['a fractional count', () => native().fileBackedFloats('/tmp', 1.5), /count must be an integer/],
    ['a count past 2^50', () => native().fileBackedFloats('/tmp', 2 ** 51), /count must be an integer/],
    ['a release of no Float32Array', () => native().releaseFilePages(new Float64Array(4) as unknown as Float32Array), /x must be a Float32Array/],
  ])('%s is a NativeError saying so', (_, call, message) => {
    expect(call).toThrow(NativeError);
    expect(call).toThrow(message);
  });
});
