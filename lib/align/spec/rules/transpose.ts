/** Transpose: output axis k is input axis perm[k] with its channels (default perm: the axes reversed). */
import { intsAttr } from '../../../onnx/attributes.js';
import type { Rule } from '../rule.js';

export const transposeRule: Rule = {
  ops: ['Transpose'],
  apply({ node, inputs }, ctx) {
    const x = inputs[0];
    if (!x || !ctx.tracked(x)) return false;
    const rank = x.dims.length;
    const perm = intsAttr(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    ctx.setOut(node, 0, perm.map((p) => ctx.L(x, p)));
    return true;
  },
};
