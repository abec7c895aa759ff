/** Pools (local and global): per-channel over the spatial axes, so batch and channels carry through and the spatial axes are fixed. */
import type { Rule } from '../rule.js';

export const poolRule: Rule = {
  ops: ['MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x) || x.dims.length < 3) return false;
    ctx.setOut(node, 0, [ctx.L(x, 0), ctx.L(x, 1), ...ctx.spatial(2, dims, where)]);
    return true;
  },
};
