/**
 * Gather (an embedding lookup, a position table read by a Range): the looked-up axis is indexed
 * by integers, so its channels stay in place; the data's other axes carry their channels
 * through, around the index axes the indices bring in.
 */
import { intAttr } from '../../../onnx/attributes.js';
import { loud, normAxis, quiet, type Rule } from '../rule.js';

export const gatherRule: Rule = {
  ops: ['Gather'],
  apply({ node, inputs, where }, ctx) {
    const data = inputs[0];
    const dims = ctx.outDims(node);
    const indices = node.input[1] ? ctx.otherDims(node.input[1]) : undefined;
    if (!data || !dims || !indices || !ctx.tracked(data) || inputs[1]?.kind !== 'other') return false;
    const rank = data.dims.length;
    const axis = normAxis(intAttr(node, 'axis', 0), rank);
    if (dims.length !== rank - 1 + indices.length) return false;
    const looked = ctx.L(data, axis);
    if (ctx.vars.permutable(looked)) ctx.vars.fixLayout(looked, loud(`${where} looks entries of this axis up by index`));
    ctx.setOut(node, 0, [
      ...data.dims.slice(0, axis).map((_, k) => ctx.L(data, k)),
      ...indices.map((d, k) => ctx.vars.axis(d, `${where} index axis ${k}`, quiet('index axis'))),
      ...data.dims.slice(axis + 1).map((_, k) => ctx.L(data, axis + 1 + k)),
    ]);
    return true;
  },
};
