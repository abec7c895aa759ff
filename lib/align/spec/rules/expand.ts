/**
 * Expand, Tile: an axis kept at its length keeps its channels; an axis broadcast from length 1
 * is new and fixed; Tile repeats a channel axis, so each repetition carries the same channels.
 */
import type { Segment } from '../layout.js';
import { quiet, type Rule } from '../rule.js';

export const expandRule: Rule = {
  ops: ['Expand', 'Tile'],
  apply({ node, op, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x)) return false;
    const rank = dims.length;
    const out: Segment[][] = [];
    for (let j = 0; j < rank; j++) {
      const k = j - (rank - x.dims.length);
      const d = k >= 0 ? x.dims[k]! : 1;
      if (k >= 0 && d === dims[j]) out.push(ctx.L(x, k));
      else if (op === 'Tile' && k >= 0 && d > 1 && dims[j]! % d === 0) {
        const l = ctx.L(x, k);
        out.push(Array.from({ length: dims[j]! / d }, () => l).flat());
      } else {
        if (k >= 0 && d > 1) return false;
        out.push(ctx.vars.axis(dims[j]!, `${where} axis ${j}`, quiet('broadcast axis')));
      }
    }
    ctx.setOut(node, 0, out);
    return true;
  },
};
