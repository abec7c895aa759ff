/**
 * Reductions (ReduceMean, ReduceSum, …): the axes not reduced carry their channels through; a
 * reduced axis is gone, or of length 1 with keepdims. Axes come from the attribute (older
 * opsets) or a constant second input; none means all, unless noop_with_empty_axes.
 */
import { intAttr, intsAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { normAxis, quiet, type Rule } from '../rule.js';

export const reduceRule: Rule = {
  ops: ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x)) return false;
    const rank = x.dims.length;
    let axes = intsAttr(node, 'axes');
    if (!axes && node.input[1]) {
      axes = ctx.ints(node.input[1]);
      if (!axes) return false;
    }
    if (!axes || axes.length === 0) {
      axes = intAttr(node, 'noop_with_empty_axes', 0) && node.input[1] !== undefined ? [] : Array.from({ length: rank }, (_, i) => i);
    }
    const reduced = new Set(axes.map((a) => normAxis(a, rank)));
    const keep = intAttr(node, 'keepdims', 1) === 1;
    const out: Segment[][] = [];
    for (let k = 0; k < rank; k++) {
      if (!reduced.has(k)) out.push(ctx.L(x, k));
      else if (keep) out.push(ctx.vars.axis(1, `${where} axis ${k}`, quiet('reduced axis')));
    }
    if (out.length !== dims.length) return false;
    ctx.setOut(node, 0, out);
    return true;
  },
};
