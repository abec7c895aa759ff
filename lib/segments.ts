/**
 * A model's graph cut into segments: runs of consecutive nodes, each a model of its own whose
 * inputs are the values earlier segments computed (and the data) and its parameters, and whose
 * outputs are the values later segments read (and the model's outputs). Run one after another,
 * the segments compute what the whole model computes, but each needs only its own parameters: a
 * pass over a large model feeds each segment A's, B's or θ(α)'s parameters of that segment alone
 * (θ(α) computed into one segment-sized buffer), and reads each segment's features before the
 * next runs (lib/checks/analyze.ts).
 */
import { parameterValueName, rewireParameters, type Checkpoint, type Parameter } from './checkpoint.js';
import { floatValueInfo, initializerMap, producerMap } from './onnx/graph.js';
import { AttributeType, DataType, newModel, newValueInfo, tensorType, type ModelProto, type NodeProto, type ValueInfoProto } from './onnx/proto.js';

/** One segment: nodes [start, end) of the rewired graph (rewireParameters: parameters as graph inputs). */
export interface Segment {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  /** Its parameters, in arena order, and the arena range [lo, hi) that holds them. */
  readonly parameters: readonly Parameter[];
  readonly lo: number;
  readonly hi: number;
  /** Values it reads that earlier segments computed, or the data inputs. */
  readonly inputs: readonly string[];
  /** Values it computes that later segments read, or that the model outputs. */
  readonly carried: readonly string[];
  /** Every value passed on past it (computed by it or before it): what later segments read, the model outputs, groups not yet complete. */
  readonly live: readonly string[];
  /** Every value it computes. */
  readonly computes: ReadonlySet<string>;
}

export interface SegmentPlan {
  readonly segments: readonly Segment[];
  /** The segment that computes each value (the data inputs: segment 0). */
  segmentOf(name: string): number | undefined;
  /** The model of one segment, returning its carried values and the `taps` it computes. */
  model(segment: Segment, taps: readonly string[]): ModelProto;
}

/** Ops whose outputs have the element type of their first input. */
const SAME_TYPE_OPS: ReadonlySet<string> = new Set([
  'Abs', 'Add', 'AveragePool', 'BatchNormalization', 'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Div', 'Dropout', 'Einsum', 'Elu', 'Erf', 'Exp',
  'Expand', 'Flatten', 'Gather', 'Gelu', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool', 'HardSigmoid', 'HardSwish', 'Identity', 'InstanceNormalization',
  'LayerNormalization', 'LeakyRelu', 'Log', 'LogSoftmax', 'MatMul', 'Max', 'MaxPool', 'Min', 'Mish', 'Mul', 'Neg', 'Pad', 'Pow', 'Reciprocal',
  'ReduceMax', 'ReduceMean', 'ReduceSum', 'Relu', 'Reshape', 'Resize', 'Selu', 'Sigmoid', 'SimplifiedLayerNormalization', 'Slice', 'Softmax',
  'Softplus', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Tanh', 'Tile', 'Transpose', 'Trilu', 'Unsqueeze',
]);

/** Outputs past the first whose type is fixed (a mask, indices), by op. */
const OTHER_OUTPUT_TYPES: Readonly<Record<string, number>> = { Dropout: DataType.BOOL, MaxPool: DataType.INT64 };

/**
 * The element type of every value whose type the graph gives or these rules tell (data inputs,
 * initializers, value_info, and each node's outputs from its op and inputs); unknown values are
 * absent, and no segment boundary is placed where one would cross it.
 */
function elementTypes(model: ModelProto): Map<string, number> {
  const graph = model.graph!;
  const types = new Map<string, number>();
  for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const type = tensorType(v)?.elemType;
    if (type) types.set(v.name, type);
  }
  for (const t of graph.initializer) types.set(t.name, t.dataType);
  for (const node of graph.node) {
    node.output.forEach((out, k) => {
      if (out === '' || types.has(out)) return;
      const type = outputType(node, k, types);
      if (type !== undefined) types.set(out, type);
    });
  }
  return types;
}

function outputType(node: NodeProto, k: number, types: ReadonlyMap<string, number>): number | undefined {
  const attribute = (name: string) => node.attribute.find((a) => a.name === name);
  switch (node.opType) {
    case 'Cast':
      return Number(attribute('to')?.i ?? 0) || undefined;
    case 'Shape':
    case 'Size':
      return DataType.INT64;
    case 'Constant':
    case 'ConstantOfShape': {
      const value = attribute('value');
      if (value?.t) return value.t.dataType;
      if (node.opType === 'ConstantOfShape') return DataType.FLOAT;
      if (attribute('value_float') || attribute('value_floats')) return DataType.FLOAT;
      if (attribute('value_int') || attribute('value_ints')) return DataType.INT64;
      return undefined;
    }
    case 'Where':
      return types.get(node.input[1] ?? '');
  }
  if (!SAME_TYPE_OPS.has(node.opType) || node.domain !== '') return undefined;
  if (k > 0 && node.opType in OTHER_OUTPUT_TYPES) return OTHER_OUTPUT_TYPES[node.opType];
  return types.get(node.input[0] ?? '');
}

/** The values a pass taps: their bytes per sample where known, which segments share out as they do parameters, and the groups read together. */
export interface PassValues {
  readonly taps: readonly string[];
  readonly bytes?: ReadonlyMap<string, number>;
  /** Values a check reads together (CheckNeeds.groups): each stays readable until the segment that computes the last of its group. */
  readonly groups?: readonly (readonly string[])[];
}

/**
 * Cuts the checkpoint's graph into about `count` segments, each with at most a count-th of the
 * parameters and of the tapped values' bytes (a node with more is a segment of its own), a
 * boundary placed only where every value crossing it has a known element type. Null where the
 * graph cannot be cut: a node with a subgraph (If, Loop, Scan) may read any earlier value
 * without naming it.
 */
export function planSegments(checkpoint: Checkpoint, count: number, tapped?: PassValues): SegmentPlan | null {
  const rewired = rewireParameters(checkpoint);
  const graph = rewired.graph!;
  const nodes = graph.node;
  if (nodes.some((n) => n.attribute.some((a) => a.type === AttributeType.GRAPH || a.type === AttributeType.GRAPHS))) return null;
  const byName = new Map(checkpoint.parameters.map((p) => [parameterValueName(p), p]));
  const initializers = initializerMap(graph);
  const types = elementTypes(rewired);
  const dataInputs = new Set(checkpoint.inputs.map((v) => v.name));
  const outputs = new Set(graph.output.map((o) => o.name));
  // The last node that reads each value (the model's outputs: past every node).
  const lastRead = new Map<string, number>();
  nodes.forEach((node, i) => node.input.forEach((x) => x !== '' && lastRead.set(x, i)));
  for (const o of outputs) lastRead.set(o, nodes.length);
  const producer = producerMap(graph);
  for (const group of tapped?.groups ?? []) {
    const last = Math.max(-1, ...group.map((v) => producer.get(v)?.node ?? -1));
    for (const v of group) lastRead.set(v, Math.max(lastRead.get(v) ?? -1, last));
  }
  const isValue = (x: string) => x !== '' && !byName.has(x) && !initializers.has(x);
  const nodeParameters = nodes.map((node) => node.input.flatMap((x) => (byName.has(x) ? [byName.get(x)!] : [])));
  const taps = new Set(tapped?.taps);
  const nodeBytes = nodes.map((node) => node.output.reduce((n, o) => n + (taps.has(o) ? (tapped?.bytes?.get(o) ?? 0) : 0), 0));
  const parameterBudget = Math.ceil(checkpoint.arena.length / count);
  const byteBudget = Math.ceil(nodeBytes.reduce((n, x) => n + x, 0) / count);

  // Boundaries: before node i, every value computed before it and read at or after it must have a known type.
  const live = new Set<string>(dataInputs);
  const cuts: number[] = [0];
  // The values live at each cut after the first (passed on by the segment that ends there).
  const liveAt: string[][] = [];
  let [held, heldBytes] = [0, 0];
  nodes.forEach((node, i) => {
    const size = nodeParameters[i]!.reduce((n, p) => n + p.length, 0);
    const full = (held > 0 && held + size > parameterBudget) || (heldBytes > 0 && heldBytes + nodeBytes[i]! > byteBudget);
    if (full && [...live].every((v) => types.has(v))) {
      cuts.push(i);
      liveAt.push([...live]);
      [held, heldBytes] = [0, 0];
    }
    held += size;
    heldBytes += nodeBytes[i]!;
    for (const o of node.output) if (isValue(o)) live.add(o);
    for (const x of [...live]) if ((lastRead.get(x) ?? -1) <= i) live.delete(x);
  });
  cuts.push(nodes.length);
  liveAt.push([...live]);

  const segmentOfValue = new Map<string, number>([...dataInputs].map((x) => [x, 0]));
  const segments: Segment[] = [];
  for (let s = 0; s + 1 < cuts.length; s++) {
    const [start, end] = [cuts[s]!, cuts[s + 1]!];
    const computes = new Set<string>();
    const inputs = new Set<string>();
    for (let i = start; i < end; i++) {
      for (const x of nodes[i]!.input) if (isValue(x) && !computes.has(x)) inputs.add(x);
      for (const o of nodes[i]!.output) if (o !== '') computes.add(o);
    }
    for (const o of computes) segmentOfValue.set(o, s);
    const parameters = nodeParameters.slice(start, end).flat().sort((p, q) => p.offset - q.offset);
    const lo = parameters[0]?.offset ?? 0;
    const hi = parameters.reduce((h, p) => Math.max(h, p.offset + p.length), lo);
    const carried = [...computes].filter((o) => (lastRead.get(o) ?? -1) >= end);
    segments.push({ index: s, start, end, parameters, lo, hi, inputs: [...inputs], carried, live: liveAt[s]!, computes });
  }

  // A tap of no known type is returned untyped (onnxruntime infers it); inputs always have one.
  const typed = (name: string): ValueInfoProto => {
    const elemType = types.get(name);
    return graph.output.find((o) => o.name === name) ?? newValueInfo({ name, ...(elemType ? { type: { value: { case: 'tensorType', value: { elemType } } } } : {}) });
  };
  return {
    segments,
    segmentOf: (name) => segmentOfValue.get(name),
    model(segment, taps) {
      const segmentNodes = nodes.slice(segment.start, segment.end);
      const read = new Set(segmentNodes.flatMap((n) => n.input));
      const returned = [...new Set([...segment.carried, ...taps.filter((t) => segment.computes.has(t))])];
      return newModel({
        irVersion: rewired.irVersion,
        opsetImport: rewired.opsetImport,
        functions: rewired.functions,
        producerName: 'llfc',
        graph: {
          name: `${graph.name}-segment-${segment.index}`,
          node: segmentNodes,
          input: [
            ...segment.inputs.map((x) => graph.input.find((v) => v.name === x) ?? typed(x)),
            ...segment.parameters.map((p) => floatValueInfo(parameterValueName(p), p.shape)),
          ],
          initializer: graph.initializer.filter((t) => read.has(t.name)),
          output: returned.map(typed),
        },
      });
    },
  };
}
