/** Queries on an ONNX graph: initializers, Identity aliases, producers, value shapes. */
import { DataType, dimValue, newValueInfo, shapeDims, tensorType, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

/** A node's display name: its own name, or op#index when the exporter gave none. */
export function nodeName(node: NodeProto, index: number): string {
  return node.name.length > 0 ? node.name : `${node.opType}#${index}`;
}

export function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  const map = new Map<string, TensorProto>();
  for (const tensor of graph.initializer) map.set(tensor.name, tensor);
  return map;
}

/**
 * Identity nodes that only re-export an initializer (PyTorch's exporter de-duplicates
 * equal-valued tensors this way): output name → the initializer it aliases, through chains.
 */
export function initializerAliases(graph: GraphProto, initializers: Map<string, TensorProto>): Map<string, string> {
  const aliases = new Map<string, string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const node of graph.node) {
      if (node.opType !== 'Identity' || node.domain !== '') continue;
      const input = node.input[0] ?? '';
      const output = node.output[0] ?? '';
      const target = initializers.has(input) ? input : aliases.get(input);
      if (target !== undefined && !aliases.has(output)) {
        aliases.set(output, target);
        changed = true;
      }
    }
  }
  return aliases;
}

/** Initializers by name, each Identity alias of one under its own name too. */
export function storedTensors(graph: GraphProto): Map<string, TensorProto> {
  const initializers = initializerMap(graph);
  const stored = new Map(initializers);
  for (const [alias, target] of initializerAliases(graph, initializers)) stored.set(alias, initializers.get(target)!);
  return stored;
}

/** Constant nodes by the value they output. */
export function constantNodes(graph: GraphProto): Map<string, NodeProto> {
  const constants = new Map<string, NodeProto>();
  for (const node of graph.node) if (node.opType === 'Constant' && node.domain === '') for (const o of node.output) constants.set(o, node);
  return constants;
}

/** Whether a node is an Identity that only aliases an initializer. */
export function isAliasNode(node: NodeProto, aliases: Map<string, string>): boolean {
  return node.opType === 'Identity' && node.domain === '' && aliases.has(node.output[0] ?? '');
}

/** value name → (node index, output slot) of the node that computes it. */
export function producerMap(graph: GraphProto): Map<string, { node: number; slot: number }> {
  const map = new Map<string, { node: number; slot: number }>();
  graph.node.forEach((node, index) => {
    node.output.forEach((name, slot) => {
      if (name) map.set(name, { node: index, slot });
    });
  });
  return map;
}

/** The graph inputs that are real inputs (older exporters also list initializers there). */
export function realInputs(graph: GraphProto): ValueInfoProto[] {
  const initializers = new Set(graph.initializer.map((t) => t.name));
  return graph.input.filter((v) => !initializers.has(v.name));
}

/** Static dims of a value (a symbolic or unknown dim is -1). */
export function valueShape(value: ValueInfoProto): number[] {
  return (tensorType(value)?.shape?.dim ?? []).map((d) => dimValue(d) ?? -1);
}

/** A FLOAT tensor value_info with the given name and (optional) dims: numbers static, strings symbolic. */
export function floatValueInfo(name: string, dims?: readonly (number | string)[]): ValueInfoProto {
  return newValueInfo({
    name,
    type: { value: { case: 'tensorType', value: { elemType: DataType.FLOAT, ...(dims ? { shape: { dim: shapeDims(dims) } } : {}) } } },
  });
}

/**
 * Removes Identity alias nodes nothing reads any more, then the initializers nothing reads
 * (and their entries among the graph inputs, where older exporters list them).
 */
export function dropUnreadAliases(graph: GraphProto): void {
  const aliases = initializerAliases(graph, initializerMap(graph));
  const read = (): Set<string> => {
    const names = new Set<string>();
    for (const node of graph.node) for (const i of node.input) names.add(i);
    for (const o of graph.output) names.add(o.name);
    return names;
  };
  let removed = true;
  while (removed) {
    const names = read();
    const before = graph.node.length;
    graph.node = graph.node.filter((n) => !(n.opType === 'Identity' && aliases.has(n.output[0] ?? '') && !names.has(n.output[0] ?? '')));
    removed = graph.node.length !== before;
  }
  const names = read();
  const dropped = new Set(graph.initializer.filter((t) => !names.has(t.name)).map((t) => t.name));
  if (dropped.size === 0) return;
  graph.initializer = graph.initializer.filter((t) => !dropped.has(t.name));
  graph.input = graph.input.filter((v) => !dropped.has(v.name));
}
