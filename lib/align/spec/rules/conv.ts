/**
 * Conv, ConvTranspose: like a linear layer over the channel axis, spatial axes fixed.
 * - Conv (group 1): the weight's axis 1 is tied to the input channels, its axis 0 starts the
 *   output channels.
 * - Depthwise (group = input channels): output channel c·m + j reads input channel c only, so
 *   the outputs follow the inputs in blocks of m.
 * - Grouped: input channels may not move across groups (fixed), and each group's outputs
 *   permute alone.
 * - ConvTranspose (group 1): the weight is [in, out, …].
 */
import { intAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { loud, type Rule, type RuleContext, type Site } from '../rule.js';

function conv({ node, name, inputs, where }: Site, ctx: RuleContext): boolean {
  const [x, w, b] = inputs;
  const dims = ctx.outDims(node);
  if (!x || !w || !dims || !ctx.tracked(x) || !ctx.tracked(w) || x.dims.length < 3 || w.dims.length !== x.dims.length) return false;
  const groups = intAttr(node, 'group', 1);
  const cin = x.dims[1]!;
  const cout = w.dims[0]!;
  let channels: Segment[];
  if (groups === 1) {
    ctx.vars.unify(ctx.L(x, 1), ctx.L(w, 1), where);
    channels = ctx.outputChannels(w, 0, name);
  } else if (groups === cin && cout % cin === 0) {
    const m = cout / cin;
    channels = ctx.vars.expand(ctx.L(x, 1)).map((s) => ({ ...s, inner: s.inner * m }));
    ctx.vars.unify(ctx.L(w, 0), channels, where);
  } else {
    ctx.vars.fixLayout(ctx.L(x, 1), loud(`grouped convolution ${where} (group=${groups}) mixes channels only within groups`));
    const per = cout / groups;
    channels = Array.from({ length: groups }, (_, g) => {
      const v = ctx.vars.fresh(per, `${name} output channels, group ${g}`);
      if (w.kind === 'param') ctx.markChannels(v);
      return { v, count: per, inner: 1 };
    });
    ctx.vars.unify(ctx.L(w, 0), channels, where);
  }
  if (b && b.kind !== 'none') {
    if (!ctx.tracked(b) || b.dims.length !== 1) return false;
    ctx.vars.unify(ctx.L(b, 0), channels, where);
  }
  ctx.setOut(node, 0, [ctx.L(x, 0), channels, ...ctx.spatial(2, dims, where)]);
  return true;
}

function convTranspose({ node, name, inputs, where }: Site, ctx: RuleContext): boolean {
  const [x, w, b] = inputs;
  const dims = ctx.outDims(node);
  if (!x || !w || !dims || !ctx.tracked(x) || !ctx.tracked(w) || intAttr(node, 'group', 1) !== 1) return false;
  ctx.vars.unify(ctx.L(x, 1), ctx.L(w, 0), where);
  const channels = ctx.outputChannels(w, 1, name);
  if (b && b.kind !== 'none') {
    if (!ctx.tracked(b)) return false;
    ctx.vars.unify(ctx.L(b, 0), channels, where);
  }
  ctx.setOut(node, 0, [ctx.L(x, 0), channels, ...ctx.spatial(2, dims, where)]);
  return true;
}

export const convRule: Rule = {
  ops: ['Conv', 'ConvTranspose'],
  readsWeights: true,
  apply: (site, ctx) => (site.op === 'Conv' ? conv(site, ctx) : convTranspose(site, ctx)),
};
