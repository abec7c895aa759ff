/**
 * Resize, Upsample: the spatial axes are resampled (new, fixed); batch and channels carry
 * through when their length is kept, and are fixed when resized. tf_crop_and_resize is not followed.
 */
import { stringAttr } from '../../../onnx/attributes.js';
import { loud, quiet, type Rule } from '../rule.js';

export const resizeRule: Rule = {
  ops: ['Resize', 'Upsample'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x) || dims.length !== x.dims.length) return false;
    if (stringAttr(node, 'coordinate_transformation_mode') === 'tf_crop_and_resize') return false;
    ctx.setOut(node, 0, dims.map((d, k) => (d === x.dims[k] && k < 2 ? ctx.L(x, k) : ctx.vars.axis(d, `${where} axis ${k}`, quiet('resized axis')))));
    for (const k of [0, 1]) if (dims[k] !== x.dims[k] && ctx.vars.permutable(ctx.L(x, k))) ctx.vars.fixLayout(ctx.L(x, k), loud(`${where} resizes this axis`));
    return true;
  },
};
