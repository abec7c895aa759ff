/**
 * Permutation spec inferred from the ONNX graph (SCIENCE.md §5): which hidden units can be
 * permuted together, and every parameter axis (and graph value axis) each permutation moves.
 *
 * Channel axes of every graph value and parameter use are described by layouts over channel
 * variables (layout.ts). The engine (engine.ts) visits the nodes in graph order and hands each
 * to the rule of its op type (rules/: one file per op family); each rule relates the layouts of
 * its inputs, parameters and outputs so that permuting them consistently leaves the op's result
 * permuted the same way (or unchanged). The solved variables become groups, fixed channels and
 * width-1 layers (collect.ts). The model's input and outputs, constants that vary along a
 * channel axis, and everything an op no rule follows touches stay fixed, with the reasons recorded.
 *
 * Shapes come from one onnxruntime run of the model itself on a zero input (batch 2; the probe
 * in lib/session.ts), so no data is needed. Parameters are per use (lib/checkpoint.ts): a tensor
 * shared by two nodes gets one action per use, and the uses may be permuted differently (see
 * lib/align/permute.ts).
 */
import type { Checkpoint } from '../../checkpoint.js';
import { resolveOptions, type OptionSchema } from '../../options.js';
import { probeInputShape, probeShapes, type ValueShape } from '../../session.js';
import { collectSpec } from './collect.js';
import { solveGraph } from './engine.js';
import type { PermutationSpec, SpecOptions } from './types.js';

/** The option kinds spec inference takes (defaults and validation: lib/options.ts). */
export const SPEC_OPTIONS = { inputShape: 'inputShape', constants: 'constants', permuteConstants: 'permuteConstants' } as const satisfies OptionSchema<SpecOptions>;

/** Infers the permutation spec of a checkpoint (one onnxruntime run on zeros for the shapes). */
export async function inferSpec(checkpoint: Checkpoint, options: SpecOptions = {}): Promise<PermutationSpec> {
  const inputShape = probeInputShape(checkpoint, resolveOptions('inferSpec()', SPEC_OPTIONS, options).inputShape);
  const shapes = await probeShapes(checkpoint, inputShape);
  return inferSpecFromShapes(checkpoint, shapes, inputShape, options);
}

/** The spec from known value shapes (inferSpec without the probe run). */
export function inferSpecFromShapes(checkpoint: Checkpoint, shapes: Map<string, ValueShape>, inputShape: readonly number[], options: SpecOptions = {}): PermutationSpec {
  const { constants, permuteConstants } = resolveOptions('inferSpec()', SPEC_OPTIONS, options);
  return collectSpec(solveGraph(checkpoint, shapes, inputShape, permuteConstants ? [] : (constants ?? [])));
}

export type { AxisAction, ParameterAction, ValueAction, PermutationGroup, FixedChannels, TrivialGroup, PermutationSpec, SpecOptions, ExpertParameter } from './types.js';
export { BoundSpec, type GroupAction } from './bound.js';
export { actionKey, checkSameSpec } from './compare.js';
export { sharedConstants } from './constants.js';
export { describeAction, formatSpec } from './report.js';
