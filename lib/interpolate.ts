/** θ(α) = (1−α)·θ_A + α·θ_B over parameter arenas, by the native kernel. */
import { InvalidArgumentError } from './errors.js';
import { native } from './native.js';
import { checkAlphas } from './options.js';
import { pairCheckpoints, rewireParameters, sharedTensorsAgree, withParameters, type Checkpoint } from './checkpoint.js';
import type { ModelProto } from './onnx/proto.js';

/** Which parameters to interpolate; the others come from `base`. */
export interface InterpolationMask {
  /** Per parameter of the checkpoint: true = interpolate. */
  readonly interpolate: readonly boolean[];
  /** Arena the other parameters are copied from (usually A's or B's). */
  readonly base: Float32Array;
}

/**
 * Writes θ(α) for every α into `outs` (one arena-sized buffer per α, allocated when absent)
 * in one pass over the arenas. `layout` (the checkpoint) is needed only with a mask.
 */
export function interpolateArenas(
  a: Float32Array,
  b: Float32Array,
  alphas: readonly number[],
  outs?: Float32Array[],
  mask?: InterpolationMask,
  layout?: Checkpoint,
): Float32Array[] {
  checkAlphas(alphas);
  if (a.length !== b.length) throw new InvalidArgumentError(`arenas differ in length: ${a.length} vs ${b.length}`);
  const buffers = outs ?? alphas.map(() => new Float32Array(a.length));
  if (mask) {
    if (!layout) throw new InvalidArgumentError('a mask needs the checkpoint layout');
    const params = layout.parameters;
    if (mask.interpolate.length !== params.length) {
      throw new InvalidArgumentError(`mask has ${mask.interpolate.length} entries for ${params.length} parameters`);
    }
    native().interpolate(a, b, Float64Array.from(alphas), buffers, {
      offsets: Float64Array.from(params, (p) => p.offset),
      lengths: Float64Array.from(params, (p) => p.length),
      interpolate: Uint8Array.from(mask.interpolate, (m) => (m ? 1 : 0)),
      base: mask.base,
    });
  } else {
    native().interpolate(a, b, Float64Array.from(alphas), buffers);
  }
  return buffers;
}

/**
 * The model θ(α) = (1−α)·θ_A + α·θ_B as an ONNX model in A's graph. Initializer names are
 * kept (so PyTorch-side tools map them back) unless a tensor A stores once is used with
 * different values in θ(α) — possible when B does not share it — in which case every use gets
 * its own initializer (`llfc_param_k`) and `perUse` is true.
 */
export function interpolatedModel(a: Checkpoint, b: Checkpoint, alpha: number): { model: ModelProto; perUse: boolean } {
  pairCheckpoints(a, b);
  const [theta] = interpolateArenas(a.arena, b.arena, [alpha]);
  return modelOfArena(a, theta!);
}

/** Floats per piece of interpolatedModelOverB: small next to a large model's arena. */
const PIECE = 1 << 22;

/**
 * interpolatedModel for a caller done with B: θ(α) is written over B's arena, piece by piece
 * through one small buffer (the kernel's output may not alias its inputs), so that writing the
 * model holds A and B and no third arena (`interpolate` on a large model). B's checkpoint holds
 * θ(α) afterwards, its model's tensors included.
 */
export function interpolatedModelOverB(a: Checkpoint, b: Checkpoint, alpha: number): { model: ModelProto; perUse: boolean } {
  pairCheckpoints(a, b);
  const theta = b.arena;
  const piece = new Float32Array(Math.min(PIECE, theta.length));
  for (let at = 0; at < theta.length; at += PIECE) {
    const end = Math.min(at + PIECE, theta.length);
    const out = piece.subarray(0, end - at);
    interpolateArenas(a.arena.subarray(at, end), theta.subarray(at, end), [alpha], [out]);
    theta.set(out, at);
  }
  return modelOfArena(a, theta);
}

/** The model `theta` (an arena of the checkpoint's layout) in its graph, named as interpolatedModel names them. */
export function modelOfArena(checkpoint: Checkpoint, theta: Float32Array): { model: ModelProto; perUse: boolean } {
  if (sharedTensorsAgree(checkpoint, theta)) return { model: withParameters(checkpoint, theta), perUse: false };
  return { model: rewireParameters(checkpoint, theta), perUse: true };
}
