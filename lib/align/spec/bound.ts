/**
 * A spec bound to a checkpoint: validated once against its parameter layout (every action lies
 * inside its parameter use or value), with the maps that permuting, weight matching and
 * activation matching read instead of walking the groups each time:
 * - per parameter use, per axis: the groups acting there (and where);
 * - per activation value: the groups that correlate on it.
 */
import type { Checkpoint, Parameter } from '../../checkpoint.js';
import { PermutationError } from '../../errors.js';
import type { AxisAction, ParameterAction, PermutationSpec, ValueAction } from './types.js';

/** One group's action on an axis. */
export interface GroupAction<A extends AxisAction> {
  readonly group: number;
  readonly action: A;
}

export class BoundSpec {
  private constructor(
    readonly spec: PermutationSpec,
    /** The parameter layout it was validated against (a checkpoint's `parameters`). */
    readonly layout: readonly Parameter[],
    /** Per parameter use some group acts on (in group order of first use): per axis, the groups acting there. */
    readonly parameters: ReadonlyMap<number, readonly (readonly GroupAction<ParameterAction>[])[]>,
    /** Per value activation matching correlates (in group order of first use): the groups on it. */
    readonly activations: ReadonlyMap<string, readonly GroupAction<ValueAction>[]>,
  ) {}

  /**
   * The spec bound to `checkpoint`'s parameter layout. A spec already bound to that layout is
   * returned as it is; one bound to another layout is validated again.
   */
  static of(checkpoint: Checkpoint, spec: PermutationSpec | BoundSpec): BoundSpec {
    if (spec instanceof BoundSpec) return spec.layout === checkpoint.parameters ? spec : BoundSpec.of(checkpoint, spec.spec);
    const parameters = new Map<number, GroupAction<ParameterAction>[][]>();
    const activations = new Map<string, GroupAction<ValueAction>[]>();
    spec.groups.forEach((g, group) => {
      for (const action of g.parameters) {
        const p = checkpoint.parameters[action.parameter];
        if (!p || p.shape.join() !== action.shape.join() || p.tensor !== action.tensor) {
          throw new PermutationError(`the spec (of ${spec.file}) does not fit ${checkpoint.file}: its parameter ${action.parameter} ('${action.tensor}') is not there`);
        }
        checkExtent(spec, group, action, `'${action.tensor}'`);
        let axes = parameters.get(action.parameter);
        if (!axes) {
          axes = p.shape.map(() => []);
          parameters.set(action.parameter, axes);
        }
        axes[action.axis]!.push({ group, action });
      }
      for (const list of g.experts ?? []) {
        const first = g.experts![0]!;
        const fits =
          list.length === first.length &&
          list.every((e, j) => checkpoint.parameters[e.parameter]?.tensor === e.tensor && checkpoint.parameters[e.parameter]!.shape.join() === e.shape.join() && e.shape.join() === first[j]!.shape.join());
        if (!fits || g.experts!.length !== g.size) {
          throw new PermutationError(`the spec of ${spec.file} is inconsistent: the experts of group ${group} ('${g.label}') do not own parameters of the same shapes in ${checkpoint.file}`);
        }
      }
      for (const action of g.activations) {
        checkExtent(spec, group, action, `the value '${action.value}'`);
        const list = activations.get(action.value) ?? [];
        list.push({ group, action });
        activations.set(action.value, list);
      }
    });
    return new BoundSpec(spec, checkpoint.parameters, parameters, activations);
  }

  /** The groups acting on the axes of a parameter use other than `axis`, ascending. */
  groupsOnOtherAxes(parameter: number, axis: number): number[] {
    const axes = this.parameters.get(parameter) ?? [];
    const groups = axes.flatMap((list, k) => (k === axis ? [] : list.map((x) => x.group)));
    return [...new Set(groups)].sort((x, y) => x - y);
  }
}

/** Throws PermutationError unless the group's units lie inside the axis they act on. */
function checkExtent(spec: PermutationSpec, group: number, a: AxisAction & { shape: readonly number[] }, what: string): void {
  const g = spec.groups[group]!;
  const dim = a.shape[a.axis];
  const end = a.offset + g.size * a.inner;
  const ok = Number.isInteger(g.size) && g.size > 0 && Number.isInteger(a.offset) && a.offset >= 0 && Number.isInteger(a.inner) && a.inner > 0;
  if (dim === undefined || !ok || end > dim) {
    throw new PermutationError(
      `the spec of ${spec.file} is inconsistent: group ${group} ('${g.label}') acts on ${what} axis ${a.axis} at [${a.offset}:${end}) in blocks of ${a.inner}, ` +
        `${dim === undefined ? `which has only ${a.shape.length} axes` : `whose length is ${dim}`}`,
    );
  }
}
