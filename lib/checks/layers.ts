/**
 * Which graph values the per-layer checks look at (SCIENCE.md §2–4): by default the output of
 * every activation, every residual Add and the logits; the linear layers for commutativity.
 */
import type { Checkpoint } from '../checkpoint.js';
import { InvalidArgumentError } from '../errors.js';
import { initializerAliases, initializerMap, nodeName } from '../onnx/graph.js';
import { modulePath } from '../onnx/names.js';
import type { NodeProto } from '../onnx/proto.js';
import type { LayerKind } from '../results.js';

/** Element-wise activations; weak additivity applies to those without parameters. */
export const ACTIVATION_OPS = new Set([
  'Relu', 'LeakyRelu', 'Gelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign',
  'HardSigmoid', 'HardSwish', 'Mish', 'ThresholdedRelu', 'PRelu', 'Clip',
]);

export const LINEAR_OPS = new Set(['Gemm', 'MatMul', 'Conv']);

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
  const initializers = initializerMap(graph);
  const names = new Set<string>([...initializers.keys(), ...initializerAliases(graph, initializers).keys()]);
  for (const n of graph.node ?? []) if (n.opType === 'Constant') for (const o of n.output ?? []) names.add(o);
  return names;
}

function classify(node: NodeProto, logits: string, constants: Set<string>): LayerKind {
  if (node.output?.[0] === logits) return 'logits';
  if (ACTIVATION_OPS.has(node.opType ?? '')) return 'activation';
  // A residual Add sums two computed values; x + bias (an initializer) is not residual.
  if (node.opType === 'Add' && !(node.input ?? []).some((i) => constants.has(i))) return 'add';
  return 'other';
}

function layerOf(checkpoint: Checkpoint, node: NodeProto, index: number, kind: LayerKind): LayerSpec {
  const name = nodeName(node, index);
  const op = node.opType ?? '';
  const hasParams = parameterInputs(checkpoint, index).size > 0;
  return {
    name: node.output![0]!,
    node: name,
    nodeIndex: index,
    op,
    module: modulePath(name, node.metadataProps),
    kind,
    ...(kind === 'activation' && !hasParams && op !== 'Clip' ? { activationInput: node.input![0]! } : {}),
  };
}

/**
 * The layers to report. Without a selection: every activation output, every residual Add,
 * and the logits (the first graph output). A selection lists node names, tensor names,
 * PyTorch module paths or op types (case-insensitive); an unknown entry is an error.
 */
export function selectLayers(checkpoint: Checkpoint, selection?: readonly string[]): LayerSpec[] {
  const nodes = checkpoint.model.graph!.node ?? [];
  const logits = checkpoint.outputs[0]?.name ?? '';
  const constants = constantValues(checkpoint);
  const all = nodes.map((node, i) => ({ node, i, kind: classify(node, logits, constants) })).filter(({ node }) => (node.output?.length ?? 0) > 0 && node.opType !== 'Identity' && node.opType !== 'Constant');
  if (!selection || selection.length === 0) {
    return all.filter((l) => l.kind !== 'other').map((l) => layerOf(checkpoint, l.node, l.i, l.kind));
  }
  const chosen = new Set<number>();
  for (const token of selection) {
    const lower = token.toLowerCase();
    const hits = all.filter(({ node, i }) => {
      const name = nodeName(node, i);
      return name === token || node.output?.[0] === token || modulePath(name, node.metadataProps) === token || (node.opType ?? '').toLowerCase() === lower;
    });
    if (hits.length === 0) {
      const examples = all.slice(0, 6).map(({ node, i }) => modulePath(nodeName(node, i), node.metadataProps) ?? nodeName(node, i));
      throw new InvalidArgumentError(`${checkpoint.file}: no layer matches '${token}' (give node names, tensor names, module paths or op types, e.g. ${examples.join(', ')})`);
    }
    for (const h of hits) chosen.add(h.i);
  }
  return all.filter((l) => chosen.has(l.i)).map((l) => layerOf(checkpoint, l.node, l.i, l.kind));
}

/** Every Gemm, MatMul with a weight, and Conv: the layers commutativity is measured on. */
export function linearLayers(checkpoint: Checkpoint): LinearLayerSpec[] {
  const nodes = checkpoint.model.graph!.node ?? [];
  const result: LinearLayerSpec[] = [];
  nodes.forEach((node, index) => {
    const op = node.opType ?? '';
    if (!LINEAR_OPS.has(op)) return;
    const weightSlot = op === 'MatMul' ? [1, 0].find((s) => parameterInputs(checkpoint, index).has(s)) : 1;
    const weight = checkpoint.parameters.find((p) => p.nodeIndex === index && p.inputIndex === weightSlot);
    if (!weight || weightSlot === undefined) return;
    const name = nodeName(node, index);
    result.push({ node: name, nodeIndex: index, op, module: modulePath(name, node.metadataProps), weight: weight.index, input: node.input![weightSlot === 0 ? 1 : 0]! });
  });
  return result;
}
