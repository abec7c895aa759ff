/** The CUDA and CPU builds of the addon, loaded side by side for the tests in test/cuda. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from '../../lib/native.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

/** LLFC_CUDA_ADDON, else build-cuda/ (where CI compiles it), else build/. */
export const cudaAddonPath: string | undefined = [
  process.env.LLFC_CUDA_ADDON && resolve(process.env.LLFC_CUDA_ADDON),
  join(root, 'build-cuda', 'Release', 'llfc_cuda.node'),
  join(root, 'build', 'Release', 'llfc_cuda.node'),
].find((p): p is string => !!p && existsSync(p));

export const cpuAddonPath = join(root, 'build', 'Release', 'llfc.node');
export const cpu = require(cpuAddonPath) as NativeAddon;
export const cuda: NativeAddon | undefined = cudaAddonPath ? (require(cudaAddonPath) as NativeAddon) : undefined;

/** Why the GPU tests do not run here, or undefined when they do. */
export const noGpu: string | undefined = !cuda
  ? 'llfc_cuda.node not built (LLFC_CUDA=ON node scripts/build-native.js --out build-cuda)'
  : cuda.backend !== 'cuda'
    ? `no usable CUDA device: ${cuda.cudaInfo?.().reason ?? 'unknown'}`
    : undefined;

/** A deterministic generator of floats in [-scale, scale) (mulberry32). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}
