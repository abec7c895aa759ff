/**
 * Permutation alignment (SCIENCE.md §5): B's hidden units permuted to match A's, by weight
 * matching or activation matching over the permutation spec inferred from the ONNX graph.
 */
import type { Checkpoint } from '../checkpoint.js';
import { pairCheckpoints, withArena } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { collectGarbage, releaseMemory } from '../reclaim.js';
import { InvalidArgumentError } from '../errors.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import type { RunControl } from '../progress.js';
import { activationMatching, type ActivationMatchingResult, type CorrelationForm } from './activation-matching.js';
import { orthogonalAlignment, streamCrossOfActivations, type StreamMap } from './orthogonal.js';
import { permuteArena, permuteArenaInPlace } from './permute.js';
import { BoundSpec, checkSameSpec, inferSpec, sharedConstants, type PermutationSpec } from './spec/index.js';
import { weightMatching, type WeightMatchingResult } from './weight-matching.js';

export type AlignMethod = 'weight' | 'activation';
/** What B may be changed by: permutations of every group, or permutations then an orthogonal map of each residual stream. */
export type AlignSymmetry = 'permutation' | 'orthogonal';

export interface AlignOptions extends RunControl {
  readonly method: AlignMethod;
  /**
   * 'permutation' (default), or 'orthogonal': after the permutations, each residual stream
   * aligned by an orthogonal map (Procrustes on the weights for 'weight', on the stream's
   * activations for 'activation'; lib/align/orthogonal.ts).
   */
  readonly symmetry?: AlignSymmetry;
  /** B's permutation spec when already inferred (A and B pair by structure, so it is A's too). */
  readonly spec?: PermutationSpec;
  /** The input shape to probe the graph with (default: the model's, batch 2). */
  readonly inputShape?: readonly number[];
  // weight matching
  /** Seed of the group order of the sweeps (default 0). */
  readonly seed?: number;
  /** Explicit group orders, one per sweep. */
  readonly orders?: readonly (readonly number[])[];
  readonly maxSweeps?: number;
  readonly tolerance?: number;
  /** Threads of the native products (default 1). */
  readonly threads?: number;
  // activation matching
  /** The inputs both models run on (required for 'activation'). */
  readonly data?: Dataset;
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
  readonly correlation?: CorrelationForm;
  /**
   * Permute symmetry-breaking constants (tensors equal in A and B) like parameters, instead of
   * fixing the groups they would change (default false).
   */
  readonly permuteConstants?: boolean;
  /**
   * B's arena is permuted in place and becomes the aligned B's (default false): for a caller
   * done with B, alignment then holds no third arena. B itself must not be used after.
   */
  readonly consumeB?: boolean;
}

/** The options alignment takes as plain values, from callers that hand over files (alignFiles). */
export type PlainAlignOptions = Omit<AlignOptions, 'data' | 'spec' | 'consumeB'>;

/** The option kinds alignment takes as plain values (what `alignFiles` passes on; defaults and validation: lib/options.ts). */
export const PLAIN_ALIGN_OPTIONS = {
  method: 'method',
  symmetry: 'symmetry',
  inputShape: 'inputShape',
  seed: 'seed',
  orders: 'orders',
  maxSweeps: 'maxSweeps',
  tolerance: 'tolerance',
  threads: 'threads',
  batchSize: 'batchSize',
  correlation: 'correlation',
  permuteConstants: 'permuteConstants',
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<PlainAlignOptions>;

/** The option kinds `align` takes. */
export const ALIGN_OPTIONS = { ...PLAIN_ALIGN_OPTIONS, spec: 'spec', data: 'dataset', consumeB: 'consumeB' } as const satisfies OptionSchema<AlignOptions>;

export interface AlignResult {
  readonly method: AlignMethod;
  readonly spec: PermutationSpec;
  /** One per spec group: unit i of the aligned B is unit permutations[g][i] of B. */
  readonly permutations: Int32Array[];
  /** B with its parameters permuted: B's model and parameter layout, the permuted arena. */
  readonly aligned: Checkpoint;
  /**
   * 'weight': Σ ⟨θ_A, π(θ_B)⟩ after each sweep. 'activation': one value, Σ over the groups of
   * ⟨P, C⟩ (the summed correlation of the matched units).
   */
  readonly objective: number[];
  /** The same before alignment (identities). */
  readonly initialObjective: number;
  readonly weightMatching?: WeightMatchingResult;
  readonly activationMatching?: ActivationMatchingResult;
  /** With symmetry 'orthogonal': each residual stream's map, applied after the permutations (the aligned arena holds both). */
  readonly orthogonal?: readonly StreamMap[];
  /** With symmetry 'orthogonal': B with the permutations alone. */
  readonly permuted?: Checkpoint;
}

/**
 * Aligns B to A. Checks that A and B pair by structure and have the same permutation spec,
 * finds the permutations, and returns B with its parameters permuted (same layout as B).
 */
export async function align(a: Checkpoint, b: Checkpoint, options: AlignOptions): Promise<AlignResult> {
  const { method, symmetry, spec: given, inputShape, data, seed, orders, maxSweeps, tolerance, threads, batchSize, correlation, permuteConstants, consumeB, signal, onProgress } = resolveOptions('align()', ALIGN_OPTIONS, options);
  if (method === 'activation' && !data) {
    throw new InvalidArgumentError('activation matching needs data: give the inputs both models run on (--data)');
  }
  const { spec, bound } = await pairSpec(a, b, given, inputShape, permuteConstants);
  // The shape probe's outputs (every value of the graph) and its session's buffers are garbage now.
  releaseMemory();
  const permute = (perms: readonly Int32Array[]): Checkpoint => permutedB(b, bound, perms, consumeB);
  const control = { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
  let permuted: AlignResult;
  if (method === 'weight') {
    const wm = await weightMatching(a, b, bound, { ...control, seed, maxSweeps, tolerance, threads, ...(orders ? { orders } : {}) });
    // Weight matching's unit matrices and cached products are garbage now: gone before B's permuted arena is made.
    collectGarbage();
    permuted = {
      method: 'weight',
      spec,
      permutations: wm.permutations,
      aligned: permute(wm.permutations),
      objective: wm.objective,
      initialObjective: wm.initialObjective,
      weightMatching: wm,
    };
  } else {
    permuted = activationAlignment(b, spec, bound, await activationMatching(a, b, bound, { ...control, data: data!, batchSize, correlation, threads }), permute);
  }
  if (symmetry === 'permutation') return permuted;
  const cross = method === 'activation' ? await streamCrossOfActivations(a, permuted.aligned, bound, data!, batchSize, threads, control) : undefined;
  const orthogonal = orthogonalAlignment(a, permuted.aligned, bound, { threads }, cross);
  return { ...permuted, aligned: { ...b, arena: orthogonal.arena }, orthogonal: orthogonal.streams, permuted: permuted.aligned };
}

/**
 * A and B paired by structure, and their permutation spec (`given`, or inferred from both and
 * checked equal; tensors equal in A and B are constants unless `permuteConstants`), bound to B.
 */
export async function pairSpec(
  a: Checkpoint,
  b: Checkpoint,
  given: PermutationSpec | undefined,
  inputShape: readonly number[] | undefined,
  permuteConstants: boolean | undefined,
): Promise<{ spec: PermutationSpec; bound: BoundSpec }> {
  pairCheckpoints(a, b);
  let spec = given;
  if (!spec) {
    // Tensors equal in A and B are constants of the architecture: the groups they break stay fixed.
    const constants = sharedConstants(a, b);
    const shape = { ...(inputShape ? { inputShape } : {}), permuteConstants };
    const specA = await inferSpec(a, { ...shape, constants: constants.a });
    spec = await inferSpec(b, { ...shape, constants: constants.b });
    checkSameSpec(specA, spec);
  }
  return { spec, bound: BoundSpec.of(b, spec) };
}

/** B with `perms` applied: its own arena permuted in place when `consume` (a caller done with B), else a copy. */
function permutedB(b: Checkpoint, bound: BoundSpec, perms: readonly Int32Array[], consume = false): Checkpoint {
  return withArena(b, consume ? permuteArenaInPlace(b, bound, perms, b.arena) : permuteArena(b, bound, perms));
}

/** The alignment activation matching found: B permuted, the matched and the identity scores. */
export function activationAlignment(
  b: Checkpoint,
  spec: PermutationSpec,
  bound: BoundSpec,
  am: ActivationMatchingResult,
  permute = (perms: readonly Int32Array[]): Checkpoint => permutedB(b, bound, perms),
): AlignResult {
  const sum = (x: number[]): number => x.reduce((s, v) => s + v, 0);
  return {
    method: 'activation',
    spec,
    permutations: am.permutations,
    aligned: permute(am.permutations),
    objective: [sum(am.score)],
    initialObjective: sum(am.identityScore),
    activationMatching: am,
  };
}

export { activationMatching, activationMatchingSums, activationMatchingOfSums, type ActivationMatchingOptions, type ActivationMatchingResult, type CorrelationForm } from './activation-matching.js';
export { weightMatching, type WeightMatchingOptions, type WeightMatchingResult } from './weight-matching.js';
export { orthogonalAlignment, streamCrossOfActivations, streamNorms, streamGroups, type StreamMap, type StreamNorm, type OrthogonalAlignment } from './orthogonal.js';
export { probeShapes } from '../session.js';
export {
  inferSpec,
  inferSpecFromShapes,
  checkSameSpec,
  describeAction,
  formatSpec,
  BoundSpec,
  type GroupAction,
  type PermutationSpec,
  type PermutationGroup,
  type ParameterAction,
  type AxisAction,
  type ValueAction,
  type FixedChannels,
  type TrivialGroup,
  type ExpertParameter,
  type SpecOptions,
} from './spec/index.js';
export {
  permuteArena,
  permuteArenaInPlace,
  permutedModel,
  randomPermutations,
  identityPermutations,
  inversePermutation,
  checkPermutations,
  permutationsToJson,
  permutationsFromJson,
  type Permutations,
  type PermutedModel,
  type PermutationsFile,
} from './permute.js';
export { torchStateDict, scopePath, type TorchStateDict, type TorchTensor } from './names.js';
export { encodeSafetensors, decodeSafetensors, type SafetensorsTensor, type SafetensorsFile } from './safetensors.js';
