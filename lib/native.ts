/**
 * Typed loader for the native addon. The CUDA build (when one was built and a device is
 * usable) is tried first, then the CPU build; LLFC_BACKEND=cpu|cuda forces either.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors.js';

/** A run of the arena taken from `base` instead of interpolated, per tensor. */
export interface NativeMask {
  offsets: Float64Array;
  lengths: Float64Array;
  interpolate: Uint8Array;
  base: Float32Array;
}

/** Work counters of one linear assignment solve (native/lap.h LapResult::Stats). */
export interface NativeLapStats {
  freeAfterInit: number;
  arrScans: number;
  freeAfterArr: number;
  pathPasses: number;
}

/** A linear assignment solution as the addon returns it (see lib/lap.ts). */
export interface NativeLapResult {
  rowInd: Int32Array;
  colInd: Int32Array;
  total: number;
  colDuals: Float64Array;
  warmStarted: boolean;
  stats: NativeLapStats;
}

/** The functions the addon exports (native/addon.cc). */
export interface NativeAddon {
  readonly backend: 'cpu' | 'cuda';
  interpolate(a: Float32Array, b: Float32Array, alphas: Float64Array, outs: Float32Array[], mask?: NativeMask): void;
  copy(dst: Float32Array, src: Float32Array): void;
  /** Per-sample cosine statistics of features for several α (native/feature_stats.h); acc += K×5 sums. */
  cosineStats(as: Float32Array[], alphas: Float64Array, fa: Float32Array, fb: Float32Array, n: number, acc: Float64Array): void;
  /** out += [‖x − y‖², ‖x‖², ‖y‖²] in float64. */
  sumSquares(x: Float32Array, y: Float32Array, out: Float64Array): void;
  // linear assignment (lib/lap.ts); failures carry `code` LAP_NAN | LAP_BAD_INFINITY |
  // LAP_INFEASIBLE | LAP_INVALID_ARGUMENT and, where known, `row` / `col`.
  lap(cost: Float32Array | Float64Array, rows: number, cols: number, maximize: boolean, warm?: Float64Array | null): NativeLapResult;
  lapAsync(cost: Float32Array | Float64Array, rows: number, cols: number, maximize: boolean, warm?: Float64Array | null): Promise<NativeLapResult>;
  /** out (n×m) = a (n×k) · bᵀ (b is m×k), row-major float32; threads 0 = all. */
  gemmAbt(a: Float32Array, b: Float32Array, n: number, m: number, k: number, out: Float32Array, threads?: number): void;
  // alignment (native/align.h); maps[k] is null (identity) or dims[k] source indices of axis k.
  /** out = src gathered along the mapped axes: out[i…] = src[maps_0[i_0], …]. */
  gatherAxes(src: Float32Array, dims: readonly number[], maps: readonly (Int32Array | null)[] | null, out: Float32Array): void;
  /** Σ a · (b gathered by maps), in float64. */
  gatheredDot(a: Float32Array, b: Float32Array, dims: readonly number[], maps: readonly (Int32Array | null)[] | null): number;
  /** Units offset + c·inner + r of `axis` as the rows of a count × (rest) matrix, other axes gathered by maps. */
  extractUnits(
    src: Float32Array,
    dims: readonly number[],
    maps: readonly (Int32Array | null)[] | null,
    axis: number,
    offset: number,
    count: number,
    inner: number,
    out: Float32Array,
  ): void;
  /** cross += Σ za_i·zb_j and sums += [Σza, Σzb, Σza², Σzb²] over the samples of a channel block; returns the samples added. */
  accumulateCross(
    za: Float32Array,
    zb: Float32Array,
    outer: number,
    len: number,
    after: number,
    offset: number,
    count: number,
    inner: number,
    cross: Float64Array,
    sums: Float64Array,
    threads?: number,
  ): number;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let loaded: NativeAddon | undefined;

function candidates(): string[] {
  const forced = process.env.LLFC_BACKEND?.toLowerCase();
  const cuda = join(root, 'build', 'Release', 'llfc_cuda.node');
  const cpu = join(root, 'build', 'Release', 'llfc.node');
  if (forced === 'cpu') return [cpu];
  if (forced === 'cuda') return [cuda];
  return [cuda, cpu];
}

/** The addon, loaded once. Throws NativeError when no build can be loaded. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      failures.push(`${path}: not built`);
      continue;
    }
    try {
      loaded = require(path) as NativeAddon;
      return loaded;
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message}`);
      if (path.endsWith('llfc_cuda.node') && process.env.LLFC_BACKEND === undefined) {
        process.stderr.write(`llfc: CUDA build unusable here, using the CPU build (${(error as Error).message.split('\n')[0]})\n`);
      }
    }
  }
  throw new NativeError(`the native addon could not be loaded (run \`npm run build:native\`):\n  ${failures.join('\n  ')}`);
}
