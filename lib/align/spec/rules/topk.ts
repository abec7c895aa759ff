/**
 * TopK along an axis: the k largest (or smallest) values in sorted order, which do not depend on
 * how the axis is permuted (a permuted row has the same sorted values), so that axis's channels
 * end there and the k sorted positions are fixed; every other axis carries its channels through.
 * The indices name positions on the axis: a graph that reads them (gathering or scattering by
 * expert index) is caught by the engine's non-float guard, which fixes the axis.
 */
import { intAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { normAxis, quiet, type Rule } from '../rule.js';

export const topKRule: Rule = {
  ops: ['TopK'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node, 0);
    if (!ctx.tracked(x) || !dims || dims.length !== x.dims.length) return false;
    const axis = normAxis(intAttr(node, 'axis', -1), x.dims.length);
    const out: Segment[][] = x.dims.map((_, k) => (k === axis ? ctx.vars.axis(dims[k]!, `${where} top-k positions`, quiet('sorted top-k positions')) : ctx.L(x, k)));
    ctx.setOut(node, 0, out);
    return true;
  },
};
