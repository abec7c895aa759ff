/** Constant, ConstantOfShape: values that vary along no channel; they are fixed wherever they meet channels. */
import { loud, type Rule } from '../rule.js';

export const constantRule: Rule = {
  ops: ['Constant', 'ConstantOfShape'],
  anyInputs: true,
  apply({ node, where }, ctx) {
    const dims = ctx.outDims(node);
    if (dims) ctx.setOut(node, 0, ctx.freshFixed(dims, `constant '${node.output[0]}'`, loud(`constant from ${where}`)));
    return true;
  },
};
