/**
 * What a rule of the spec's rule table is and what it may ask of the inference.
 *
 * A rule follows one family of ops: given a node whose inputs carry channel layouts
 * (lib/align/spec/layout.ts), it relates the layouts of the inputs, parameters and outputs so
 * that permuting them consistently leaves the op's result permuted the same way (or unchanged),
 * and sets the layouts of the outputs. It returns false when it cannot follow the node (shapes
 * or attributes it does not handle); the engine then fixes everything the node touches.
 */
import type { Parameter } from '../../checkpoint.js';
import type { NodeProto } from '../../onnx/proto.js';
import type { FixReason, Segment, VarTable } from './layout.js';

/** One input of a node as the inference sees it. */
export type Operand =
  | { kind: 'none' }
  | { kind: 'param'; p: Parameter; dims: readonly number[] }
  | { kind: 'value'; name: string; dims: readonly number[] }
  | { kind: 'other'; name: string };

/** An operand whose axes carry layouts: a parameter use or a followed graph value. */
export type Tracked = Extract<Operand, { kind: 'param' | 'value' }>;

/** The node a rule is applied to. */
export interface Site {
  readonly node: NodeProto;
  /** Its display name (its own name, or op#index). */
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly Operand[];
  /** "node 'name' (Op)", for reasons. */
  readonly where: string;
}

/** The inference's state as the rules see it. */
export interface RuleContext {
  readonly vars: VarTable;
  tracked(o: Operand | undefined): o is Tracked;
  /** The layout of axis k of an operand; a parameter axis is bound (to a fresh variable named `origin`) on first use. */
  L(o: Tracked, k: number, origin?: string): Segment[];
  /** Dims of a float output of the node (undefined for a non-float or unknown one). */
  outDims(node: NodeProto, slot?: number): readonly number[] | undefined;
  /** Sets the layouts of a float output (ignored for a non-float one). */
  setOut(node: NodeProto, slot: number, layouts: Segment[][]): void;
  /** Fresh fixed variables, one per axis. */
  freshFixed(dims: readonly number[], origin: string, reason: FixReason): Segment[][];
  /** Integer constant values of an input (initializer, alias or Constant node), if known. */
  ints(name: string | undefined): number[] | undefined;
  /** Dims of an operand the inference does not follow (a non-float initializer or value), if known. */
  otherDims(name: string): readonly number[] | undefined;
  /** The output-channel layout a weight axis creates (a group of its own unless tied to others). */
  outputChannels(w: Tracked, axis: number, name: string): Segment[];
  /** Marks a fresh variable as a weight layer's output channels (reported as width 1 when it is). */
  markChannels(v: number): void;
  /**
   * Experts: when the branches of the graph that produce `values` (the nodes only that value
   * depends on) have the same ops and parameter shapes, records `family` (one unit per value) as
   * exchanging their parameter uses wholesale and returns true.
   */
  experts(values: readonly string[], family: number): boolean;
  /** Fixed fresh layouts for the spatial axes dims[from…]. */
  spatial(from: number, dims: readonly number[], where: string): Segment[][];
}

export interface Rule {
  /** The op types (default ONNX domain) this rule follows. */
  readonly ops: readonly string[];
  /** Applies whatever the inputs (constant sources and shape readers); other rules see only nodes with a followed input. */
  readonly anyInputs?: boolean;
  /** Non-float outputs depend only on the inputs' shapes (Shape, Size): they fix no channels. */
  readonly shapeOnly?: boolean;
  /** Reads a weight: its data inputs are the post-activation values activation matching correlates. */
  readonly readsWeights?: boolean;
  apply(site: Site, ctx: RuleContext): boolean;
}

/** A reason not shown in the report (spatial, kernel, batch axes). */
export const quiet = (text: string): FixReason => ({ text, quiet: true });
/** A reason the report lists. */
export const loud = (text: string): FixReason => ({ text, quiet: false });

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export const product = (dims: readonly number[]): number => dims.reduce((n, d) => n * d, 1);
