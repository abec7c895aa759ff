/** Comparing the specs of two checkpoints that are to be aligned. */
import { SpecMismatchError } from '../../errors.js';
import type { ParameterAction, PermutationSpec } from './types.js';

/** Where an action acts: parameter use, axis and positions (the key permutation files are checked by too). */
export function actionKey(a: Pick<ParameterAction, 'parameter' | 'axis' | 'offset' | 'inner'>): string {
  return `${a.parameter}:${a.axis}:${a.offset}:${a.inner}`;
}

/**
 * Throws SpecMismatchError unless two specs (of A and B) have the same groups acting on the
 * same parameter uses, axes and positions.
 */
export function checkSameSpec(a: PermutationSpec, b: PermutationSpec): void {
  const n = Math.max(a.groups.length, b.groups.length);
  for (let i = 0; i < n; i++) {
    const ga = a.groups[i];
    const gb = b.groups[i];
    if (!ga || !gb) {
      const extra = (ga ?? gb)!;
      throw new SpecMismatchError(
        `the permutation specs of ${a.file} (${a.groups.length} groups) and ${b.file} (${b.groups.length} groups) differ: group ${i} ('${extra.label}') exists only in ${ga ? a.file : b.file}`,
        extra.label,
      );
    }
    const ka = ga.parameters.map(actionKey).join(' ');
    const kb = gb.parameters.map(actionKey).join(' ');
    if (ga.size !== gb.size || ka !== kb) {
      const pa = ga.parameters[0]!;
      throw new SpecMismatchError(
        `the permutation specs of ${a.file} and ${b.file} differ at group ${i}: '${ga.label}' permutes ${ga.size} units of ${ga.parameters.length} tensors (first '${pa.tensor}' axis ${pa.axis}), ` +
          `'${gb.label}' permutes ${gb.size} units of ${gb.parameters.length} tensors (first '${gb.parameters[0]!.tensor}' axis ${gb.parameters[0]!.axis})`,
        ga.label,
      );
    }
  }
}
