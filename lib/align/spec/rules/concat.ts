/**
 * Concat: along its axis the inputs' channels lie end to end ([0:64), [64:128)); along every
 * other axis they must be the same channels.
 *
 * Stacking (each input of length 1 along the axis, as torch.stack exports) the outputs of
 * branches with the same ops and parameter shapes (the experts of a mixture) gives the axis one
 * variable, a unit per branch: permuting it exchanges the branches' parameters wholesale, and
 * the gate whose outputs meet this axis permutes with it.
 */
import { intAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { normAxis, type Rule, type Tracked } from '../rule.js';

export const concatRule: Rule = {
  ops: ['Concat'],
  apply({ node, inputs, where }, ctx) {
    const dims = ctx.outDims(node);
    const ops = inputs.filter((o) => o.kind !== 'none');
    if (!dims || ops.some((o) => !ctx.tracked(o))) return false;
    const tracked = ops as Tracked[];
    const axis = normAxis(intAttr(node, 'axis', 0), dims.length);
    const out: Segment[][] = [];
    for (let k = 0; k < dims.length; k++) {
      if (k === axis) {
        const stacked = tracked.length > 1 && tracked.every((o) => o.kind === 'value' && o.dims[k] === 1);
        const family = stacked ? ctx.vars.fresh(tracked.length, `${where} experts`) : -1;
        out.push(stacked && ctx.experts(tracked.map((o) => (o as { name: string }).name), family) ? [{ v: family, count: tracked.length, inner: 1 }] : tracked.flatMap((o) => ctx.L(o, k)));
        continue;
      }
      const first = ctx.L(tracked[0]!, k);
      for (const o of tracked.slice(1)) ctx.vars.unify(first, ctx.L(o, k), where);
      out.push(first);
    }
    ctx.setOut(node, 0, out);
    return true;
  },
};
