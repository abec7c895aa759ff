/**
 * Permutation spec inferred from the ONNX graph (SCIENCE.md §5): which hidden units can be
 * permuted together, and every parameter axis (and graph value axis) each permutation moves.
 *
 * Channel axes of every graph value and parameter use are described by layouts over channel
 * variables (lib/align/layout.ts). Nodes are visited in graph order; each known op relates the
 * layouts of its inputs, parameters and outputs so that permuting them consistently leaves the
 * op's result permuted the same way (or unchanged): Gemm/MatMul/Conv tie a weight's input axis
 * to the incoming channels and create a new variable for their output channels; element-wise
 * ops and BatchNormalization carry channels through; Add/Mul/… merge the channels of their
 * operands (a residual stream becomes one group); Concat lays its inputs' channels end to end;
 * Flatten/Reshape/Transpose/Squeeze move them between axes where the move can be followed.
 * The model's input and outputs, constants that vary along a channel axis, and everything an
 * op the inference does not know touches stay fixed, with the reasons recorded.
 *
 * Shapes come from one onnxruntime run of the model itself on a zero input (batch 2), so no
 * data is needed. Parameters are per use (lib/checkpoint.ts): a tensor shared by two nodes gets
 * one action per use, and the uses may be permuted differently (see lib/align/permute.ts).
 */
import * as ort from 'onnxruntime-node';
import type { Checkpoint, Parameter } from '../checkpoint.js';
import { InvalidArgumentError, OnnxFormatError, SpecMismatchError } from '../errors.js';
import { initializerAliases, initializerMap, isAliasNode, nodeName } from '../onnx/graph.js';
import { cloneModel, encodeModel } from '../onnx/model.js';
import { DataType, onnx, toNumber, type AttributeProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { span, VarTable, type FixReason, type Layout, type Segment } from './layout.js';

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
}

/** Dims and element type of a graph value, as onnxruntime computed it. */
export interface ValueShape {
  readonly dims: readonly number[];
  readonly type: string;
}

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** The input shape to probe with: the model's, a symbolic batch as 2. */
export function probeInputShape(checkpoint: Checkpoint, given?: readonly number[]): number[] {
  const dims = checkpoint.input.shape;
  if (given) {
    if (given.length !== dims.length || given.some((d, i) => !Number.isInteger(d) || d <= 0 || (dims[i]! >= 0 && dims[i] !== d))) {
      throw new InvalidArgumentError(
        `${checkpoint.file}: input shape [${given.join(', ')}] does not fit the input '${checkpoint.input.name}' of shape [${dims.map((d) => (d < 0 ? '?' : d)).join(', ')}]`,
      );
    }
    return [...given];
  }
  return dims.map((d, i) => {
    if (d >= 0) return d;
    if (i === 0) return 2;
    throw new InvalidArgumentError(
      `${checkpoint.file}: the input '${checkpoint.input.name}' has a symbolic dimension at axis ${i}; give the input shape (--input-shape)`,
    );
  });
}

/** Runs the model once on zeros and returns the dims and type of every value it computes. */
export async function probeShapes(checkpoint: Checkpoint, inputShape: readonly number[]): Promise<Map<string, ValueShape>> {
  const model = cloneModel(checkpoint.model);
  const graph = model.graph!;
  const aliases = initializerAliases(graph, initializerMap(graph));
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const node of graph.node ?? []) {
    if (isAliasNode(node, aliases)) continue;
    for (const o of node.output ?? []) {
      if (o && !outputs.has(o)) {
        graph.output!.push(onnx.ValueInfoProto.create({ name: o }));
        outputs.add(o);
      }
    }
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(encodeModel(model), { graphOptimizationLevel: 'disabled' });
  } catch (error) {
    throw new OnnxFormatError(checkpoint.file, `onnxruntime cannot load it: ${(error as Error).message}`, { cause: error });
  }
  const shapes = new Map<string, ValueShape>();
  try {
    const input = zeroInput(checkpoint, inputShape);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await session.run({ [checkpoint.input.name]: input });
    } catch (error) {
      throw new OnnxFormatError(checkpoint.file, `running it on a zero input of shape [${inputShape.join(', ')}] failed: ${(error as Error).message}`, { cause: error });
    }
    for (const [name, tensor] of Object.entries(result)) shapes.set(name, { dims: [...tensor.dims], type: tensor.type });
  } finally {
    await session.release();
  }
  shapes.set(checkpoint.input.name, { dims: [...inputShape], type: zeroInput(checkpoint, [0]).type });
  return shapes;
}

/** Zeros of the input's element type (float32 unless the model says otherwise). */
function zeroInput(checkpoint: Checkpoint, dims: readonly number[]): ort.Tensor {
  const n = dims.reduce((a, d) => a * d, 1);
  const info = (checkpoint.model.graph?.input ?? []).find((v) => v.name === checkpoint.input.name);
  const type = info?.type?.tensorType?.elemType ?? DataType.FLOAT;
  switch (type) {
    case DataType.FLOAT:
      return new ort.Tensor('float32', new Float32Array(n), [...dims]);
    case DataType.DOUBLE:
      return new ort.Tensor('float64', new Float64Array(n), [...dims]);
    case DataType.INT64:
      return new ort.Tensor('int64', new BigInt64Array(n), [...dims]);
    case DataType.INT32:
      return new ort.Tensor('int32', new Int32Array(n), [...dims]);
    case DataType.UINT8:
      return new ort.Tensor('uint8', new Uint8Array(n), [...dims]);
    case DataType.BOOL:
      return new ort.Tensor('bool', new Uint8Array(n), [...dims]);
    default:
      throw new InvalidArgumentError(`${checkpoint.file}: the input '${checkpoint.input.name}' has element type ${type}, which the shape probe cannot feed`);
  }
}

/** Infers the permutation spec of a checkpoint (one onnxruntime run on zeros for the shapes). */
export async function inferSpec(checkpoint: Checkpoint, options: SpecOptions = {}): Promise<PermutationSpec> {
  const inputShape = probeInputShape(checkpoint, options.inputShape);
  const shapes = await probeShapes(checkpoint, inputShape);
  return new Inference(checkpoint, shapes, inputShape).run();
}

/** The spec from known value shapes (inferSpec without the probe run). */
export function inferSpecFromShapes(checkpoint: Checkpoint, shapes: Map<string, ValueShape>, inputShape: readonly number[]): PermutationSpec {
  return new Inference(checkpoint, shapes, inputShape).run();
}

// ---- inference ------------------------------------------------------------------------------

type Operand =
  | { kind: 'none' }
  | { kind: 'param'; p: Parameter; dims: readonly number[] }
  | { kind: 'value'; name: string; dims: readonly number[] }
  | { kind: 'other'; name: string };

const UNARY = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Elu', 'Selu', 'Celu', 'Gelu', 'Softplus', 'Softsign',
  'Mish', 'Erf', 'Exp', 'Log', 'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan',
  'ThresholdedRelu', 'Identity', 'Dropout', 'Softmax', 'LogSoftmax', 'Shrink', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh',
  'Asinh', 'Acosh', 'Atanh', 'IsNaN', 'IsInf',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Clip']);
const POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCES = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);
const RESHAPES = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);
/** Ops whose non-float output does not depend on the values of their inputs. */
const SHAPE_ONLY = new Set(['Shape', 'Size']);
/** Ops that read a weight: their data inputs are the post-activation values of activation matching. */
const WEIGHT_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

const quiet = (text: string): FixReason => ({ text, quiet: true });
const loud = (text: string): FixReason => ({ text, quiet: false });

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}
function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? toNumber(a.i) : fallback;
}
function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? (a.ints ?? []).map((v) => toNumber(v)) : undefined;
}
function stringAttr(node: NodeProto, name: string): string | undefined {
  const a = attribute(node, name);
  return a?.s ? Buffer.from(a.s).toString('utf8') : undefined;
}

/** Integer values of an INT64/INT32 tensor, or undefined for any other type. */
function tensorInts(t: TensorProto): number[] | undefined {
  if (t.dataType === DataType.INT64) {
    if (t.rawData && t.rawData.length > 0) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      return Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    }
    return (t.int64Data ?? []).map((v) => toNumber(v));
  }
  if (t.dataType === DataType.INT32) {
    if (t.rawData && t.rawData.length > 0) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      return Array.from({ length: t.rawData.byteLength / 4 }, (_, i) => view.getInt32(4 * i, true));
    }
    return [...(t.int32Data ?? [])];
  }
  return undefined;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

const product = (dims: readonly number[]): number => dims.reduce((n, d) => n * d, 1);

class Inference {
  private readonly vars = new VarTable();
  /** Layouts per axis of every tracked (floating-point) graph value, in graph order. */
  private readonly values = new Map<string, Segment[][]>();
  /** Layouts per axis of every parameter use the rules bound (others are fixed). */
  private readonly params = new Map<number, (Segment[] | undefined)[]>();
  private readonly unknownOps: { node: string; op: string }[] = [];
  private readonly weightInputs = new Set<string>();
  /** Variables created for the output channels of weight layers (for reporting width-1 layers). */
  private readonly channelVars = new Set<number>();
  private readonly paramAt = new Map<string, Parameter>();
  private readonly initializers: Map<string, TensorProto>;
  private readonly aliases: Map<string, string>;
  private readonly constants = new Map<string, NodeProto>();
  private readonly consumed = new Set<string>();
  private readonly outputNames: Set<string>;

  constructor(
    private readonly cp: Checkpoint,
    private readonly shapes: Map<string, ValueShape>,
    private readonly inputShape: readonly number[],
  ) {
    const graph = cp.model.graph!;
    this.initializers = initializerMap(graph);
    this.aliases = initializerAliases(graph, this.initializers);
    for (const p of cp.parameters) this.paramAt.set(`${p.nodeIndex}:${p.inputIndex}`, p);
    for (const node of graph.node ?? []) {
      for (const i of node.input ?? []) this.consumed.add(i);
      if (node.opType === 'Constant' && (node.domain ?? '') === '') for (const o of node.output ?? []) this.constants.set(o, node);
    }
    this.outputNames = new Set((graph.output ?? []).map((o) => o.name ?? ''));
    for (const o of this.outputNames) this.consumed.add(o);
  }

  run(): PermutationSpec {
    const graph = this.cp.model.graph!;
    const input = this.cp.input.name;
    const reason = loud(`model input '${input}'`);
    if (FLOAT_TYPES.has(this.shapes.get(input)?.type ?? 'float32')) {
      this.values.set(
        input,
        this.inputShape.map((d, k) => this.vars.axis(d, `input '${input}' axis ${k}`, reason)),
      );
    }
    (graph.node ?? []).forEach((node, index) => {
      if (isAliasNode(node, this.aliases)) return;
      this.visit(node, index);
    });
    for (const o of graph.output ?? []) {
      const layouts = this.values.get(o.name ?? '');
      if (layouts) for (const l of layouts) this.vars.fixLayout(l, loud(`model output '${o.name}'`));
    }
    return this.report();
  }

  // ---- operands and layouts ---------------------------------------------------------------

  private operand(node: NodeProto, nodeIndex: number, slot: number): Operand {
    const name = node.input?.[slot] ?? '';
    if (!name) return { kind: 'none' };
    const p = this.paramAt.get(`${nodeIndex}:${slot}`);
    if (p) return { kind: 'param', p, dims: p.shape };
    const layouts = this.values.get(name);
    const shape = this.shapes.get(name);
    if (layouts && shape) return { kind: 'value', name, dims: shape.dims };
    return { kind: 'other', name };
  }

  private dimsOf(o: Operand): readonly number[] | undefined {
    return o.kind === 'param' || o.kind === 'value' ? o.dims : undefined;
  }

  /** The layout of one axis of an operand; a parameter axis is bound on first use. */
  private L(o: Operand, k: number, origin?: string): Segment[] {
    if (o.kind === 'value') return this.values.get(o.name)![k]!;
    if (o.kind === 'param') {
      let axes = this.params.get(o.p.index);
      if (!axes) {
        axes = o.p.shape.map(() => undefined);
        this.params.set(o.p.index, axes);
      }
      let l = axes[k];
      if (!l) {
        l = this.vars.axis(o.p.shape[k]!, origin ?? `'${o.p.tensor}' axis ${k} at ${o.p.node}`);
        axes[k] = l;
      }
      return l;
    }
    throw new Error(`internal: no layout for a ${o.kind} operand`);
  }

  private tracked(o: Operand): o is Extract<Operand, { kind: 'param' | 'value' }> {
    return o.kind === 'param' || o.kind === 'value';
  }

  private outDims(node: NodeProto, slot = 0): readonly number[] | undefined {
    const name = node.output?.[slot] ?? '';
    const s = name ? this.shapes.get(name) : undefined;
    return s && FLOAT_TYPES.has(s.type) ? s.dims : undefined;
  }

  private setOut(node: NodeProto, slot: number, layouts: Segment[][]): void {
    const name = node.output?.[slot] ?? '';
    const dims = this.outDims(node, slot);
    if (!name || !dims) return;
    if (layouts.length !== dims.length || layouts.some((l, k) => span(l) !== dims[k])) {
      throw new Error(`internal: layouts of '${name}' do not match its dims [${dims.join(', ')}]`);
    }
    this.values.set(name, layouts);
  }

  private freshFixed(dims: readonly number[], origin: string, reason: FixReason): Segment[][] {
    return dims.map((d, k) => this.vars.axis(d, `${origin} axis ${k}`, reason));
  }

  /** Every variable a tracked operand carries (all axes). */
  private fixOperand(o: Operand, reason: FixReason): void {
    if (o.kind === 'value') for (const l of this.values.get(o.name)!) this.vars.fixLayout(l, reason);
    if (o.kind === 'param') o.p.shape.forEach((_, k) => this.vars.fixLayout(this.L(o, k), reason));
  }

  /** Integer constant values of an input (initializer, alias or Constant node), if known. */
  private ints(name: string | undefined): number[] | undefined {
    if (!name) return undefined;
    const stored = this.initializers.has(name) ? name : this.aliases.get(name);
    if (stored !== undefined) return tensorInts(this.initializers.get(stored)!);
    const c = this.constants.get(name);
    if (!c) return undefined;
    const value = attribute(c, 'value');
    if (value?.t) return tensorInts(value.t);
    const list = attribute(c, 'value_ints');
    if (list) return (list.ints ?? []).map((v) => toNumber(v));
    const one = attribute(c, 'value_int');
    if (one) return [toNumber(one.i)];
    return undefined;
  }

  // ---- visiting ---------------------------------------------------------------------------

  private visit(node: NodeProto, index: number): void {
    const name = nodeName(node, index);
    const op = node.opType ?? '';
    const inputs = (node.input ?? []).map((_, k) => this.operand(node, index, k));
    const where = `node '${name}' (${op})`;
    let known = false;
    let failure: string | undefined;
    try {
      known = (node.domain ?? '') === '' || node.domain === 'ai.onnx' ? this.apply(node, name, op, inputs, where) : false;
    } catch (error) {
      // A rule that cannot follow this node (shapes it did not expect): everything the node
      // touches stays fixed, as for an unknown op. Constraints already added only restrict more.
      failure = (error as Error).message;
    }
    if (!known) {
      this.unknownOps.push({ node: name, op: node.domain ? `${node.domain}::${op}` : op });
      const reason = loud(failure ? `${where} could not be followed (${failure})` : `${where} is an op the spec inference does not know`);
      for (const o of inputs) this.fixOperand(o, reason);
      (node.output ?? []).forEach((out, slot) => {
        const dims = this.outDims(node, slot);
        if (out && dims) this.values.set(out, this.freshFixed(dims, `'${out}'`, reason));
      });
    }
    // Parameter axes no rule tied to a channel stay in place.
    for (const o of inputs) {
      if (o.kind !== 'param') continue;
      const axes = this.params.get(o.p.index) ?? o.p.shape.map(() => undefined);
      this.params.set(o.p.index, axes);
      o.p.shape.forEach((d, k) => {
        if (!axes[k]) axes[k] = this.vars.axis(d, `'${o.p.tensor}' axis ${k} at ${name}`, quiet(`axis ${k} of '${o.p.tensor}' at ${where} is not a channel axis`));
      });
    }
    // Outputs a rule left undescribed, and non-float results computed from channels.
    (node.output ?? []).forEach((out, slot) => {
      if (!out) return;
      const shape = this.shapes.get(out);
      if (shape && FLOAT_TYPES.has(shape.type) && !this.values.has(out)) {
        this.values.set(out, this.freshFixed(shape.dims, `'${out}'`, loud(`output ${slot} of ${where} is not followed`)));
      }
      if (shape && !FLOAT_TYPES.has(shape.type) && this.consumed.has(out) && !SHAPE_ONLY.has(op)) {
        const reason = loud(`${where} turns channels into the non-float value '${out}'`);
        for (const o of inputs) this.fixOperand(o, reason);
      }
    });
    if (WEIGHT_OPS.has(op) && inputs.some((o) => o.kind === 'param')) {
      for (const o of inputs) if (o.kind === 'value') this.weightInputs.add(o.name);
    }
  }

  /** Applies the rule of a known op; false when the op is not known (or cannot be followed). */
  private apply(node: NodeProto, name: string, op: string, inputs: Operand[], where: string): boolean {
    const x = inputs[0] ?? { kind: 'none' as const };
    if (op === 'Constant' || op === 'ConstantOfShape') {
      const dims = this.outDims(node);
      if (dims) this.setOut(node, 0, this.freshFixed(dims, `constant '${node.output?.[0]}'`, loud(`constant from ${where}`)));
      return true;
    }
    if (SHAPE_ONLY.has(op)) return true;
    if (!inputs.some((o) => this.tracked(o))) return this.untrackedInputs(node, where);
    if (UNARY.has(op)) {
      if (!this.tracked(x)) return false;
      this.setOut(node, 0, x.kind === 'value' ? this.values.get(x.name)! : x.dims.map((_, k) => this.L(x, k)));
      return true;
    }
    if (op === 'Cast') {
      if (!this.tracked(x)) return false;
      if (this.outDims(node)) this.setOut(node, 0, x.dims.map((_, k) => this.L(x, k)));
      return true; // a cast to a non-float type is caught by the non-float guard
    }
    if (BROADCAST.has(op)) return this.broadcast(node, inputs, where);
    switch (op) {
      case 'Gemm':
        return this.gemm(node, name, inputs, where);
      case 'MatMul':
        return this.matmul(node, name, inputs, where);
      case 'Conv':
        return this.conv(node, name, inputs, where);
      case 'ConvTranspose':
        return this.convTranspose(node, name, inputs, where);
      case 'BatchNormalization':
      case 'InstanceNormalization':
        return this.channelNorm(node, inputs, where);
      case 'LayerNormalization':
        return this.layerNorm(node, inputs, where);
      case 'Concat':
        return this.concat(node, inputs, where);
      case 'Split':
        return this.split(node, inputs, where);
      case 'Slice':
        return this.slice(node, inputs, where);
      case 'Transpose':
        return this.transpose(node, inputs);
      case 'Expand':
      case 'Tile':
        return this.expandOrTile(node, op, inputs, where);
      case 'Resize':
      case 'Upsample':
        return this.resize(node, inputs, where);
      case 'Pad':
        return this.pad(node, inputs, where);
    }
    if (RESHAPES.has(op)) return this.reshape(node, inputs, where);
    if (POOLS.has(op)) return this.pool(node, inputs, where);
    if (REDUCES.has(op)) return this.reduce(node, inputs, where);
    return false;
  }

  /** An op on non-float (or unknown) inputs only: its float outputs are constants. */
  private untrackedInputs(node: NodeProto, where: string): boolean {
    (node.output ?? []).forEach((out, slot) => {
      const dims = this.outDims(node, slot);
      if (out && dims) this.setOut(node, slot, this.freshFixed(dims, `'${out}'`, loud(`constant computed by ${where}`)));
    });
    return true;
  }

  /** Numpy broadcasting: equal non-1 dims along an output axis are the same channels. */
  private broadcast(node: NodeProto, inputs: Operand[], where: string): boolean {
    const dims = this.outDims(node);
    if (!dims) return false;
    const rank = dims.length;
    const operands = inputs.filter((o) => o.kind !== 'none');
    const reasonConst = loud(`a constant operand of ${where} varies along this axis`);
    const out: Segment[][] = [];
    for (let j = 0; j < rank; j++) {
      let layout: Segment[] | undefined;
      for (const o of operands) {
        if (o.kind === 'other') {
          // A non-float initializer or an untracked value: only its dims matter; it varies along j?
          const stored = this.initializers.get(this.aliases.get(o.name) ?? o.name);
          const od = stored ? (stored.dims ?? []).map((d) => toNumber(d)) : this.shapes.get(o.name)?.dims;
          if (!od) return false;
          const k = j - (rank - od.length);
          if (k >= 0 && od[k] !== 1 && dims[j]! > 1) {
            const fixed = this.vars.axis(dims[j]!, `${where} constant`, reasonConst);
            if (layout) this.vars.unify(layout, fixed, where);
            else layout = fixed;
          }
          continue;
        }
        const od = this.dimsOf(o)!;
        const k = j - (rank - od.length);
        if (k < 0 || od[k] === 1) continue;
        if (od[k] !== dims[j]) return false;
        const l = this.L(o, k);
        if (layout) this.vars.unify(layout, l, where);
        else layout = l;
      }
      out.push(layout ?? this.vars.axis(dims[j]!, `${where} axis ${j}`, quiet('broadcast axis')));
    }
    this.setOut(node, 0, out);
    return true;
  }

  private gemm(node: NodeProto, name: string, inputs: Operand[], where: string): boolean {
    const [a, b, c] = inputs;
    if (!a || !b || !this.tracked(a) || !this.tracked(b)) return false;
    if (a.dims.length !== 2 || b.dims.length !== 2) return false;
    const transA = intAttr(node, 'transA', 0);
    const transB = intAttr(node, 'transB', 0);
    const [aM, aK] = transA ? [1, 0] : [0, 1];
    const [bK, bN] = transB ? [1, 0] : [0, 1];
    this.vars.unify(this.L(a, aK), this.L(b, bK), where);
    const n = this.outputChannels(b, bN, name);
    const out = [this.L(a, aM), n];
    if (c && c.kind !== 'none') {
      if (!this.tracked(c)) return false;
      const cd = c.dims;
      for (let k = 0; k < cd.length; k++) {
        const j = k + 2 - cd.length;
        if (j < 0 || cd[k] === 1) continue;
        this.vars.unify(out[j]!, this.L(c, k), where);
      }
    }
    this.setOut(node, 0, out);
    return true;
  }

  /** The output-channel layout a weight axis creates (a fresh variable for a parameter). */
  private outputChannels(w: Extract<Operand, { kind: 'param' | 'value' }>, axis: number, name: string): Segment[] {
    const l = this.L(w, axis, `${name} output channels`);
    if (w.kind === 'param') for (const s of l) this.channelVars.add(s.v);
    return l;
  }

  private matmul(node: NodeProto, name: string, inputs: Operand[], where: string): boolean {
    const [a, b] = inputs;
    const dims = this.outDims(node);
    if (!a || !b || !dims || !this.tracked(a) || !this.tracked(b)) return false;
    const ra = a.dims.length;
    const rb = b.dims.length;
    if (ra < 2 || rb < 2) return false;
    const rank = dims.length;
    this.vars.unify(this.L(a, ra - 1), this.L(b, rb - 2), where);
    const out: Segment[][] = [];
    for (let j = 0; j < rank - 2; j++) {
      let layout: Segment[] | undefined;
      for (const o of [a, b]) {
        const k = j - (rank - o.dims.length);
        if (k < 0 || o.dims[k] === 1) continue;
        const l = this.L(o, k);
        if (layout) this.vars.unify(layout, l, where);
        else layout = l;
      }
      out.push(layout ?? this.vars.axis(dims[j]!, `${where} axis ${j}`, quiet('broadcast axis')));
    }
    out.push(a.kind === 'param' ? this.outputChannels(a, ra - 2, name) : this.L(a, ra - 2));
    out.push(this.outputChannels(b, rb - 1, name));
    this.setOut(node, 0, out);
    return true;
  }

  private spatial(node: NodeProto, from: number, dims: readonly number[], where: string): Segment[][] {
    return dims.slice(from).map((d, k) => this.vars.axis(d, `${where} spatial axis ${k}`, quiet('spatial axis')));
  }

  private conv(node: NodeProto, name: string, inputs: Operand[], where: string): boolean {
    const [x, w, b] = inputs;
    const dims = this.outDims(node);
    if (!x || !w || !dims || !this.tracked(x) || !this.tracked(w) || x.dims.length < 3 || w.dims.length !== x.dims.length) return false;
    const groups = intAttr(node, 'group', 1);
    const cin = x.dims[1]!;
    const cout = w.dims[0]!;
    let channels: Segment[];
    if (groups === 1) {
      this.vars.unify(this.L(x, 1), this.L(w, 1), where);
      channels = this.outputChannels(w, 0, name);
    } else if (groups === cin && cout % cin === 0) {
      // Depthwise: output channel c·m + j reads input channel c only.
      const m = cout / cin;
      channels = this.vars.expand(this.L(x, 1)).map((s) => ({ v: s.v, count: s.count, inner: s.inner * m }));
      this.vars.unify(this.L(w, 0), channels, where);
    } else {
      // Grouped: input channels may not move across groups; each group's outputs permute alone.
      this.vars.fixLayout(this.L(x, 1), loud(`grouped convolution ${where} (group=${groups}) mixes channels only within groups`));
      const per = cout / groups;
      channels = Array.from({ length: groups }, (_, g) => {
        const v = this.vars.fresh(per, `${name} output channels, group ${g}`);
        if (w.kind === 'param') this.channelVars.add(v);
        return { v, count: per, inner: 1 };
      });
      this.vars.unify(this.L(w, 0), channels, where);
    }
    if (b && b.kind !== 'none') {
      if (!this.tracked(b) || b.dims.length !== 1) return false;
      this.vars.unify(this.L(b, 0), channels, where);
    }
    this.setOut(node, 0, [this.L(x, 0), channels, ...this.spatial(node, 2, dims, where)]);
    return true;
  }

  private convTranspose(node: NodeProto, name: string, inputs: Operand[], where: string): boolean {
    const [x, w, b] = inputs;
    const dims = this.outDims(node);
    if (!x || !w || !dims || !this.tracked(x) || !this.tracked(w) || intAttr(node, 'group', 1) !== 1) return false;
    this.vars.unify(this.L(x, 1), this.L(w, 0), where);
    const channels = this.outputChannels(w, 1, name);
    if (b && b.kind !== 'none') {
      if (!this.tracked(b)) return false;
      this.vars.unify(this.L(b, 0), channels, where);
    }
    this.setOut(node, 0, [this.L(x, 0), channels, ...this.spatial(node, 2, dims, where)]);
    return true;
  }

  private channelNorm(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    if (!x || !this.tracked(x) || x.dims.length < 2) return false;
    const channels = this.L(x, 1);
    for (const o of inputs.slice(1)) {
      if (o.kind === 'none') continue;
      if (!this.tracked(o) || o.dims.length !== 1) return false;
      this.vars.unify(this.L(o, 0), channels, where);
    }
    this.setOut(node, 0, x.dims.map((_, k) => this.L(x, k)));
    (node.output ?? []).forEach((_, slot) => {
      if (slot > 0 && this.outDims(node, slot)?.length === 1) this.setOut(node, slot, [channels]);
    });
    return true;
  }

  private layerNorm(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    if (!x || !this.tracked(x)) return false;
    const rank = x.dims.length;
    for (const o of inputs.slice(1)) {
      if (o.kind === 'none') continue;
      if (!this.tracked(o)) return false;
      o.dims.forEach((d, k) => {
        const j = k + rank - o.dims.length;
        if (d !== 1 && j >= 0) this.vars.unify(this.L(o, k), this.L(x, j), where);
      });
    }
    this.setOut(node, 0, x.dims.map((_, k) => this.L(x, k)));
    (node.output ?? []).forEach((_, slot) => {
      const dims = slot > 0 ? this.outDims(node, slot) : undefined;
      if (dims) this.setOut(node, slot, dims.map((d, k) => (d === x.dims[k] ? this.L(x, k) : this.vars.axis(d, `${where} statistics`, quiet('reduced axis')))));
    });
    return true;
  }

  private concat(node: NodeProto, inputs: Operand[], where: string): boolean {
    const dims = this.outDims(node);
    const ops = inputs.filter((o) => o.kind !== 'none');
    if (!dims || ops.some((o) => !this.tracked(o))) return false;
    const tracked = ops as Extract<Operand, { kind: 'param' | 'value' }>[];
    const axis = normAxis(intAttr(node, 'axis', 0), dims.length);
    const out: Segment[][] = [];
    for (let k = 0; k < dims.length; k++) {
      if (k === axis) {
        out.push(tracked.flatMap((o) => this.L(o, k)));
        continue;
      }
      const first = this.L(tracked[0]!, k);
      for (const o of tracked.slice(1)) this.vars.unify(first, this.L(o, k), where);
      out.push(first);
    }
    this.setOut(node, 0, out);
    return true;
  }

  private split(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    if (!x || !this.tracked(x)) return false;
    const axis = normAxis(intAttr(node, 'axis', 0), x.dims.length);
    let offset = 0;
    for (let slot = 0; slot < (node.output ?? []).length; slot++) {
      const dims = this.outDims(node, slot);
      if (!dims) return false;
      const part = this.vars.slice(this.L(x, axis), offset, offset + dims[axis]!);
      if (!part) {
        this.vars.fixLayout(this.L(x, axis), loud(`${where} cuts through a channel block`));
        return false;
      }
      this.setOut(node, slot, x.dims.map((_, k) => (k === axis ? part : this.L(x, k))));
      offset += dims[axis]!;
    }
    return true;
  }

  private slice(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x)) return false;
    const rank = x.dims.length;
    const fromInputs = (node.input ?? []).length > 1;
    const starts = fromInputs ? this.ints(node.input?.[1]) : intsAttr(node, 'starts');
    const axesRaw = fromInputs ? (node.input?.[3] ? this.ints(node.input[3]) : undefined) : intsAttr(node, 'axes');
    const steps = fromInputs && node.input?.[4] ? this.ints(node.input[4]) : undefined;
    if (!starts || (fromInputs && node.input?.[3] && !axesRaw) || (node.input?.[4] && !steps)) return false;
    const axes = (axesRaw ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
    const out: Segment[][] = [];
    for (let k = 0; k < rank; k++) {
      const i = axes.indexOf(k);
      const d = x.dims[k]!;
      if (i < 0 || (dims[k] === d && (steps?.[i] ?? 1) === 1 && Math.min(Math.max(starts[i]! < 0 ? starts[i]! + d : starts[i]!, 0), d) === 0)) {
        out.push(this.L(x, k));
        continue;
      }
      const step = steps?.[i] ?? 1;
      const start = Math.min(Math.max(starts[i]! < 0 ? starts[i]! + d : starts[i]!, 0), d);
      const part = step === 1 ? this.vars.slice(this.L(x, k), start, start + dims[k]!) : null;
      if (part) out.push(part);
      else {
        if (this.vars.permutable(this.L(x, k))) this.vars.fixLayout(this.L(x, k), loud(`${where} takes a strided or misaligned part of the channels`));
        out.push(this.vars.axis(dims[k]!, `${where} axis ${k}`, quiet('sliced axis')));
      }
    }
    this.setOut(node, 0, out);
    return true;
  }

  private transpose(node: NodeProto, inputs: Operand[]): boolean {
    const x = inputs[0];
    if (!x || !this.tracked(x)) return false;
    const rank = x.dims.length;
    const perm = intsAttr(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    this.setOut(node, 0, perm.map((p) => this.L(x, p)));
    return true;
  }

  private expandOrTile(node: NodeProto, op: string, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x)) return false;
    const rank = dims.length;
    const out: Segment[][] = [];
    for (let j = 0; j < rank; j++) {
      const k = j - (rank - x.dims.length);
      const d = k >= 0 ? x.dims[k]! : 1;
      if (k >= 0 && d === dims[j]) out.push(this.L(x, k));
      else if (op === 'Tile' && k >= 0 && d > 1 && dims[j]! % d === 0) {
        const l = this.L(x, k);
        out.push(Array.from({ length: dims[j]! / d }, () => l).flat());
      } else {
        if (k >= 0 && d > 1) return false;
        out.push(this.vars.axis(dims[j]!, `${where} axis ${j}`, quiet('broadcast axis')));
      }
    }
    this.setOut(node, 0, out);
    return true;
  }

  private resize(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x) || dims.length !== x.dims.length) return false;
    if (stringAttr(node, 'coordinate_transformation_mode') === 'tf_crop_and_resize') return false;
    this.setOut(node, 0, dims.map((d, k) => (d === x.dims[k] && k < 2 ? this.L(x, k) : this.vars.axis(d, `${where} axis ${k}`, quiet('resized axis')))));
    for (const k of [0, 1]) if (dims[k] !== x.dims[k] && this.vars.permutable(this.L(x, k))) this.vars.fixLayout(this.L(x, k), loud(`${where} resizes this axis`));
    return true;
  }

  private pad(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x)) return false;
    const rank = x.dims.length;
    const pads = node.input?.[1] ? this.ints(node.input[1]) : intsAttr(node, 'pads');
    const axesList = node.input?.[3] ? this.ints(node.input[3]) : undefined;
    if (!pads || (node.input?.[3] && !axesList)) return false;
    const axes = (axesList ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
    const n = axes.length;
    const out: Segment[][] = [];
    for (let k = 0; k < rank; k++) {
      const i = axes.indexOf(k);
      if (i < 0 || (pads[i] === 0 && pads[i + n] === 0)) out.push(this.L(x, k));
      else {
        if (this.vars.permutable(this.L(x, k))) this.vars.fixLayout(this.L(x, k), loud(`${where} pads this axis`));
        out.push(this.vars.axis(dims[k]!, `${where} axis ${k}`, quiet('padded axis')));
      }
    }
    this.setOut(node, 0, out);
    return true;
  }

  private pool(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x) || x.dims.length < 3) return false;
    this.setOut(node, 0, [this.L(x, 0), this.L(x, 1), ...this.spatial(node, 2, dims, where)]);
    return true;
  }

  private reduce(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x)) return false;
    const rank = x.dims.length;
    let axes = intsAttr(node, 'axes');
    if (!axes && node.input?.[1]) {
      axes = this.ints(node.input[1]);
      if (!axes) return false;
    }
    if (!axes || axes.length === 0) {
      axes = intAttr(node, 'noop_with_empty_axes', 0) && node.input?.[1] !== undefined ? [] : Array.from({ length: rank }, (_, i) => i);
    }
    const reduced = new Set(axes.map((a) => normAxis(a, rank)));
    const keep = intAttr(node, 'keepdims', 1) === 1;
    const out: Segment[][] = [];
    for (let k = 0; k < rank; k++) {
      if (!reduced.has(k)) out.push(this.L(x, k));
      else if (keep) out.push(this.vars.axis(1, `${where} axis ${k}`, quiet('reduced axis')));
    }
    if (out.length !== dims.length) return false;
    this.setOut(node, 0, out);
    return true;
  }

  /** Reshape, Flatten, Squeeze, Unsqueeze: row-major regrouping of axes, followed through dims. */
  private reshape(node: NodeProto, inputs: Operand[], where: string): boolean {
    const x = inputs[0];
    const dims = this.outDims(node);
    if (!x || !dims || !this.tracked(x)) return false;
    const inDims = x.dims;
    if (product(inDims) !== product(dims)) return false;
    const out: (Segment[] | undefined)[] = dims.map(() => undefined);
    const ia = inDims.map((_, k) => k).filter((k) => inDims[k] !== 1);
    const oa = dims.map((_, k) => k).filter((k) => dims[k] !== 1);
    if (inDims.includes(0) || dims.includes(0)) return false;
    let i = 0;
    let j = 0;
    while (i < ia.length && j < oa.length) {
      const gi = [ia[i++]!];
      const gj = [oa[j++]!];
      let pi = inDims[gi[0]!]!;
      let pj = dims[gj[0]!]!;
      while (pi !== pj) {
        if (pi < pj) {
          if (i >= ia.length) return false;
          gi.push(ia[i]!);
          pi *= inDims[ia[i++]!]!;
        } else {
          if (j >= oa.length) return false;
          gj.push(oa[j]!);
          pj *= dims[oa[j++]!]!;
        }
      }
      const merged = this.merge(gi.map((k) => this.L(x, k)), gi.map((k) => inDims[k]!), where);
      const parts = this.splitAxis(merged, gj.map((k) => dims[k]!), where);
      gj.forEach((k, n) => (out[k] = parts[n]!));
    }
    if (i < ia.length || j < oa.length) return false;
    this.setOut(node, 0, out.map((l, k) => l ?? this.vars.axis(dims[k]!, `${where} axis ${k}`, quiet('unit axis'))));
    return true;
  }

  /** Several axes read as one (row-major): possible when at most one of them can be permuted. */
  private merge(layouts: Segment[][], dims: number[], where: string): Segment[] {
    if (layouts.length === 1) return layouts[0]!;
    const movable = layouts.map((l, k) => k).filter((k) => this.vars.permutable(layouts[k]!));
    const total = product(dims);
    if (movable.length === 0) return this.vars.axis(total, `${where} merged axes`, quiet('merged fixed axes'));
    const k = movable[0]!;
    const outer = product(dims.slice(0, k));
    const innerSize = product(dims.slice(k + 1));
    const block = this.vars.expand(layouts[k]!).map((s) => ({ v: s.v, count: s.count, inner: s.inner * innerSize }));
    if (movable.length > 1 || outer * block.length > 100_000) {
      const reason = loud(`${where} merges ${movable.length > 1 ? 'two permutable axes' : 'an axis into too many blocks to follow'}`);
      for (const m of movable) this.vars.fixLayout(layouts[m]!, reason);
      return this.vars.axis(total, `${where} merged axes`, reason);
    }
    return Array.from({ length: outer }, () => block).flat();
  }

  /** One axis read as several (row-major): the channels must land on one of them. */
  private splitAxis(layout: Segment[], dims: number[], where: string): Segment[][] {
    if (dims.length === 1) return [layout];
    const fixedAll = (reason: FixReason): Segment[][] => dims.map((d, n) => this.vars.axis(d, `${where} axis part ${n}`, reason));
    const e = this.vars.expand(layout);
    if (!this.vars.permutable(e)) return fixedAll(quiet('split fixed axis'));
    for (let k = 0; k < dims.length; k++) {
      const outer = product(dims.slice(0, k));
      const inner = product(dims.slice(k + 1));
      if (e.length % outer !== 0) continue;
      const n = e.length / outer;
      const block = e.slice(0, n);
      const same = e.every((s, q) => {
        const t = block[q % n]!;
        return s.v === t.v && s.count === t.count && s.inner === t.inner;
      });
      if (!same || span(block) !== dims[k]! * inner || block.some((s) => s.inner % inner !== 0)) continue;
      return dims.map((d, m) =>
        m === k ? block.map((s) => ({ v: s.v, count: s.count, inner: s.inner / inner })) : this.vars.axis(d, `${where} axis part ${m}`, quiet('split axis')),
      );
    }
    const reason = loud(`${where} spreads channels over several axes`);
    this.vars.fixLayout(e, reason);
    return fixedAll(reason);
  }

  // ---- the report -------------------------------------------------------------------------

  private inputName(p: Parameter): string {
    return this.cp.model.graph?.node?.[p.nodeIndex]?.input?.[p.inputIndex] || p.tensor;
  }

  private report(): PermutationSpec {
    const vars = this.vars;
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
    for (const p of this.cp.parameters) {
      const axes = this.params.get(p.index);
      if (!axes) continue;
      axes.forEach((l, axis) => {
        if (!l) return;
        walk(l, (root, offset, inner) =>
          acc(root).params.push({ parameter: p.index, tensor: p.tensor, input: this.inputName(p), node: p.node, op: p.op, inputIndex: p.inputIndex, shape: p.shape, axis, offset, inner }),
        );
      });
    }
    for (const [value, layouts] of this.values) {
      const dims = this.shapes.get(value)!.dims;
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
      const m = (members.get(root) ?? [root]).filter((v) => this.channelVars.has(v) || v === root);
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
        if ((members.get(root) ?? []).some((v) => this.channelVars.has(v))) trivial.push({ label: label(root), parameters: a.params });
        continue;
      }
      const weightInputs = a.values.filter((v) => this.weightInputs.has(v.value));
      const fallback = a.values.filter((v) => !this.outputNames.has(v.value));
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
      file: this.cp.file,
      inputShape: [...this.inputShape],
      groups: groups.map((g, index) => ({ index, ...g })),
      fixed,
      trivial,
      unknownOps: this.unknownOps,
    };
  }
}

// ---- comparing specs ------------------------------------------------------------------------

function actionKey(a: ParameterAction): string {
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

/** A short description of one parameter action: "fc2.weight axis 1", "fc.weight axis 1 [0:1568) in blocks of 49". */
export function describeAction(a: AxisAction & { tensor?: string; input?: string; value?: string; shape: readonly number[] }, size: number): string {
  const what = a.input ?? a.tensor ?? a.value ?? '?';
  const dim = a.shape[a.axis]!;
  const end = a.offset + size * a.inner;
  const range = a.offset !== 0 || end !== dim ? ` [${a.offset}:${end})` : '';
  const blocks = a.inner > 1 ? ` in blocks of ${a.inner}` : '';
  return `${what} axis ${a.axis}${range}${blocks}`;
}
