/** The permutation spec in the short form the report shows. */
import type { SpecSummary } from '../results.js';
import type { PermutationSpec } from './spec/index.js';

export function summarizeSpec(spec: PermutationSpec): SpecSummary {
  return {
    groups: spec.groups.map((g) => ({ name: g.label, size: g.size, tensors: g.parameters.length })),
    fixed: spec.fixed.flatMap((f) => f.parameters.map((p) => ({ tensor: p.tensor, axis: p.axis, reason: f.reasons.join('; ') }))),
  };
}
