/**
 * Typed loader for the native addon. The CUDA build (when one was built and a device is
 * usable) is tried first, then the CPU build; LLFC_BACKEND=cpu|cuda forces either, and
 * LLFC_CUDA_ADDON names a CUDA build outside build/. A CUDA build that finds no device is
 * passed over with a one-line notice on stderr.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
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

/** The CUDA build's device report (llfc_cuda.node's cudaInfo(); README "CUDA"). */
export interface NativeCudaInfo {
  available: boolean;
  /** Why no device is used, when !available. */
  reason: string;
  driverVersion: number;
  runtimeVersion: number;
  chunkElements: number;
  device?: string;
  computeCapability?: string;
  memoryBytes?: number;
  /** The cuBLAS library GEMM uses, or null (GEMM then runs on the CPU) with cublasError. */
  cublas?: string | null;
  cublasError?: string;
  residentBytes?: number;
}

/** The activation weakAdditivityStats applies: `id` from {@link NativeAddon.activations}, ONNX attributes as alpha/beta. */
export interface NativeActivation {
  id: number;
  alpha: number;
  beta: number;
}

/** A batch of features: `samples` rows of fa.length / samples floats each, and K = alphas.length sums of 5. */
interface NativeFeatureBatch {
  fa: Float32Array;
  fb: Float32Array;
  samples: number;
  alphas: Float64Array;
  /** K×5 sums [Σd, Σd², Σcoef, count, skipped], added to. */
  acc: Float64Array;
}

/** cosineStats: compared[k] is the feature batch compared, at alphas[k], with (1−α)·fa + α·fb. */
export interface NativeCosineStats extends NativeFeatureBatch {
  compared: Float32Array[];
}

/** weakAdditivityStats: σ((1−α)·ha + α·hb) against (1−α)·fa + α·fb, with fa = σ(ha), fb = σ(hb). */
export interface NativeWeakAdditivityStats extends NativeFeatureBatch {
  ha: Float32Array;
  hb: Float32Array;
  activation: NativeActivation;
}

/** maps[k] is null (identity) or dims[k] source indices of axis k. */
type NativeMaps = readonly (Int32Array | null)[] | null;

/** extractUnits: units offset + c·inner + r (c < count, r < inner) of `axis` as the rows of a count × (rest) matrix, other axes gathered by maps. */
export interface NativeExtractUnits {
  src: Float32Array;
  dims: readonly number[];
  maps: NativeMaps;
  axis: number;
  offset: number;
  count: number;
  inner: number;
  out: Float32Array;
}

/** accumulateCross: za, zb are outer × len × after; the channel block is offset + c·inner + r (c < count) of the middle axis. */
export interface NativeAccumulateCross {
  za: Float32Array;
  zb: Float32Array;
  outer: number;
  len: number;
  after: number;
  offset: number;
  count: number;
  inner: number;
  /** count × count, added to. */
  cross: Float64Array;
  /** 4·count: [Σza, Σzb, Σza², Σzb²] per unit, added to. */
  sums: Float64Array;
  /** OpenMP threads, default 1, 0 = all. */
  threads?: number;
}

/** A tensor of an onnxruntime run (native/binding_ort.h): its ONNX element type, dims and memory. */
export interface NativeOrtTensor {
  readonly name: string;
  readonly type: number;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array | BigUint64Array;
}

/**
 * The functions the addon exports (native/addon.cc), as {@link native} returns them: every
 * failure is a {@link NativeError}. Exports with more than a few arguments take one object.
 */
export interface NativeAddon {
  /** 'cuda' only when llfc_cuda.node found a usable device at load. */
  readonly backend: 'cpu' | 'cuda';
  /** OMP_WAIT_POLICY in the process environment when the addon loaded (what libgomp read), or null. */
  readonly openmpWaitPolicy: string | null;
  /** The activations weakAdditivityStats computes, by ONNX op name (GeluTanh: Gelu with approximate="tanh"). */
  readonly activations: Readonly<Record<string, number>>;
  // CUDA build only (llfc_cuda.node): device report, device-resident arrays (a snapshot:
  // call cudaResident again after writing to x), chunk budget in floats.
  cudaInfo?(): NativeCudaInfo;
  cudaResident?(x: Float32Array): void;
  cudaRelease?(x?: Float32Array): number;
  cudaSetChunk?(elements: number): number;
  interpolate(a: Float32Array, b: Float32Array, alphas: Float64Array, outs: Float32Array[], mask?: NativeMask): void;
  copy(dst: Float32Array, src: Float32Array): void;
  /** Per-sample cosine statistics of features for several α (native/feature_stats.h). */
  cosineStats(options: NativeCosineStats): void;
  /** Weak-additivity cosine statistics, per α. */
  weakAdditivityStats(options: NativeWeakAdditivityStats): void;
  /** Per channel of an outer × channels × inner feature map: sums += [Σx per channel, Σx² per channel] in float64. */
  channelMoments(options: { x: Float32Array; outer: number; channels: number; inner: number; sums: Float64Array }): void;
  /** out += [Σ cross-entropy, top-1 hits, labelled rows] of n rows of `classes` logits against n labels, rows labelled ignoreIndex left out (native/loss.h). */
  crossEntropySums(options: { logits: Float32Array; labels: Int32Array; classes: number; ignoreIndex?: number; out: Float64Array }): void;
  /**
   * Commutativity from a linear layer's outputs: with X = za + zb − bias (za, zb, d laid out
   * outer × channels × inner, bias one value per channel or absent), out += [‖X − d‖², ‖X‖², ‖d‖²] in float64.
   */
  outputCommutativitySums(options: { za: Float32Array; zb: Float32Array; bias?: Float32Array; d: Float32Array; outer: number; channels: number; inner: number; out: Float64Array }): void;
  /** out += [‖x − y‖², ‖x‖², ‖y‖²] in float64. */
  sumSquares(x: Float32Array, y: Float32Array, out: Float64Array): void;
  // linear assignment (lib/lap.ts); failures carry `code` LAP_NAN | LAP_BAD_INFINITY |
  // LAP_INFEASIBLE | LAP_INVALID_ARGUMENT and, where known, `row` / `col`. lapAsync solves a
  // copy of cost, taken at the call.
  lap(cost: Float32Array | Float64Array, rows: number, cols: number, maximize: boolean, warm?: Float64Array | null): NativeLapResult;
  lapAsync(cost: Float32Array | Float64Array, rows: number, cols: number, maximize: boolean, warm?: Float64Array | null): Promise<NativeLapResult>;
  /** out (n×m) = a (n×k) · bᵀ (b is m×k), row-major float32; threads 0 = all (BLAS's argument order). */
  gemmAbt(a: Float32Array, b: Float32Array, n: number, m: number, k: number, out: Float32Array, threads?: number): void;
  // alignment (native/align.h)
  /** out = src gathered along the mapped axes: out[i…] = src[maps_0[i_0], …]. */
  gatherAxes(src: Float32Array, dims: readonly number[], maps: NativeMaps, out: Float32Array): void;
  /** Σ a · (b gathered by maps), in float64. */
  gatheredDot(a: Float32Array, b: Float32Array, dims: readonly number[], maps: NativeMaps): number;
  extractUnits(options: NativeExtractUnits): void;
  /** cross += Σ za_i·zb_j and sums += [Σza, Σzb, Σza², Σzb²] over the samples of a channel block; returns the samples added. */
  accumulateCross(options: NativeAccumulateCross): number;
  /** dst += src elementwise (float32 into float64); the lengths must match. */
  addToFloat64(dst: Float64Array, src: Float32Array): void;
  /** Hands the C allocator's free pages back to the system (glibc's malloc_trim); whether any went. */
  releaseFreeMemory(): boolean;
  /** `count` zeroed floats in a file-backed mapping of an unnamed file in `dir` (native/file_backed.h), or why there can be none. */
  fileBackedFloats(dir: string, count: number): { floats?: Float32Array<ArrayBuffer>; unavailable?: string };
  /** Hands back the process's pages of `x` where it lies in a file-backed mapping; the bytes handed back (0 for other memory). */
  releaseFilePages(x: Float32Array): number;
  /**
   * out (d × d) = the orthogonal O maximizing tr(O·cᵀ) for c = Σ a·bᵀ (so O·b ≈ a); with
   * `fixOnes`, among the O with O·1 = 1. Returns tr(O·cᵀ).
   */
  procrustes(c: Float64Array, d: number, fixOnes: boolean, out: Float64Array): number;
  /** onnxruntime's version as the addon's runner found it in this process, or why it cannot run sessions. */
  ortRuntime(): { version?: string; unavailable?: string };
  /** A session of a serialized model (threads 0: onnxruntime's choice); `session` is an opaque handle. */
  ortCreateSession(model: Uint8Array, options: { threads: number; optimize: boolean }): Promise<{ session: unknown; inputs: string[]; outputs: string[] }>;
  /**
   * One run, on the calling thread: outputs given `data` are written into it, the others come
   * back in new arrays (with `adopt`, onnxruntime's own memory, for an array kept and run into again).
   */
  ortRun(session: unknown, inputs: readonly NativeOrtTensor[], outputs: readonly (NativeOrtTensor | { name: string; adopt?: boolean })[]): NativeOrtTensor[];
  /** Lets go of a session. */
  ortRelease(session: unknown): void;
}

/** An addon failure as a NativeError naming the export; the addon's own `code` (LAP_*) and position are kept. */
function nativeError(name: string, error: unknown): NativeError {
  const e = error as { message?: unknown; code?: unknown; row?: unknown; col?: unknown } | undefined;
  const detail = String(e?.message ?? error).replace(/^llfc native: /, '');
  const code = typeof e?.code === 'string' ? e.code : error instanceof TypeError || error instanceof RangeError ? 'NATIVE_ARGUMENT' : 'NATIVE';
  return new NativeError(`${name}: ${detail}`, {
    cause: error,
    code,
    ...(typeof e?.row === 'number' ? { row: e.row } : {}),
    ...(typeof e?.col === 'number' ? { col: e.col } : {}),
  });
}

/** The addon with every function's failures (thrown, or a rejected promise) turned into NativeErrors. */
function typedErrors(addon: NativeAddon): NativeAddon {
  const typed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(addon)) {
    if (typeof value !== 'function') {
      typed[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    typed[name] = (...args: unknown[]): unknown => {
      let result: unknown;
      try {
        result = fn(...args);
      } catch (error) {
        throw nativeError(name, error);
      }
      return result instanceof Promise
        ? result.catch((error: unknown) => {
            throw nativeError(name, error);
          })
        : result;
    };
  }
  return Object.freeze(typed) as unknown as NativeAddon;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let loaded: NativeAddon | undefined;

/** The CUDA build: LLFC_CUDA_ADDON (a path, e.g. build-cuda/Release/llfc_cuda.node) or build/'s. */
function cudaPath(): string {
  const override = process.env.LLFC_CUDA_ADDON;
  return override ? resolve(override) : join(root, 'build', 'Release', 'llfc_cuda.node');
}

function candidates(): string[] {
  const forced = process.env.LLFC_BACKEND?.toLowerCase();
  const cuda = cudaPath();
  const cpu = join(root, 'build', 'Release', 'llfc.node');
  if (forced === 'cpu') return [cpu];
  if (forced === 'cuda') return [cuda];
  return [cuda, cpu];
}

/**
 * OpenMP threads that spin after each kernel would steal the cores onnxruntime runs on, so
 * OMP_WAIT_POLICY defaults to PASSIVE. libgomp reads it from the process environment once, when
 * the addon loads it. Only the main thread's process.env is that environment (assigning it calls
 * setenv); a worker's is a private copy the runtime never sees. So the main thread calls this
 * before loading the addon and before starting any worker (lib/worker/host.ts); in a worker it
 * does nothing.
 */
export function passiveOpenMp(): void {
  if (isMainThread) process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
}

/** The addon, loaded once. Throws NativeError when no build can be loaded. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  passiveOpenMp();
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  const cuda = cudaPath();
  // A CUDA build that found no device computes exactly as the CPU build; kept in case that is missing.
  let deviceless: NativeAddon | undefined;
  for (const path of candidates()) {
    if (!existsSync(path)) {
      failures.push(`${path}: not built`);
      continue;
    }
    let addon: NativeAddon;
    try {
      addon = require(path) as NativeAddon;
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message}`);
      if (path === cuda && process.env.LLFC_BACKEND === undefined) {
        process.stderr.write(`llfc: CUDA build unusable here, using the CPU build (${(error as Error).message.split('\n')[0]})\n`);
      }
      continue;
    }
    if (path === cuda && addon.backend !== 'cuda') {
      const reason = addon.cudaInfo?.().reason ?? 'no device';
      if (process.env.LLFC_BACKEND?.toLowerCase() === 'cuda') {
        throw new NativeError(`LLFC_BACKEND=cuda, but the CUDA build found no usable device: ${reason}`);
      }
      process.stderr.write(`llfc: no usable CUDA device (${reason}), using the CPU kernels\n`);
      deviceless = addon;
      continue;
    }
    loaded = typedErrors(addon);
    return loaded;
  }
  if (deviceless) {
    loaded = typedErrors(deviceless);
    return loaded;
  }
  throw new NativeError(`the native addon could not be loaded (run \`npm run build:native\`):\n  ${failures.join('\n  ')}`);
}
