/**
 * The spec read off a solved graph: every leaf channel variable that parameters act on becomes a
 * group (2 units or more, not fixed), a fixed entry (with the reasons worth reporting), or a
 * layer of width 1; each collects the parameter and value axes its units occupy.
 *
 * A family variable (attention heads, layout.ts Segment.of) becomes a group of blocks: unit u is
 * head u's block of positions wherever its members (the within-head groups) act, and the group
 * lists the groups each unit carries. Its blocks must lie end to end in every tensor, and a head
 * whose dims are fixed cannot move, which fixes the head permutation.
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
      // Head dims are described by their members on the axes where the heads lie end to end.
      if (s.of === undefined) visit(s.v, pos, s.inner);
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
  type Pending = Omit<PermutationGroup, 'index' | 'carries'> & { root: number; lists?: number[][] };
  // (For experts, `lists` holds the roots of the groups inside each expert, by kind.)
  const groups: Pending[] = [];
  const families = new Set<number>();
  for (let v = 0; v < vars.length; v++) if (!vars.isRefined(v) && vars.blocksOf(v).length > 0) families.add(vars.find(v));
  const expertsOf = new Map(solved.experts.filter((e) => !vars.isRefined(e.family)).map((e) => [vars.find(e.family), e.parameters]));
  const fixed: FixedChannels[] = [];
  const trivial: TrivialGroup[] = [];
  for (const [root, a] of byRoot) {
    if ((a.params.length === 0 && !expertsOf.has(root)) || families.has(root) || expertsOf.has(root)) continue;
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
      root,
      size,
      label: label(root),
      parameters: a.params,
      values: a.values,
      activations: weightInputs.length > 0 ? weightInputs : fallback.slice(-1),
    });
  }
  for (const family of families) {
    const size = vars.count(family);
    if (size < 2) continue;
    const lists = [...new Map(vars.blocksOf(family).map((id) => vars.members(id)).map((m) => [m.join(), m] as const)).values()];
    const own = byRoot.get(family) ?? { params: [], values: [] };
    const reasons = vars.fixReasons(family).filter((r) => !r.quiet).map((r) => r.text);
    for (const list of lists) {
      list.forEach((m, u) => {
        if (vars.isFixed(m)) reasons.push(`the dims of head ${u} stay in place (${vars.fixReasons(m)[0]!.text})`);
      });
    }
    const params: ParameterAction[] = [...own.params];
    const values: ValueAction[] = [...own.values];
    for (const list of lists) {
      const p = blockActions(list.map((m) => byRoot.get(m)?.params ?? []), vars.count(list[0]!), (a) => a.tensor);
      const v = blockActions(list.map((m) => byRoot.get(m)?.values ?? []), vars.count(list[0]!), (a) => a.value);
      if (typeof p === 'string' || typeof v === 'string') reasons.push(typeof p === 'string' ? p : (v as string));
      else {
        params.push(...p);
        values.push(...v);
      }
    }
    if (params.length === 0) continue;
    params.sort(order);
    const name = `attention heads at ${vars.origin[family]}: ${size} heads of ${lists.map((l) => vars.count(l[0]!)).join(' and ')}`;
    if (reasons.length > 0) fixed.push({ size, label: name, reasons: [...new Set(reasons)], parameters: params });
    else groups.push({ root: family, size, label: name, parameters: params, values, activations: [], lists });
  }
  for (const [root, owned] of expertsOf) {
    const a = byRoot.get(root) ?? { params: [], values: [] };
    a.params.sort(order);
    const size = vars.count(root);
    const name = `experts at ${label(root)}: ${size} experts of ${owned[0]!.length} tensors`;
    const reasons = vars.fixReasons(root).filter((r) => !r.quiet).map((r) => r.text);
    if (reasons.length > 0) {
      fixed.push({ size, label: name, reasons, parameters: a.params });
      continue;
    }
    // The groups inside expert u: those acting on its parameters only.
    const inside = owned.map((list) => groups.filter((g) => !g.lists && g.parameters.every((p) => list.includes(p.parameter))).map((g) => g.root));
    const kinds = inside.every((list) => list.length === inside[0]!.length) ? inside[0]!.map((_, k) => inside.map((list) => list[k]!)) : [];
    const experts = owned.map((list) => list.map((index) => ({ parameter: index, tensor: cp.parameters[index]!.tensor, shape: cp.parameters[index]!.shape })));
    // The gate's outputs (the expert axis last: its logits, then the routing weights): activation matching correlates the last.
    const gates = a.values.filter((v) => v.axis === v.shape.length - 1 && v.inner === 1 && !solved.outputNames.has(v.value));
    groups.push({ root, size, label: name, parameters: a.params, values: a.values, activations: gates.slice(-1), lists: kinds, experts });
  }
  const first = (g: { parameters: readonly ParameterAction[]; experts?: PermutationGroup['experts'] }): ParameterAction =>
    g.parameters[0] ?? ({ parameter: g.experts![0]![0]!.parameter, axis: -1, offset: 0 } as ParameterAction);
  groups.sort((x, y) => order(first(x), first(y)));
  const indexOf = new Map(groups.map((g, index) => [g.root, index]));
  fixed.sort((x, y) => order(first(x), first(y)));
  trivial.sort((x, y) => order(first(x), first(y)));
  return {
    file: cp.file,
    inputShape: [...solved.inputShape],
    groups: groups.map(({ root: _root, lists, ...g }, index) => ({
      index,
      ...g,
      ...(lists ? { carries: lists.map((list) => list.map((m) => indexOf.get(m) ?? null)) } : {}),
    })),
    fixed,
    trivial,
    unknownOps: solved.unknownOps,
  };
}

/**
 * The actions of a head group from those of its members (member u's list of actions, in action
 * order): each member acts at the same places, head u's block `size` units further on. A string
 * says why they do not line up.
 */
function blockActions<A extends ParameterAction | ValueAction>(members: readonly (readonly A[])[], size: number, name: (a: A) => string): A[] | string {
  const base = members[0]!;
  const out: A[] = [];
  for (let j = 0; j < base.length; j++) {
    const a = base[j]!;
    const step = size * a.inner;
    const aligned = members.every((list, u) => {
      const b = list[j];
      return list.length === base.length && b !== undefined && name(b) === name(a) && ('parameter' in b ? b.parameter === (a as ParameterAction).parameter : true) && b.axis === a.axis && b.inner === a.inner && b.offset === a.offset + u * step;
    });
    if (!aligned) return `the heads' dims do not lie end to end on '${name(a)}' axis ${a.axis}`;
    out.push({ ...a, inner: step });
  }
  return out;
}
