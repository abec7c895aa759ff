/**
 * Which graph values the per-layer checks look at (SCIENCE.md §2–4, §7): by default the output of
 * every activation (decomposed ones included), every residual Add, every attention's output
 * (its out-projection, before the residual Add) and the logits; the linear layers for
 * commutativity; and whether a layer's samples are tokens.
 */
import type { Checkpoint } from '../checkpoint.js';
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
  /** The input value H (a graph value or the model input). */
  readonly input: string;
}

function parameterInputs(checkpoint: Checkpoint, nodeIndex: number): Set<number> {
  return new Set(checkpoint.parameters.filter((p) => p.nodeIndex === nodeIndex).map((p) => p.inputIndex));
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
  return { graph, logits: checkpoint.outputs[0]?.name ?? '', constants, producers: producerMap(graph), patterns, insidePatterns, hasParams: (i) => withParams.has(i), biased };
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

function classify(facts: GraphFacts, node: NodeProto, index: number): LayerKind {
  if (node.output[0] === facts.logits) return 'logits';
  if (ACTIVATION_OPS.has(node.opType) || facts.patterns.has(index)) return 'activation';
  // A residual Add sums two computed values; x + bias (an initializer) is not residual.
  if (node.opType === 'Add' && !node.input.some((i) => facts.constants.has(i))) return 'add';
  if (isAttentionOutput(facts, index)) return 'attention';
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
  const all = nodes
    .map((node, i) => ({ node, i, kind: classify(facts, node, i), op: facts.patterns.get(i)?.name ?? node.opType }))
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

/** Every Gemm, MatMul with a weight, and Conv: the layers commutativity is measured on. */
export function linearLayers(checkpoint: Checkpoint): LinearLayerSpec[] {
  const nodes = checkpoint.model.graph!.node;
  const result: LinearLayerSpec[] = [];
  nodes.forEach((node, index) => {
    const op = node.opType;
    if (!LINEAR_OPS.has(op)) return;
    const weightSlot = op === 'MatMul' ? [1, 0].find((s) => parameterInputs(checkpoint, index).has(s)) : 1;
    const weight = checkpoint.parameters.find((p) => p.nodeIndex === index && p.inputIndex === weightSlot);
    if (!weight || weightSlot === undefined) return;
    const name = nodeName(node, index);
    result.push({ node: name, nodeIndex: index, op, module: modulePath(name, node.metadataProps), weight: weight.index, input: node.input[weightSlot === 0 ? 1 : 0]! });
  });
  return result;
}
