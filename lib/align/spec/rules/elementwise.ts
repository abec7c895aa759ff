/**
 * Element-wise ops of one tensor (activations, Identity, Dropout, Cast, …): each output element
 * depends on the input element at the same position, so every axis carries its channels through.
 * A Cast to a non-float type is caught by the engine's non-float guard.
 */
import type { Rule, RuleContext, Site } from '../rule.js';

/** The output takes the input's layouts, axis by axis. */
export function carryThrough({ node, inputs }: Site, ctx: RuleContext): boolean {
  const x = inputs[0];
  if (!ctx.tracked(x)) return false;
  ctx.setOut(node, 0, x.dims.map((_, k) => ctx.L(x, k)));
  return true;
}

export const elementwiseRule: Rule = {
  ops: [
    'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Gelu', 'Softplus', 'Softsign',
    'Mish', 'Erf', 'Exp', 'Log', 'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan',
    'ThresholdedRelu', 'Identity', 'Dropout', 'Shrink', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh',
    'Asinh', 'Acosh', 'Atanh', 'IsNaN', 'IsInf', 'Cast', 'Not',
  ],
  apply: carryThrough,
};
