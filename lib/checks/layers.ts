/**
 * Which graph values the per-layer checks look at (SCIENCE.md §2–4, §7): by default the output of
 * every activation (decomposed ones included), every residual Add, every attention's output
 * (the module's output: its out-projection's, reshaped back, before the residual Add) and the
 * logits; the linear layers for commutativity; and whether a layer's samples are tokens.
 */
import type { Checkpoint, Parameter } from '../checkpoint.js';
import { InvalidArgumentError } from '../errors.js';
import { constantNodes, nodeName, producerMap, storedTensors } from '../onnx/graph.js';
import { modulePath } from '../onnx/names.js';
import type { GraphProto, NodeProto } from '../onnx/proto.js';
import type { LayerKind } from '../results.js';
import { matchActivations, type ActivationMatch } from './activation-patterns.js';

/** Element-wise activations; weak additivity applies to those without parameters. */
export const ACTIVATION_OPS = new Set([
  'Relu', 'LeakyRelu', 'Gelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign',
  'HardSigmoid', 'HardSwish', 'Mish', 'ThresholdedRelu', 'PRelu', 'Clip',
]);

export const LINEAR_OPS = new Set(['Gemm', 'MatMul', 'Conv']);

/** Ops whose output keeps the layout of their (first computed) input: the feature axis stays where it was. */
const LAYOUT_KEEPING_OPS = new Set([
  ...ACTIVATION_OPS, 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Erf', 'Neg', 'Abs', 'Exp', 'Log', 'Max', 'Min',
  'Dropout', 'Identity', 'Cast', 'Concat', 'Split', 'Slice', 'Where',
]);

/** Ops that put the features on axis 1 (N×C×H×W): a conv feature map is one sample per input. */
const CHANNEL_FIRST_OPS = new Set([
  'Conv', 'ConvTranspose', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'LRN', 'MaxPool',
  'AveragePool', 'LpPool', 'GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'MaxUnpool', 'Resize', 'Upsample',
  'SpaceToDepth', 'DepthToSpace',
]);

/** Ops an attention's output passes through between its weighted sum and the out-projection. */
const HEAD_MERGING_OPS = new Set(['Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Cast', 'Dropout']);

/** Ops that only move an attention's output back into the module's layout after the out-projection. */
const RESHAPING_OPS = new Set(['Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity']);

/** A tapped value and what computes it. */
export interface LayerSpec {
  readonly name: string;
  readonly node: string;
  readonly nodeIndex: number;
  readonly op: string;
  readonly module: string | null;
  readonly kind: LayerKind;
  /** For activations without parameters: the pre-activation input (weak additivity). */
  readonly activationInput?: string;
  /** For an activation written as several nodes (activation-patterns.ts): its function and its nodes. */
  readonly activationPattern?: { readonly kernel: string; readonly nodes: readonly number[] };
  /**
   * Samples are tokens (SCIENCE.md §7): the value's features lie on its last axis, so a value of
   * shape N×T×D is N·T samples of D numbers; false for channel-first (conv) features, where
   * each of the N inputs is one sample of C·H·W numbers.
   */
  readonly tokens: boolean;
}

/** A linear layer for commutativity: the weight parameter and the input H. */
export interface LinearLayerSpec {
  readonly node: string;
  readonly nodeIndex: number;
  readonly op: string;
  readonly module: string | null;
  /** Index of the weight in checkpoint.parameters. */
  readonly weight: number;
  /** The node input the weight arrives at. */
  readonly weightSlot: number;
  /**
   * The weight arrives through a Transpose (a tied LM head: Transpose → MatMul of the embedding
   * table, which the dynamo exporter does not fold because the table has another reader).
   */
  readonly transposed: boolean;
  /** The input value H (a graph value or the model input). */
  readonly input: string;
}

/** Names of every value fixed before the data arrives: initializers, their aliases, Constant outputs. */
function constantValues(checkpoint: Checkpoint): Set<string> {
  const graph = checkpoint.model.graph!;
  return new Set([...storedTensors(graph).keys(), ...constantNodes(graph).keys()]);
}

/** What the layer rules need to know about a graph, computed once. */
interface GraphFacts {
  readonly graph: GraphProto;
  readonly logits: string;
  readonly constants: Set<string>;
  readonly producers: Map<string, { node: number; slot: number }>;
  readonly patterns: Map<number, ActivationMatch>;
  /** Nodes inside a decomposed activation, its output node excepted. */
  readonly insidePatterns: Set<number>;
  readonly hasParams: (index: number) => boolean;
  /** Values to which a bias (a constant) is added next: a linear layer's output is that Add's. */
  readonly biased: Set<string>;
  /** value → the nodes that read it, Shape nodes (which read no values) left out. */
  readonly readers: Map<string, number[]>;
}

function graphFacts(checkpoint: Checkpoint): GraphFacts {
  const graph = checkpoint.model.graph!;
  const patterns = matchActivations(graph);
  const insidePatterns = new Set([...patterns.values()].flatMap((m) => m.nodes.filter((i) => i !== m.root)));
  const withParams = new Set(checkpoint.parameters.map((p) => p.nodeIndex));
  const constants = constantValues(checkpoint);
  const biased = new Set(
    graph.node.filter((n) => n.opType === 'Add' && n.input.some((i) => constants.has(i))).flatMap((n) => n.input.filter((i) => !constants.has(i))),
  );
  const readers = new Map<string, number[]>();
  graph.node.forEach((n, i) => {
    if (n.opType !== 'Shape') for (const input of new Set(n.input)) readers.set(input, [...(readers.get(input) ?? []), i]);
  });
  return { graph, logits: checkpoint.outputs[0]?.name ?? '', constants, producers: producerMap(graph), patterns, insidePatterns, hasParams: (i) => withParams.has(i), biased, readers };
}

/** The node computing a value, if a node does. */
function producer(facts: GraphFacts, value: string): { node: NodeProto; index: number } | undefined {
  const at = facts.producers.get(value);
  return at ? { node: facts.graph.node[at.node]!, index: at.node } : undefined;
}

/** The first input of a node that is computed from the data (not a constant). */
function computedInput(facts: GraphFacts, node: NodeProto): string | undefined {
  return node.input.find((i) => i !== '' && !facts.constants.has(i));
}

/**
 * Whether a value's features lie on its last axis: follow layout-keeping ops back to the op that
 * set the layout; channel-first ops (Conv, pooling, BatchNorm, …) say no, anything else
 * (MatMul, Gemm, LayerNormalization, Gather, Transpose, a model input, …) yes.
 */
function featuresLast(facts: GraphFacts, index: number): boolean {
  const seen = new Set<number>();
  let at: { node: NodeProto; index: number } | undefined = { node: facts.graph.node[index]!, index };
  while (at && !seen.has(at.index)) {
    seen.add(at.index);
    const op = at.node.opType;
    if (CHANNEL_FIRST_OPS.has(op)) return false;
    if (!LAYOUT_KEEPING_OPS.has(op)) return true;
    const input = computedInput(facts, at.node);
    at = input === undefined ? undefined : producer(facts, input);
  }
  return true;
}

/** Follows a value back through the given ops to the first node of another op. */
function through(facts: GraphFacts, value: string, ops: ReadonlySet<string>): { node: NodeProto; index: number } | undefined {
  let at = producer(facts, value);
  while (at && ops.has(at.node.opType)) {
    const input = computedInput(facts, at.node);
    at = input === undefined ? undefined : producer(facts, input);
  }
  return at;
}

/**
 * Whether a node is an attention's output: a linear layer (MatMul or Gemm with a weight, with or
 * without its bias Add) whose input is, up to merging the heads, a product of a Softmax's weights
 * with the values.
 */
function isAttentionOutput(facts: GraphFacts, index: number): boolean {
  let node = facts.graph.node[index]!;
  if (node.opType === 'Add' && node.input.some((i) => facts.constants.has(i))) {
    const linear = producer(facts, computedInput(facts, node) ?? '');
    if (!linear) return false;
    node = linear.node;
    index = linear.index;
  } else if (facts.biased.has(node.output[0] ?? '')) {
    return false;
  }
  if ((node.opType !== 'MatMul' && node.opType !== 'Gemm') || !facts.hasParams(index)) return false;
  const weighted = through(facts, computedInput(facts, node) ?? '', HEAD_MERGING_OPS);
  if (!weighted || weighted.node.opType !== 'MatMul' || facts.hasParams(weighted.index)) return false;
  return weighted.node.input.some((i) => through(facts, i, HEAD_MERGING_OPS)?.node.opType === 'Softmax');
}

/**
 * The node whose output is the attention module's output: the out-projection's, or, when its
 * only reader is a reshape, the end of that chain. nn.MultiheadAttention projects the tokens
 * flattened (T·N)×D, then Reshape and Transpose give back the N×T×D the module returns (and a
 * forward hook sees); the same tokens, in the module's order.
 */
function moduleOutput(facts: GraphFacts, index: number): number {
  let at = index;
  for (;;) {
    const readers = facts.readers.get(facts.graph.node[at]!.output[0] ?? '') ?? [];
    if (readers.length !== 1 || !RESHAPING_OPS.has(facts.graph.node[readers[0]!]!.opType)) return at;
    at = readers[0]!;
  }
}

/** Indices of the nodes that give attention outputs (see moduleOutput). */
function attentionOutputs(facts: GraphFacts): Set<number> {
  return new Set(facts.graph.node.flatMap((_, i) => (isAttentionOutput(facts, i) ? [moduleOutput(facts, i)] : [])));
}

function classify(facts: GraphFacts, attention: Set<number>, node: NodeProto, index: number): LayerKind {
  if (node.output[0] === facts.logits) return 'logits';
  if (ACTIVATION_OPS.has(node.opType) || facts.patterns.has(index)) return 'activation';
  // A residual Add sums two computed values; x + bias (an initializer) is not residual.
  if (node.opType === 'Add' && !node.input.some((i) => facts.constants.has(i))) return 'add';
  if (attention.has(index)) return 'attention';
  return 'other';
}

function layerOf(facts: GraphFacts, node: NodeProto, index: number, kind: LayerKind): LayerSpec {
  const name = nodeName(node, index);
  const pattern = facts.patterns.get(index);
  const op = pattern?.name ?? node.opType;
  const activation = pattern
    ? { activationInput: pattern.input, activationPattern: { kernel: pattern.kernel, nodes: pattern.nodes } }
    : kind === 'activation' && !facts.hasParams(index) && op !== 'Clip'
      ? { activationInput: node.input[0]! }
      : {};
  return { name: node.output[0]!, node: name, nodeIndex: index, op, module: modulePath(name, node.metadataProps), kind, tokens: featuresLast(facts, index), ...activation };
}

/**
 * The layers to report. Without a selection: every activation output (a decomposed GELU's
 * included, as op 'Gelu'), every residual Add, every attention output and the logits (the first
 * graph output). A selection lists node names, tensor names, PyTorch module paths or op types
 * (case-insensitive); an unknown entry is an error.
 */
export function selectLayers(checkpoint: Checkpoint, selection?: readonly string[]): LayerSpec[] {
  const nodes = checkpoint.model.graph!.node;
  const facts = graphFacts(checkpoint);
  const attention = attentionOutputs(facts);
  const all = nodes
    .map((node, i) => ({ node, i, kind: classify(facts, attention, node, i), op: facts.patterns.get(i)?.name ?? node.opType }))
    // The inner nodes of a decomposed activation are parts of one layer, not layers of their own.
    .filter(({ node, i }) => node.output.length > 0 && node.opType !== 'Identity' && node.opType !== 'Constant' && !facts.insidePatterns.has(i));
  if (!selection || selection.length === 0) {
    return all.filter((l) => l.kind !== 'other').map((l) => layerOf(facts, l.node, l.i, l.kind));
  }
  const chosen = new Set<number>();
  for (const token of selection) {
    const lower = token.toLowerCase();
    const hits = all.filter(({ node, i, op }) => {
      const name = nodeName(node, i);
      return name === token || node.output[0] === token || modulePath(name, node.metadataProps) === token || op.toLowerCase() === lower;
    });
    if (hits.length === 0) {
      const examples = all.slice(0, 6).map(({ node, i }) => modulePath(nodeName(node, i), node.metadataProps) ?? nodeName(node, i));
      throw new InvalidArgumentError(`${checkpoint.file}: no layer matches '${token}' (give node names, tensor names, module paths or op types, e.g. ${examples.join(', ')})`);
    }
    for (const h of hits) chosen.add(h.i);
  }
  return all.filter((l) => chosen.has(l.i)).map((l) => layerOf(facts, l.node, l.i, l.kind));
}

/** The parameter node `index` reads at input `slot`, if it reads one there. */
export function parameterAt(checkpoint: Checkpoint, index: number, slot: number): Parameter | undefined {
  return checkpoint.parameters.find((p) => p.nodeIndex === index && p.inputIndex === slot);
}

/**
 * The parameter a node input reads: directly, or (for a MatMul) through a 2-D Transpose of a
 * parameter, as a tied head reads the embedding table.
 */
function weightAt(checkpoint: Checkpoint, producers: Map<string, { node: number; slot: number }>, index: number, slot: number): { weight: number; transposed: boolean } | undefined {
  const direct = parameterAt(checkpoint, index, slot);
  if (direct) return { weight: direct.index, transposed: false };
  const node = checkpoint.model.graph!.node[index]!;
  const at = producers.get(node.input[slot] ?? '');
  if (node.opType !== 'MatMul' || !at) return undefined;
  const transpose = checkpoint.model.graph!.node[at.node]!;
  const table = parameterAt(checkpoint, at.node, 0);
  const perm = transpose.attribute.find((a) => a.name === 'perm')?.ints.map(Number) ?? [1, 0];
  if (transpose.opType !== 'Transpose' || !table || table.shape.length !== 2 || perm.join() !== '1,0') return undefined;
  return { weight: table.index, transposed: true };
}

/** Every Gemm, MatMul with a weight (a tied head's transposed table included), and Conv: the layers commutativity is measured on. */
export function linearLayers(checkpoint: Checkpoint): LinearLayerSpec[] {
  const nodes = checkpoint.model.graph!.node;
  const producers = producerMap(checkpoint.model.graph!);
  const result: LinearLayerSpec[] = [];
  nodes.forEach((node, index) => {
    const op = node.opType;
    if (!LINEAR_OPS.has(op)) return;
    const slots = op === 'MatMul' ? [1, 0] : [1];
    const weightSlot = slots.find((s) => weightAt(checkpoint, producers, index, s) !== undefined);
    if (weightSlot === undefined) return;
    const { weight, transposed } = weightAt(checkpoint, producers, index, weightSlot)!;
    const name = nodeName(node, index);
    result.push({ node: name, nodeIndex: index, op, module: modulePath(name, node.metadataProps), weight, weightSlot, transposed, input: node.input[weightSlot === 0 ? 1 : 0]! });
  });
  return result;
}
