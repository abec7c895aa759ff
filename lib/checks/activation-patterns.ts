/**
 * Activations that exporters write as several nodes (SCIENCE.md §2–3: an exported GELU is an
 * activation like Gelu and ReLU). Each entry of PATTERNS is one activation's graph form, its
 * constants checked to a relative tolerance; a match is the activation's input x, the nodes it
 * spans and the function of the addon's activation table it equals (weak additivity's kernel).
 */
import { attribute } from '../onnx/attributes.js';
import { constantNodes, producerMap, storedTensors } from '../onnx/graph.js';
import { DataType, type GraphProto } from '../onnx/proto.js';
import { readFloat32, tensorInts } from '../onnx/tensor.js';

/** An expression over graph values: the activation's input, a scalar constant, or an op of expressions. */
type Pattern =
  | { readonly kind: 'input' }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'op'; readonly op: string; readonly args: readonly Pattern[] }
  | { readonly kind: 'any'; readonly of: readonly Pattern[] };

const X: Pattern = { kind: 'input' };
const c = (value: number): Pattern => ({ kind: 'constant', value });
const op = (name: string, ...args: Pattern[]): Pattern => ({ kind: 'op', op: name, args });
const any = (...of: Pattern[]): Pattern => ({ kind: 'any', of });

/** Add and Mul match their inputs in either order. */
const COMMUTATIVE = new Set(['Add', 'Mul']);

/** Relative tolerance of a pattern's constants (float32 exports round them). */
const CONSTANT_TOLERANCE = 1e-5;

/** 0.5·x·(1 + t) with the 0.5 applied last, first to x, or first to (1 + t). */
function halfXTimes(onePlus: Pattern): Pattern {
  return any(op('Mul', op('Mul', X, onePlus), c(0.5)), op('Mul', op('Mul', X, c(0.5)), onePlus), op('Mul', X, op('Mul', onePlus, c(0.5))));
}

const ERF_TERM = op('Add', op('Erf', any(op('Div', X, c(Math.SQRT2)), op('Mul', X, c(Math.SQRT1_2)))), c(1));
const CUBE = any(op('Pow', X, c(3)), op('Mul', X, op('Mul', X, X)));
const TANH_TERM = op('Add', op('Tanh', op('Mul', c(Math.sqrt(2 / Math.PI)), op('Add', X, op('Mul', c(0.044715), CUBE)))), c(1));

export interface ActivationPattern {
  /** What the report calls it (the ONNX op it equals). */
  readonly name: string;
  readonly pattern: Pattern;
  /** Its name in the addon's activation table (native/feature_stats.h). */
  readonly kernel: string;
}

/** The decomposed activations, one entry each. */
export const PATTERNS: readonly ActivationPattern[] = [
  { name: 'Gelu', pattern: halfXTimes(ERF_TERM), kernel: 'Gelu' },
  { name: 'Gelu', pattern: halfXTimes(TANH_TERM), kernel: 'GeluTanh' },
];

/** A matched decomposed activation. */
export interface ActivationMatch {
  readonly name: string;
  /** Index of the node computing the activation's output. */
  readonly root: number;
  /** The pre-activation x. */
  readonly input: string;
  /** Every node of the activation (the root included), in graph order. */
  readonly nodes: readonly number[];
  readonly kernel: string;
}

interface Bound {
  readonly x: string | undefined;
  readonly nodes: readonly number[];
}

/** Reads a graph's scalar constants (initializers, their Identity aliases, Constant nodes). */
function scalarReader(graph: GraphProto): (value: string) => number | undefined {
  const tensors = storedTensors(graph);
  for (const [name, node] of constantNodes(graph)) {
    const value = attribute(node, 'value')?.t;
    if (value) tensors.set(name, value);
  }
  return (name) => {
    const t = tensors.get(name);
    if (!t) return undefined;
    const ints = tensorInts(t);
    const values = ints ?? (t.dataType === DataType.FLOAT ? Array.from(readFloat32(t, 'constant')) : []);
    return values.length === 1 ? values[0] : undefined;
  };
}

/**
 * Every decomposed activation of a graph, by root node index. The inner values must feed only
 * the activation itself, so a match is exactly one activation and nothing else reads its parts.
 */
export function matchActivations(graph: GraphProto): Map<number, ActivationMatch> {
  const nodes = graph.node;
  const producers = producerMap(graph);
  const scalar = scalarReader(graph);
  const readers = new Map<string, number>();
  for (const n of nodes) for (const i of n.input) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const o of graph.output) readers.set(o.name, (readers.get(o.name) ?? 0) + 1);

  const match = (value: string, p: Pattern, bound: Bound): Bound | null => {
    switch (p.kind) {
      case 'input':
        return bound.x === undefined || bound.x === value ? { ...bound, x: value } : null;
      case 'constant': {
        const v = scalar(value);
        return v !== undefined && Math.abs(v - p.value) <= CONSTANT_TOLERANCE * Math.abs(p.value) ? bound : null;
      }
      case 'any':
        for (const alternative of p.of) {
          const m = match(value, alternative, bound);
          if (m) return m;
        }
        return null;
      case 'op': {
        const at = producers.get(value);
        const node = at ? nodes[at.node]! : undefined;
        if (!node || node.opType !== p.op || node.domain !== '' || node.input.length !== p.args.length) return null;
        const inputs = node.input!;
        const orders = COMMUTATIVE.has(p.op) && inputs.length === 2 ? [inputs, [inputs[1]!, inputs[0]!]] : [inputs];
        for (const order of orders) {
          let m: Bound | null = { ...bound, nodes: [...bound.nodes, at!.node] };
          for (const [k, arg] of p.args.entries()) m = m && match(order[k]!, arg, m);
          if (m) return m;
        }
        return null;
      }
    }
  };

  const result = new Map<number, ActivationMatch>();
  nodes.forEach((node, root) => {
    const y = node.output[0];
    if (!y) return;
    for (const entry of PATTERNS) {
      const m = match(y, entry.pattern, { x: undefined, nodes: [] });
      if (!m || m.x === undefined) continue;
      const spanned = new Set(m.nodes);
      const inner = [...spanned].filter((i) => i !== root).flatMap((i) => nodes[i]!.output);
      const readersInside = (v: string) => [...spanned].reduce((k, i) => k + nodes[i]!.input.filter((input) => input === v).length, 0);
      if (inner.some((v) => (readers.get(v) ?? 0) !== readersInside(v))) continue;
      result.set(root, { name: entry.name, root, input: m.x, nodes: [...spanned].sort((i, j) => i - j), kernel: entry.kernel });
      return;
    }
  });
  return result;
}
