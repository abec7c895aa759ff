/** The permutation spec in the short form the report shows, with the kinds of symmetry it holds (SCIENCE.md §5, §7). */
import type { SpecSummary, SymmetryKind } from '../results.js';
import type { PermutationGroup, PermutationSpec } from './spec/index.js';

/**
 * The kind of symmetry a group is: a group of blocks (attention heads, experts), a group inside
 * one (within-head dims, an expert's hidden units), a permutation shared by several layers'
 * outputs (the residual stream: its label names the writers tied to it), or one layer's hidden
 * units (an MLP or conv layer).
 */
function symmetryOf(g: PermutationGroup, heads: ReadonlySet<number>, experts: ReadonlySet<number>): SymmetryKind {
  if (g.experts) return 'experts';
  if (g.carries) return 'heads';
  if (heads.has(g.index)) return 'within-head';
  if (experts.has(g.index)) return 'expert hidden';
  return g.label.includes(' tied: ') ? 'residual stream' : 'hidden';
}

export function summarizeSpec(spec: PermutationSpec): SpecSummary {
  const inside = (pick: (g: PermutationGroup) => boolean): Set<number> => new Set(spec.groups.filter(pick).flatMap((g) => (g.carries ?? []).flat().filter((m): m is number => m !== null)));
  const heads = inside((g) => !!g.carries && !g.experts);
  const experts = inside((g) => !!g.experts);
  const kinds = spec.groups.map((g) => symmetryOf(g, heads, experts));
  const symmetries = [...new Set(kinds)].map((kind) => {
    const of = spec.groups.filter((_, k) => kinds[k] === kind);
    return { kind, groups: of.length, units: of.reduce((s, g) => s + g.size, 0) };
  });
  return {
    groups: spec.groups.map((g, k) => ({ name: g.label, size: g.size, tensors: g.parameters.length, symmetry: kinds[k]! })),
    fixed: spec.fixed.flatMap((f) => f.parameters.map((p) => ({ tensor: p.tensor, axis: p.axis, reason: f.reasons.join('; ') }))),
    symmetries,
  };
}
