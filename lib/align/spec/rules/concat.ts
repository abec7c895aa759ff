/** Concat: along its axis the inputs' channels lie end to end ([0:64), [64:128)); along every other axis they must be the same channels. */
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
        out.push(tracked.flatMap((o) => ctx.L(o, k)));
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
