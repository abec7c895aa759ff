/**
 * Reshape, Flatten, Squeeze, Unsqueeze: a row-major regrouping of axes, followed through the
 * dims. Input and output axes (ignoring those of length 1) are matched into runs of equal
 * product; a run of several input axes is read as one (possible when at most one of them can be
 * permuted: Flatten of N×C×H×W gives channel blocks of H·W), and one axis read as several must
 * put its channels on one of them.
 */
import { span, type FixReason, type Segment } from '../layout.js';
import { loud, product, quiet, type Rule, type RuleContext } from '../rule.js';

/** Several axes read as one (row-major): possible when at most one of them can be permuted. */
function merge(ctx: RuleContext, layouts: Segment[][], dims: number[], where: string): Segment[] {
  if (layouts.length === 1) return layouts[0]!;
  const movable = layouts.map((l, k) => k).filter((k) => ctx.vars.permutable(layouts[k]!));
  const total = product(dims);
  if (movable.length === 0) return ctx.vars.axis(total, `${where} merged axes`, quiet('merged fixed axes'));
  const k = movable[0]!;
  const outer = product(dims.slice(0, k));
  const innerSize = product(dims.slice(k + 1));
  const block = ctx.vars.expand(layouts[k]!).map((s) => ({ v: s.v, count: s.count, inner: s.inner * innerSize }));
  if (movable.length > 1 || outer * block.length > 100_000) {
    const reason = loud(`${where} merges ${movable.length > 1 ? 'two permutable axes' : 'an axis into too many blocks to follow'}`);
    for (const m of movable) ctx.vars.fixLayout(layouts[m]!, reason);
    return ctx.vars.axis(total, `${where} merged axes`, reason);
  }
  return Array.from({ length: outer }, () => block).flat();
}

/** One axis read as several (row-major): the channels must land on one of them. */
function splitAxis(ctx: RuleContext, layout: Segment[], dims: number[], where: string): Segment[][] {
  if (dims.length === 1) return [layout];
  const fixedAll = (reason: FixReason): Segment[][] => dims.map((d, n) => ctx.vars.axis(d, `${where} axis part ${n}`, reason));
  const e = ctx.vars.expand(layout);
  if (!ctx.vars.permutable(e)) return fixedAll(quiet('split fixed axis'));
  for (let k = 0; k < dims.length; k++) {
    const outer = product(dims.slice(0, k));
    const inner = product(dims.slice(k + 1));
    if (e.length % outer !== 0) continue;
    const n = e.length / outer;
    const block = e.slice(0, n);
    const same = e.every((s, q) => {
      const t = block[q % n]!;
      return s.v === t.v && s.count === t.count && s.inner === t.inner;
    });
    if (!same || span(block) !== dims[k]! * inner || block.some((s) => s.inner % inner !== 0)) continue;
    return dims.map((d, m) =>
      m === k ? block.map((s) => ({ v: s.v, count: s.count, inner: s.inner / inner })) : ctx.vars.axis(d, `${where} axis part ${m}`, quiet('split axis')),
    );
  }
  const reason = loud(`${where} spreads channels over several axes`);
  ctx.vars.fixLayout(e, reason);
  return fixedAll(reason);
}

export const reshapeRule: Rule = {
  ops: ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'],
  apply({ node, inputs, where }, ctx) {
    const x = inputs[0];
    const dims = ctx.outDims(node);
    if (!x || !dims || !ctx.tracked(x)) return false;
    const inDims = x.dims;
    if (product(inDims) !== product(dims)) return false;
    const out: (Segment[] | undefined)[] = dims.map(() => undefined);
    const ia = inDims.map((_, k) => k).filter((k) => inDims[k] !== 1);
    const oa = dims.map((_, k) => k).filter((k) => dims[k] !== 1);
    if (inDims.includes(0) || dims.includes(0)) return false;
    let i = 0;
    let j = 0;
    while (i < ia.length && j < oa.length) {
      const gi = [ia[i++]!];
      const gj = [oa[j++]!];
      let pi = inDims[gi[0]!]!;
      let pj = dims[gj[0]!]!;
      while (pi !== pj) {
        if (pi < pj) {
          if (i >= ia.length) return false;
          gi.push(ia[i]!);
          pi *= inDims[ia[i++]!]!;
        } else {
          if (j >= oa.length) return false;
          gj.push(oa[j]!);
          pj *= dims[oa[j++]!]!;
        }
      }
      const merged = merge(ctx, gi.map((k) => ctx.L(x, k)), gi.map((k) => inDims[k]!), where);
      const parts = splitAxis(ctx, merged, gj.map((k) => dims[k]!), where);
      gj.forEach((k, n) => (out[k] = parts[n]!));
    }
    if (i < ia.length || j < oa.length) return false;
    ctx.setOut(node, 0, out.map((l, k) => l ?? ctx.vars.axis(dims[k]!, `${where} axis ${k}`, quiet('unit axis'))));
    return true;
  },
};
