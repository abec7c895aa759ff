/**
 * Slice: an axis taken whole keeps its channels; a contiguous part (step 1) takes the channels
 * it covers; a strided or misaligned part fixes the channels it reads. Starts, axes and steps
 * come from attributes (older opsets) or constant inputs.
 */
import { intsAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { loud, normAxis, quiet, type Rule } from '../rule.js';

export const sliceRule: Rule = {
  ops: ['Slice'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x)) return false;
    const rank = x.dims.length;
    const fromInputs = node.input.length > 1;
    const starts = fromInputs ? ctx.ints(node.input[1]) : intsAttr(node, 'starts');
    const axesRaw = fromInputs ? (node.input[3] ? ctx.ints(node.input[3]) : undefined) : intsAttr(node, 'axes');
    const steps = fromInputs && node.input[4] ? ctx.ints(node.input[4]) : undefined;
    if (!starts || (fromInputs && node.input[3] && !axesRaw) || (node.input[4] && !steps)) return false;
    const axes = (axesRaw ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
    const out: Segment[][] = [];
    for (let k = 0; k < rank; k++) {
      const i = axes.indexOf(k);
      const d = x.dims[k]!;
      if (i < 0 || (dims[k] === d && (steps?.[i] ?? 1) === 1 && Math.min(Math.max(starts[i]! < 0 ? starts[i]! + d : starts[i]!, 0), d) === 0)) {
        out.push(ctx.L(x, k));
        continue;
      }
      const step = steps?.[i] ?? 1;
      const start = Math.min(Math.max(starts[i]! < 0 ? starts[i]! + d : starts[i]!, 0), d);
      const part = step === 1 ? ctx.vars.slice(ctx.L(x, k), start, start + dims[k]!) : null;
      if (part) out.push(part);
      else {
        if (ctx.vars.permutable(ctx.L(x, k))) ctx.vars.fixLayout(ctx.L(x, k), loud(`${where} takes a strided or misaligned part of the channels`));
        out.push(ctx.vars.axis(dims[k]!, `${where} axis ${k}`, quiet('sliced axis')));
      }
    }
    ctx.setOut(node, 0, out);
    return true;
  },
};
