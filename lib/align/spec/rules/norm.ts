/**
 * Normalizations. BatchNormalization, InstanceNormalization: per-channel scale, bias and
 * statistics (1-D, axis 1) follow the channels; extra outputs (running statistics) are the
 * channels too. LayerNormalization: scale and bias broadcast against the normalized axes and
 * tie to their channels; its statistics outputs keep the axes they are not reduced over.
 */
import { quiet, type Rule, type RuleContext, type Site } from '../rule.js';

function channelNorm({ node, inputs, where }: Site, ctx: RuleContext): boolean {
  const x = inputs[0];
  if (!x || !ctx.tracked(x) || x.dims.length < 2) return false;
  const channels = ctx.L(x, 1);
  for (const o of inputs.slice(1)) {
    if (o.kind === 'none') continue;
    if (!ctx.tracked(o) || o.dims.length !== 1) return false;
    ctx.vars.unify(ctx.L(o, 0), channels, where);
  }
  ctx.setOut(node, 0, x.dims.map((_, k) => ctx.L(x, k)));
  node.output.forEach((_, slot) => {
    if (slot > 0 && ctx.outDims(node, slot)?.length === 1) ctx.setOut(node, slot, [channels]);
  });
  return true;
}

function layerNorm({ node, inputs, where }: Site, ctx: RuleContext): boolean {
  const x = inputs[0];
  if (!x || !ctx.tracked(x)) return false;
  const rank = x.dims.length;
  for (const o of inputs.slice(1)) {
    if (o.kind === 'none') continue;
    if (!ctx.tracked(o)) return false;
    o.dims.forEach((d, k) => {
      const j = k + rank - o.dims.length;
      if (d !== 1 && j >= 0) ctx.vars.unify(ctx.L(o, k), ctx.L(x, j), where);
    });
  }
  ctx.setOut(node, 0, x.dims.map((_, k) => ctx.L(x, k)));
  node.output.forEach((_, slot) => {
    const dims = slot > 0 ? ctx.outDims(node, slot) : undefined;
    if (dims) ctx.setOut(node, slot, dims.map((d, k) => (d === x.dims[k] ? ctx.L(x, k) : ctx.vars.axis(d, `${where} statistics`, quiet('reduced axis')))));
  });
  return true;
}

export const normRule: Rule = {
  ops: ['BatchNormalization', 'InstanceNormalization', 'LayerNormalization'],
  apply: (site, ctx) => (site.op === 'LayerNormalization' ? layerNorm(site, ctx) : channelNorm(site, ctx)),
};
