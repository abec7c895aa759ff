/**
 * The spec read off a solved graph: every leaf channel variable that parameters act on becomes a
 * group (2 units or more, not fixed), a fixed entry (with the reasons worth reporting), or a
 * layer of width 1; each collects the parameter and value axes its units occupy.
 */
import type { Parameter } from '../../checkpoint.js';
import type { SolvedGraph } from './engine.js';
import type { Layout } from './layout.js';
import type { FixedChannels, ParameterAction, PermutationGroup, PermutationSpec, TrivialGroup, ValueAction } from './types.js';

export function collectSpec(solved: SolvedGraph): PermutationSpec {
  const { checkpoint: cp, vars } = solved;
  interface Acc {
    params: ParameterAction[];
    values: ValueAction[];
  }
  const byRoot = new Map<number, Acc>();
  const acc = (root: number): Acc => {
    let a = byRoot.get(root);
    if (!a) {
      a = { params: [], values: [] };
      byRoot.set(root, a);
    }
    return a;
  };
  const walk = (layout: Layout, visit: (root: number, offset: number, inner: number) => void): void => {
    let pos = 0;
    for (const s of vars.expand(layout)) {
      visit(s.v, pos, s.inner);
      pos += s.count * s.inner;
    }
  };
  const inputName = (p: Parameter): string => cp.model.graph?.node[p.nodeIndex]?.input[p.inputIndex] || p.tensor;
  for (const p of cp.parameters) {
    const axes = solved.params.get(p.index);
    if (!axes) continue;
    axes.forEach((l, axis) => {
      if (!l) return;
      walk(l, (root, offset, inner) =>
        acc(root).params.push({ parameter: p.index, tensor: p.tensor, input: inputName(p), node: p.node, op: p.op, inputIndex: p.inputIndex, shape: p.shape, axis, offset, inner }),
      );
    });
  }
  for (const [value, layouts] of solved.values) {
    const dims = solved.shapes.get(value)!.dims;
    layouts.forEach((l, axis) => walk(l, (root, offset, inner) => acc(root).values.push({ value, shape: dims, axis, offset, inner })));
  }
  // Members of each leaf class, for labels.
  const members = new Map<number, number[]>();
  for (let v = 0; v < vars.length; v++) {
    if (vars.isRefined(v)) continue;
    const r = vars.find(v);
    let m = members.get(r);
    if (!m) {
      m = [];
      members.set(r, m);
    }
    m.push(v);
  }
  const label = (root: number): string => {
    const m = (members.get(root) ?? [root]).filter((v) => solved.channelVars.has(v) || v === root);
    const named = [...new Set(m.map((v) => vars.origin[v]!))];
    return named.length <= 1 ? named[0] ?? vars.origin[root]! : `${named[0]} (+${named.length - 1} tied: ${named.slice(1, 4).join(', ')}${named.length > 4 ? ', …' : ''})`;
  };
  const order = (a: ParameterAction, b: ParameterAction): number => a.parameter - b.parameter || a.axis - b.axis || a.offset - b.offset;
  const groups: Omit<PermutationGroup, 'index'>[] = [];
  const fixed: FixedChannels[] = [];
  const trivial: TrivialGroup[] = [];
  for (const [root, a] of byRoot) {
    if (a.params.length === 0) continue;
    a.params.sort(order);
    const size = vars.count(root);
    if (vars.isFixed(root)) {
      const reasons = vars.fixReasons(root).filter((r) => !r.quiet).map((r) => r.text);
      if (size > 1 && reasons.length > 0) fixed.push({ size, label: label(root), reasons, parameters: a.params });
      continue;
    }
    if (size < 2) {
      if ((members.get(root) ?? []).some((v) => solved.channelVars.has(v))) trivial.push({ label: label(root), parameters: a.params });
      continue;
    }
    const weightInputs = a.values.filter((v) => solved.weightInputs.has(v.value));
    const fallback = a.values.filter((v) => !solved.outputNames.has(v.value));
    groups.push({
      size,
      label: label(root),
      parameters: a.params,
      values: a.values,
      activations: weightInputs.length > 0 ? weightInputs : fallback.slice(-1),
    });
  }
  const first = (g: { parameters: readonly ParameterAction[] }): ParameterAction => g.parameters[0]!;
  groups.sort((x, y) => order(first(x), first(y)));
  fixed.sort((x, y) => order(first(x), first(y)));
  trivial.sort((x, y) => order(first(x), first(y)));
  return {
    file: cp.file,
    inputShape: [...solved.inputShape],
    groups: groups.map((g, index) => ({ index, ...g })),
    fixed,
    trivial,
    unknownOps: solved.unknownOps,
  };
}
