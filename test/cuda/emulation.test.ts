/**
 * The CUDA backend's host logic (chunking, masks, resident arrays, uploads and downloads, the
 * float64 reductions, the cuBLAS call) and its kernel bodies, run on the CPU against a fake CUDA
 * runtime and compared with the CPU kernels (native/cuda/emulation). Needs g++ and the CUDA
 * runtime headers, not a GPU; the real device is tested by kernels.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { root } from './addon.js';

const include = process.env.CUDA_INCLUDE ?? '/usr/local/cuda/include';
const hasGxx = spawnSync('g++', ['--version']).status === 0;
const why = !hasGxx ? 'g++ not found' : !existsSync(join(include, 'cuda_runtime_api.h')) ? `no CUDA headers in ${include}` : undefined;

describe.skipIf(why !== undefined)(`CUDA backend under host emulation${why ? ` — skipped: ${why}` : ''}`, () => {
  it('matches the CPU kernels: interpolation bit for bit, statistics to 1e-12, GEMM, resident arrays', () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = spawnSync('bash', [join(root, 'native/cuda/emulation/run.sh'), dir], { encoding: 'utf8' });
      expect(r.stderr + r.stdout).toMatch(/CUDA host emulation: \d+ expectations held/);
      expect(r.status).toBe(0);
    } finally {
      cleanup();
    }
  });
});
