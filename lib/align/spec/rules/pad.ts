/** Pad: an axis padded on neither side keeps its channels; a padded axis gets fixed new positions and fixes the channels it had. */
import { intsAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { loud, normAxis, quiet, type Rule } from '../rule.js';

export const padRule: Rule = {
  ops: ['Pad'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x)) return false;
    const rank = x.dims.length;
    const pads = node.input[1] ? ctx.ints(node.input[1]) : intsAttr(node, 'pads');
    const axesList = node.input[3] ? ctx.ints(node.input[3]) : undefined;
    if (!pads || (node.input[3] && !axesList)) return false;
    const axes = (axesList ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
    const n = axes.length;
    const out: Segment[][] = [];
    for (let k = 0; k < rank; k++) {
      const i = axes.indexOf(k);
      if (i < 0 || (pads[i] === 0 && pads[i + n] === 0)) out.push(ctx.L(x, k));
      else {
        if (ctx.vars.permutable(ctx.L(x, k))) ctx.vars.fixLayout(ctx.L(x, k), loud(`${where} pads this axis`));
        out.push(ctx.vars.axis(dims[k]!, `${where} axis ${k}`, quiet('padded axis')));
      }
    }
    ctx.setOut(node, 0, out);
    return true;
  },
};
