/** The spec as people read it: what `llfc spec` prints. */
import type { AxisAction, PermutationSpec } from './types.js';

/** A short description of one parameter action: "fc2.weight axis 1", "fc.weight axis 1 [0:1568) in blocks of 49". */
export function describeAction(a: AxisAction & { tensor?: string; input?: string; value?: string; shape: readonly number[] }, size: number): string {
  const what = a.input ?? a.tensor ?? a.value ?? '?';
  const dim = a.shape[a.axis]!;
  const end = a.offset + size * a.inner;
  const range = a.offset !== 0 || end !== dim ? ` [${a.offset}:${end})` : '';
  const blocks = a.inner > 1 ? ` in blocks of ${a.inner}` : '';
  return `${what} axis ${a.axis}${range}${blocks}`;
}

/** What a group of blocks carries, by kind: attention's QK dims (first met), then V dims. */
const KINDS = ['within-head QK dims', 'within-head V dims'];

const list = (items: string[], max = 12): string => (items.length <= max ? items.join(' · ') : `${items.slice(0, max).join(' · ')} · … (${items.length - max} more)`);

/** The spec as text: one block per group, then fixed channels, width-1 layers and unknown ops. */
export function formatSpec(spec: PermutationSpec): string {
  const lines: string[] = [];
  lines.push(
    `permutation spec of ${spec.file} (graph probed with input [${spec.inputShape.join(', ')}]): ` +
      `${spec.groups.length} group${spec.groups.length === 1 ? '' : 's'}, ${spec.fixed.length} fixed, ${spec.trivial.length} of width 1, ${spec.unknownOps.length} unknown op${spec.unknownOps.length === 1 ? '' : 's'}`,
  );
  for (const g of spec.groups) {
    lines.push(`group ${g.index}: ${g.size} units, ${g.label}`);
    lines.push(`  acts on ${g.parameters.map((a) => describeAction(a, g.size)).join(' · ')}`);
    (g.experts ?? []).forEach((list, u) => lines.push(`  expert ${u} owns ${list.map((e) => e.tensor).join(' · ')}`));
    for (const [k, members] of (g.carries ?? []).entries()) {
      const kind = g.experts ? `hidden units of each expert, kind ${k}` : (KINDS[k] ?? `member kind ${k}`);
      lines.push(`  carries ${members.map((m) => (m === null ? '-' : `group ${m}`)).join(', ')} (${kind}, one per unit, permuted inside it)`);
    }
    if (g.activations.length > 0) lines.push(`  activations: ${list(g.activations.map((v) => describeAction(v, g.size)), 4)}`);
  }
  if (spec.fixed.length > 0) {
    lines.push('fixed (these axes stay in place):');
    for (const f of spec.fixed) {
      lines.push(`  ${f.size} units, ${f.label}: ${f.reasons.join('; ')}`);
      lines.push(`    ${list(f.parameters.map((a) => describeAction(a, f.size)))}`);
    }
  }
  if (spec.trivial.length > 0) {
    lines.push('width 1 (nothing to permute):');
    for (const t of spec.trivial) lines.push(`  ${t.label}: ${list(t.parameters.map((a) => describeAction(a, 1)))}`);
  }
  if (spec.unknownOps.length > 0) {
    lines.push('ops the inference does not know (everything they touch is fixed):');
    for (const u of spec.unknownOps) lines.push(`  ${u.op} at node '${u.node}'`);
  }
  return lines.join('\n');
}
