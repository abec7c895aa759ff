/**
 * Reshape, Flatten, Squeeze, Unsqueeze: a row-major regrouping of axes, followed through the
 * dims. Input and output axes (ignoring those of length 1) are matched into runs of equal
 * product; a run of several input axes is read as one (possible when at most one of them can be
 * permuted: Flatten of N×C×H×W gives channel blocks of H·W), and one axis read as several must
 * put its channels on one of them.
 *
 * Attention heads are the exception: D channels read as [H, d_head] (the q/k/v projections'
 * outputs split into heads) are cut into H blocks of d_head, each a variable of its own (the
 * within-head permutation of that head); the H axis gets a family variable whose unit u stands
 * for block u (the head permutation), and the d_head axis the blocks themselves (layout.ts,
 * Segment.of). Read back as one axis ([H, d_head] → D), the blocks lie end to end again.
 */
import { span, type FixReason, type Segment } from '../layout.js';
import { loud, product, quiet, type Rule, type RuleContext } from '../rule.js';

/** Several axes read as one (row-major): possible when at most one of them can be permuted. */
function merge(ctx: RuleContext, layouts: Segment[][], dims: number[], where: string): Segment[] {
  if (layouts.length === 1) return layouts[0]!;
  const movable = layouts.map((l, k) => k).filter((k) => ctx.vars.permutable(layouts[k]!));
  const total = product(dims);
  if (movable.length === 0) return ctx.vars.axis(total, `${where} merged axes`, quiet('merged fixed axes'));
  const heads = mergeHeads(ctx, layouts, dims, movable);
  if (heads) return heads;
  const k = movable[0]!;
  const outer = product(dims.slice(0, k));
  const innerSize = product(dims.slice(k + 1));
  const block = ctx.vars.expand(layouts[k]!).map((s) => ({ ...s, inner: s.inner * innerSize }));
  if (movable.length > 1 || outer * block.length > 100_000) {
    const reason = loud(`${where} merges ${movable.length > 1 ? 'two permutable axes' : 'an axis into too many blocks to follow'}`);
    for (const m of movable) ctx.vars.fixLayout(layouts[m]!, reason);
    return ctx.vars.axis(total, `${where} merged axes`, reason);
  }
  return Array.from({ length: outer }, () => block).flat();
}

/**
 * A head axis followed by its head dims ([…, H, …, d_head, …] read as one): head u's block of
 * member units lies at u's positions, repeated over the axes in between and around.
 */
function mergeHeads(ctx: RuleContext, layouts: Segment[][], dims: number[], movable: number[]): Segment[] | null {
  if (movable.length !== 2) return null;
  const [k1, k2] = movable as [number, number];
  const dimsOf = ctx.vars.expand(layouts[k2]!);
  const heads = ctx.vars.expand(layouts[k1]!);
  const d = dimsOf[0];
  if (dimsOf.length !== 1 || d?.of === undefined) return null;
  const family = ctx.vars.find(d.v);
  if (heads.some((s) => s.of !== undefined || s.inner !== 1 || ctx.vars.find(s.v) !== family)) return null;
  const members = ctx.vars.members(d.of);
  const outer = product(dims.slice(0, k1));
  const between = product(dims.slice(k1 + 1, k2));
  const inner = d.inner * product(dims.slice(k2 + 1));
  const block = heads.flatMap(() => members.flatMap((m) => Array.from({ length: between }, () => ({ v: m, count: d.count, inner }))));
  if (outer * block.length > 100_000) return null;
  return Array.from({ length: outer }, () => block).flat();
}

/**
 * D channels read as [..., d_head] that no single axis can take: cut into blocks of d_head, one
 * per head, repeating with period H along the outer positions (layout.ts, Segment.of). Null when
 * the channels do not fall into such blocks.
 */
function splitHeads(ctx: RuleContext, layout: Segment[], dims: number[], where: string): Segment[][] | null {
  const size = dims[dims.length - 1]!;
  if (dims.length < 2 || size < 2) return null;
  let e = ctx.vars.expand(layout);
  if (e.some((s) => s.of !== undefined || s.inner !== 1 || s.count % size !== 0)) return null;
  for (const v of new Set(e.filter((s) => s.count > size).map((s) => ctx.vars.find(s.v)))) {
    const origin = ctx.vars.origin[v]!;
    const n = ctx.vars.count(v) / size;
    ctx.vars.refine(v, Array.from({ length: n }, (_, u) => ({ v: ctx.vars.fresh(size, `${origin} head ${u}`), count: size, inner: 1 })));
  }
  e = ctx.vars.expand(layout);
  if (e.length > 100_000) return null;
  const seq = e.map((s) => ctx.vars.find(s.v));
  const period = Array.from({ length: seq.length }, (_, p) => p + 1).find(
    (p) => seq.length % p === 0 && new Set(seq.slice(0, p)).size === p && seq.every((v, i) => v === seq[i % p]),
  );
  if (!period || period < 2) return null;
  const family = ctx.vars.fresh(period, where);
  const list = ctx.vars.newBlocks(family, seq.slice(0, period));
  const outer = splitAxis(ctx, Array.from({ length: seq.length / period }, () => ({ v: family, count: period, inner: 1 })), dims.slice(0, -1), where);
  return [...outer, [{ v: family, count: size, inner: 1, of: list }]];
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
      m === k ? block.map((s) => ({ ...s, inner: s.inner / inner })) : ctx.vars.axis(d, `${where} axis part ${m}`, quiet('split axis')),
    );
  }
  const heads = splitHeads(ctx, e, dims, where);
  if (heads) return heads;
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
