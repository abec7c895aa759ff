/**
 * The permutation spec (SCIENCE.md §5): which hidden units permute together, and every
 * parameter axis and graph value axis each permutation moves.
 */

/** Where a permutation acts on one axis: units c = 0…size−1 at positions offset + c·inner + r, r < inner. */
export interface AxisAction {
  readonly axis: number;
  readonly offset: number;
  readonly inner: number;
}

/** A permutation's action on one parameter use. */
export interface ParameterAction extends AxisAction {
  /** Index in the checkpoint's parameter list. */
  readonly parameter: number;
  /** The stored initializer (shared by several uses when the exporter de-duplicated equal tensors). */
  readonly tensor: string;
  /** The name the node reads it under (an Identity alias of `tensor`, or `tensor` itself). */
  readonly input: string;
  readonly node: string;
  readonly op: string;
  readonly inputIndex: number;
  readonly shape: readonly number[];
}

/** A permutation's action on one graph value (a feature map). */
export interface ValueAction extends AxisAction {
  readonly value: string;
  /** Dims as probed (batch 2 unless the input fixes it). */
  readonly shape: readonly number[];
}

/** A parameter use an expert owns whole. */
export interface ExpertParameter {
  /** Index in the checkpoint's parameter list. */
  readonly parameter: number;
  readonly tensor: string;
  readonly shape: readonly number[];
}

export interface PermutationGroup {
  readonly index: number;
  /** Number of units permuted. */
  readonly size: number;
  /** Where the units come from, e.g. "/fc1/Gemm output channels". */
  readonly label: string;
  readonly parameters: readonly ParameterAction[];
  /** Every graph value the permutation acts on. */
  readonly values: readonly ValueAction[];
  /** The values activation matching correlates: the inputs of weight layers (post-activation). */
  readonly activations: readonly ValueAction[];
  /**
   * For a group of blocks (attention heads): per kind of member (QK dims, V dims), the group that
   * acts inside each unit's block, by unit (null: a member of width 1). Unit u's block moves with
   * the group; its members permute inside it. Absent for a group of single units.
   */
  readonly carries?: readonly (readonly (number | null)[])[];
  /**
   * For a group of experts: per unit, the parameter uses it owns whole, in the same
   * order and shapes for every unit. Unit u of the result has the parameters of unit perm[u]
   * (after the groups inside the experts permuted them).
   */
  readonly experts?: readonly (readonly ExpertParameter[])[];
}

/** Channels that look permutable but must stay in place. */
export interface FixedChannels {
  readonly size: number;
  readonly label: string;
  readonly reasons: readonly string[];
  readonly parameters: readonly ParameterAction[];
}

/** A layer of width 1: nothing to permute. */
export interface TrivialGroup {
  readonly label: string;
  readonly parameters: readonly ParameterAction[];
}

export interface PermutationSpec {
  readonly file: string;
  /** The input shape the graph was probed with. */
  readonly inputShape: readonly number[];
  readonly groups: readonly PermutationGroup[];
  readonly fixed: readonly FixedChannels[];
  readonly trivial: readonly TrivialGroup[];
  /** Nodes whose op the inference does not know; everything they touch is fixed. */
  readonly unknownOps: readonly { node: string; op: string }[];
}

export interface SpecOptions {
  /** The input shape to probe with, batch included (default: the model's, batch 2). */
  readonly inputShape?: readonly number[];
  /**
   * Stored float tensors that are constants, not trained parameters (sharedConstants: equal in
   * A and B). Every group whose permutation would change one is fixed (default: none).
   */
  readonly constants?: readonly string[];
  /** Permute the constants too, as if they were parameters (default false). */
  readonly permuteConstants?: boolean;
}
