/**
 * Binary (and variadic) element-wise ops under numpy broadcasting (Add, Mul, PRelu, Clip, …):
 * along an output axis, operands whose dim is not 1 meet element by element, so their channels
 * must be the same: a residual Add puts both streams in one group, a squeeze-excitation Mul ties
 * the scale to the features. A constant operand that varies along an axis fixes its channels.
 * Where(condition, x, y) is one of them: a condition that varies along an axis (a causal mask
 * over the token axes) fixes that axis like a constant. Comparisons and logical ops give a
 * boolean mask with the channels of their operands (top-k routing's `logits < k-th largest`).
 */
import type { Segment } from '../layout.js';
import { loud, quiet, type Rule } from '../rule.js';

export const broadcastRule: Rule = {
  ops: ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Clip', 'Where', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor'],
  apply({ node, inputs, where }, ctx) {
    const dims = ctx.outDims(node);
    if (!dims) return false;
    const rank = dims.length;
    const operands = inputs.filter((o) => o.kind !== 'none');
    const reasonConst = loud(`a constant operand of ${where} varies along this axis`);
    const out: Segment[][] = [];
    for (let j = 0; j < rank; j++) {
      let layout: Segment[] | undefined;
      for (const o of operands) {
        if (o.kind === 'other') {
          // A non-float initializer or an untracked value: only its dims matter; it varies along j?
          const od = ctx.otherDims(o.name);
          if (!od) return false;
          const k = j - (rank - od.length);
          if (k >= 0 && od[k] !== 1 && dims[j]! > 1) {
            const fixed = ctx.vars.axis(dims[j]!, `${where} constant`, reasonConst);
            if (layout) ctx.vars.unify(layout, fixed, where);
            else layout = fixed;
          }
          continue;
        }
        if (!ctx.tracked(o)) continue;
        const k = j - (rank - o.dims.length);
        if (k < 0 || o.dims[k] === 1) continue;
        if (o.dims[k] !== dims[j]) return false;
        const l = ctx.L(o, k);
        if (layout) ctx.vars.unify(layout, l, where);
        else layout = l;
      }
      out.push(layout ?? ctx.vars.axis(dims[j]!, `${where} axis ${j}`, quiet('broadcast axis')));
    }
    ctx.setOut(node, 0, out);
    return true;
  },
};
