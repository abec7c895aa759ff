/**
 * Gemm, MatMul: the weight's input axis is tied to the incoming channels, and its output axis
 * starts the channels of the result (a group of its own unless something ties it to others).
 * MatMul's batch axes broadcast like an element-wise op; a bias C of Gemm follows the output.
 */
import { intAttr } from '../../../onnx/attributes.js';
import type { Segment } from '../layout.js';
import { quiet, type Rule, type RuleContext, type Site } from '../rule.js';

function gemm({ node, name, inputs, where }: Site, ctx: RuleContext): boolean {
  const [a, b, c] = inputs;
  if (!a || !b || !ctx.tracked(a) || !ctx.tracked(b)) return false;
  if (a.dims.length !== 2 || b.dims.length !== 2) return false;
  const transA = intAttr(node, 'transA', 0);
  const transB = intAttr(node, 'transB', 0);
  const [aM, aK] = transA ? [1, 0] : [0, 1];
  const [bK, bN] = transB ? [1, 0] : [0, 1];
  ctx.vars.unify(ctx.L(a, aK), ctx.L(b, bK), where);
  const n = ctx.outputChannels(b, bN, name);
  const out = [ctx.L(a, aM), n];
  if (c && c.kind !== 'none') {
    if (!ctx.tracked(c)) return false;
    const cd = c.dims;
    for (let k = 0; k < cd.length; k++) {
      const j = k + 2 - cd.length;
      if (j < 0 || cd[k] === 1) continue;
      ctx.vars.unify(out[j]!, ctx.L(c, k), where);
    }
  }
  ctx.setOut(node, 0, out);
  return true;
}

function matmul({ node, name, inputs, where }: Site, ctx: RuleContext): boolean {
  const [a, b] = inputs;
  const dims = ctx.outDims(node);
  if (!a || !b || !dims || !ctx.tracked(a) || !ctx.tracked(b)) return false;
  const ra = a.dims.length;
  const rb = b.dims.length;
  if (ra < 2 || rb < 2) return false;
  const rank = dims.length;
  ctx.vars.unify(ctx.L(a, ra - 1), ctx.L(b, rb - 2), where);
  const out: Segment[][] = [];
  for (let j = 0; j < rank - 2; j++) {
    let layout: Segment[] | undefined;
    for (const o of [a, b]) {
      const k = j - (rank - o.dims.length);
      if (k < 0 || o.dims[k] === 1) continue;
      const l = ctx.L(o, k);
      if (layout) ctx.vars.unify(layout, l, where);
      else layout = l;
    }
    out.push(layout ?? ctx.vars.axis(dims[j]!, `${where} axis ${j}`, quiet('broadcast axis')));
  }
  out.push(a.kind === 'param' ? ctx.outputChannels(a, ra - 2, name) : ctx.L(a, ra - 2));
  out.push(ctx.outputChannels(b, rb - 1, name));
  ctx.setOut(node, 0, out);
  return true;
}

export const gemmRule: Rule = {
  ops: ['Gemm', 'MatMul'],
  readsWeights: true,
  apply: (site, ctx) => (site.op === 'Gemm' ? gemm(site, ctx) : matmul(site, ctx)),
};
