/** Split: each output takes the consecutive part of the channels it covers along the split axis (a variable cut at the bounds is refined). */
import { intAttr } from '../../../onnx/attributes.js';
import { loud, normAxis, type Rule } from '../rule.js';

export const splitRule: Rule = {
  ops: ['Split'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    if (!x || !ctx.tracked(x)) return false;
    const axis = normAxis(intAttr(node, 'axis', 0), x.dims.length);
    let offset = 0;
    for (let slot = 0; slot < node.output.length; slot++) {
      const dims = ctx.outDims(node, slot);
      if (!dims) return false;
      const part = ctx.vars.slice(ctx.L(x, axis), offset, offset + dims[axis]!);
      if (!part) {
        ctx.vars.fixLayout(ctx.L(x, axis), loud(`${where} cuts through a channel block`));
        return false;
      }
      ctx.setOut(node, slot, x.dims.map((_, k) => (k === axis ? part : ctx.L(x, k))));
      offset += dims[axis]!;
    }
    return true;
  },
};
