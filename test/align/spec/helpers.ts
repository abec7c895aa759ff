/** Helpers of the spec tests: the spec of a tiny hand-built graph, and its groups in words. */
import { describeAction, inferSpec, type PermutationSpec } from '../../../lib/align/spec/index.js';
import { tinyCheckpoint, tinyModel } from '../helpers.js';

export type TinyGraph = Parameters<typeof tinyModel>[0];

export async function specOf(graph: TinyGraph): Promise<PermutationSpec> {
  return inferSpec(tinyCheckpoint(tinyModel(graph)));
}

/** Each group as [size, the parameter axes it acts on]. */
export function groupsOf(spec: PermutationSpec): [number, string[]][] {
  return spec.groups.map((g) => [g.size, g.parameters.map((a) => describeAction(a, g.size))]);
}

/** Every reason the spec gives for fixed channels. */
export function fixedReasons(spec: PermutationSpec): string[] {
  return spec.fixed.flatMap((f) => f.reasons);
}
