/**
 * Orthogonal alignment of the residual stream (Theus et al. 2025; SCIENCE.md §7). A permutation
 * of the stream is one orthogonal map among many: every map O with O·(stream) in place of the
 * stream keeps the function, once nothing on the stream fails to commute with O. Two things do:
 *
 * - a norm's elementwise scale γ: folded into the linear layers that read the norm's output
 *   (reader·diag(γ)), the norm keeps γ = 1 and its shift becomes β/γ, a stream vector like any;
 * - a LayerNorm's mean subtraction: it commutes exactly with the O that keep the all-ones
 *   direction (O·1 = 1), and the stream's mean is invisible to every LayerNorm reader, so this
 *   restriction loses nothing and the graph keeps its LayerNorm nodes (an RMSNorm commutes with
 *   every O).
 *
 * O is the Procrustes solution of C = Σ a·bᵀ: over the folded weights of A and B (one term per
 * vector along the stream axis of every stream tensor), or over A's and B's stream activations
 * (the residual sums, every token a sample). It is applied to every stream vector of B. The
 * result is written back in A's norm gauge (γ = γ_A, readers·diag(1/γ_A), shift·γ_A): it
 * computes what B computes, has B's structure, and interpolating it with A is interpolating
 * both in the folded coordinates.
 */
import type { Checkpoint, Parameter } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { OrthogonalError } from '../errors.js';
import type { RunControl } from '../progress.js';
import { Accumulator, correlate, type Feed } from './activation-matching.js';
import { nodeName, producerMap } from '../onnx/graph.js';
import type { NodeProto } from '../onnx/proto.js';
import { native } from '../native.js';
import { resolveOptions } from '../options.js';
import type { BoundSpec, ParameterAction, PermutationGroup } from './spec/index.js';

/** A normalization on a residual stream: its scale and shift uses, and the linear layers that read it. */
export interface StreamNorm {
  readonly node: string;
  readonly kind: 'LayerNorm' | 'RMSNorm';
  readonly scale: ParameterAction;
  readonly shift?: ParameterAction;
  readonly readers: readonly ParameterAction[];
}

/** The orthogonal map of one residual stream. */
export interface StreamMap {
  /** The spec group of the stream. */
  readonly group: number;
  readonly label: string;
  readonly size: number;
  /** O, size × size row-major: every stream vector v of B becomes O·v in the aligned B. */
  readonly map: Float64Array;
  /** Whether O keeps the all-ones direction (a LayerNorm reads the stream). */
  readonly keepsOnes: boolean;
  readonly norms: readonly StreamNorm[];
  /** Σ ⟨a, O·b⟩ over the folded stream vectors, and the same for O = identity. */
  readonly objective: number;
  readonly initialObjective: number;
}

export interface OrthogonalAlignment {
  readonly streams: readonly StreamMap[];
  /** B's parameters (B's layout) with every stream map applied, in A's norm gauge. */
  readonly arena: Float32Array;
}

/** Ops a norm's output passes through unchanged along the stream axis on its way to a linear layer. */
const PASS_THROUGH = new Set(['Transpose', 'Reshape', 'Identity', 'Flatten', 'Squeeze', 'Unsqueeze', 'Slice', 'Split', 'Gather', 'ReduceMean', 'Cast', 'Dropout']);
/** Ops that read only a value's shape. */
const SHAPE_ONLY = new Set(['Shape', 'Size']);
/** Linear layers that read the stream along their contraction axis. */
const LINEAR = new Set(['MatMul', 'Gemm', 'Conv', 'Einsum']);

/** The vectors of one parameter use along an action's axis: X (vectors × units), row v = one vector. */
function vectors(values: Float32Array, shape: readonly number[], action: ParameterAction, units: number): Float32Array {
  const { axis, offset, inner } = action;
  const outer = shape.slice(0, axis).reduce((x, d) => x * d, 1);
  const len = shape[axis]!;
  const after = shape.slice(axis + 1).reduce((x, d) => x * d, 1);
  const x = new Float32Array(outer * inner * after * units);
  let v = 0;
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < inner; r++) {
      for (let t = 0; t < after; t++, v++) {
        for (let c = 0; c < units; c++) x[v * units + c] = values[(o * len + offset + c * inner + r) * after + t]!;
      }
    }
  }
  return x;
}

/** Writes X (as `vectors` returns it) back into the parameter use. */
function setVectors(values: Float32Array, shape: readonly number[], action: ParameterAction, units: number, x: Float32Array): void {
  const { axis, offset, inner } = action;
  const outer = shape.slice(0, axis).reduce((x, d) => x * d, 1);
  const len = shape[axis]!;
  const after = shape.slice(axis + 1).reduce((x, d) => x * d, 1);
  let v = 0;
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < inner; r++) {
      for (let t = 0; t < after; t++, v++) {
        for (let c = 0; c < units; c++) values[(o * len + offset + c * inner + r) * after + t] = x[v * units + c]!;
      }
    }
  }
}

/** A parameter use's values in an arena. */
function view(checkpoint: Checkpoint, arena: Float32Array, action: ParameterAction): { values: Float32Array; p: Parameter } {
  const p = checkpoint.parameters[action.parameter]!;
  return { values: arena.subarray(p.offset, p.offset + p.length), p };
}

/** Multiplies unit c of every vector of a use by f[c]. */
function scaleUnits(checkpoint: Checkpoint, arena: Float32Array, action: ParameterAction, f: Float64Array): void {
  const { values, p } = view(checkpoint, arena, action);
  const x = vectors(values, p.shape, action, f.length);
  for (let k = 0; k < x.length; k++) x[k]! *= f[k % f.length]!;
  setVectors(values, p.shape, action, f.length, x);
}

/** A norm's scale as a vector of the stream's units. */
function scaleOf(checkpoint: Checkpoint, arena: Float32Array, norm: StreamNorm, units: number): Float64Array {
  const { values, p } = view(checkpoint, arena, norm.scale);
  const gamma = Float64Array.from(vectors(values, p.shape, norm.scale, units));
  const zero = gamma.findIndex((g) => g === 0);
  if (zero >= 0) {
    throw new OrthogonalError(`${checkpoint.file}: the norm '${norm.node}' has a zero scale (${norm.scale.tensor}[${zero}]): that unit cannot be folded into its readers`);
  }
  return gamma;
}

/** The graph's nodes with, per value, the nodes reading it and the node (and output slot) writing it. */
interface GraphIndex {
  readonly nodes: readonly NodeProto[];
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  readonly producers: ReadonlyMap<string, { node: number; slot: number }>;
  /** The producing node itself. */
  producer(value: string | undefined): NodeProto | undefined;
}

function graphIndex(checkpoint: Checkpoint): GraphIndex {
  const graph = checkpoint.model.graph!;
  const nodes = graph.node;
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => n.input.forEach((v) => v && (consumers.get(v) ?? consumers.set(v, []).get(v)!).push(i)));
  const producers = producerMap(graph);
  return { nodes, consumers, producers, producer: (value) => (value === undefined ? undefined : nodes[producers.get(value)?.node ?? -1]) };
}

/**
 * The norms on a stream group and the linear layers each one's output reaches. A norm output
 * that reaches anything but a linear layer through shape-preserving ops (a post-norm residual
 * stream, a scale applied to a writer's output) cannot be folded: OrthogonalError names it.
 */
export function streamNorms(checkpoint: Checkpoint, group: PermutationGroup): StreamNorm[] {
  return normsOf(checkpoint, group, graphIndex(checkpoint));
}

/** streamNorms on a graph already indexed. */
function normsOf(checkpoint: Checkpoint, group: PermutationGroup, index: GraphIndex): StreamNorm[] {
  const { nodes, consumers, producer, producers } = index;
  const byNode = new Map<number, ParameterAction[]>();
  for (const a of group.parameters) {
    const at = checkpoint.parameters[a.parameter]!.nodeIndex;
    byNode.set(at, [...(byNode.get(at) ?? []), a]);
  }
  const paramOf = (a: ParameterAction): Parameter => checkpoint.parameters[a.parameter]!;
  const name = (i: number): string => nodeName(nodes[i]!, i);

  const norms: StreamNorm[] = [];
  for (const action of group.parameters) {
    const p = paramOf(action);
    const node = nodes[p.nodeIndex]!;
    let kind: StreamNorm['kind'];
    let output: string;
    let shift: ParameterAction | undefined;
    if (p.op === 'LayerNormalization' && p.inputIndex === 1) {
      kind = 'LayerNorm';
      output = node.output[0]!;
      shift = byNode.get(p.nodeIndex)!.find((a) => paramOf(a).inputIndex === 2);
    } else if (p.op === 'Mul' && isNormalized(node.input[1 - p.inputIndex], producer)) {
      kind = meanSubtracted(node.input[1 - p.inputIndex]!, producer) ? 'LayerNorm' : 'RMSNorm';
      output = node.output[0]!;
      const add = (consumers.get(output) ?? []).find((i) => nodes[i]!.opType === 'Add' && byNode.has(i));
      if (add !== undefined) {
        shift = byNode.get(add)![0];
        output = nodes[add]!.output[0]!;
      }
    } else continue;

    const readers: ParameterAction[] = [];
    const queue = [output];
    const seen = new Set<string>(queue);
    while (queue.length > 0) {
      const value = queue.shift()!;
      for (const i of consumers.get(value) ?? []) {
        const op = nodes[i]!.opType;
        if (SHAPE_ONLY.has(op)) continue;
        if (LINEAR.has(op)) {
          const direct = byNode.get(i) ?? [];
          // A weight read through a Transpose (a tied LM head: MatMul(x, Transpose(embedding))).
          const transposed = nodes[i]!.input.flatMap((v) => {
            const at = producers.get(v)?.node;
            return at !== undefined && nodes[at]!.opType === 'Transpose' ? (byNode.get(at) ?? []) : [];
          });
          if (direct.length + transposed.length === 0) {
            throw new OrthogonalError(`${checkpoint.file}: the output of the norm '${node.name}' reaches '${name(i)}' (${op}), whose weights are not on the stream`);
          }
          readers.push(...direct, ...transposed);
        } else if (PASS_THROUGH.has(op) && !byNode.has(i)) {
          for (const o of nodes[i]!.output) if (!seen.has(o)) (seen.add(o), queue.push(o));
        } else {
          throw new OrthogonalError(`${checkpoint.file}: the output of the norm '${node.name}' reaches '${name(i)}' (${op}) before any linear layer, so its scale cannot be folded into the layers that read it (a post-norm residual stream?)`);
        }
      }
    }
    norms.push({ node: nodeName(node, p.nodeIndex), kind, scale: action, ...(shift ? { shift } : {}), readers });
  }
  return norms;
}

/** Whether a Mul's other input is a normalized value: x / sqrt(…), or x · (1 / sqrt(…)). */
function isNormalized(value: string | undefined, producer: GraphIndex['producer']): boolean {
  const from = producer(value);
  if (!from) return false;
  if (from.opType === 'Div') return true;
  return from.opType === 'Mul' && from.input.some((v) => ['Reciprocal', 'Sqrt'].includes(producer(v)?.opType ?? ''));
}

/** Whether a normalized value's numerator is x − mean(x) (a decomposed LayerNorm). */
function meanSubtracted(value: string, producer: GraphIndex['producer']): boolean {
  const numerator = producer(producer(value)!.input[0]!);
  return numerator?.opType === 'Sub' && numerator.input.some((v) => producer(v)?.opType === 'ReduceMean');
}

/** The arena with every norm of the stream folded: readers·diag(γ), shift/γ, γ = 1. */
function fold(checkpoint: Checkpoint, arena: Float32Array, norms: readonly StreamNorm[], units: number): Float32Array {
  const out = new Float32Array(arena);
  for (const norm of norms) {
    const gamma = scaleOf(checkpoint, out, norm, units);
    for (const r of norm.readers) scaleUnits(checkpoint, out, r, gamma);
    if (norm.shift) scaleUnits(checkpoint, out, norm.shift, gamma.map((g) => 1 / g));
    scaleUnits(checkpoint, out, norm.scale, gamma.map((g) => 1 / g));
  }
  return out;
}

/** Puts folded norms back in another model's gauge: γ = γ_ref, readers·diag(1/γ_ref), shift·γ_ref. */
function unfold(checkpoint: Checkpoint, arena: Float32Array, norms: readonly StreamNorm[], units: number, reference: Checkpoint): void {
  for (const norm of norms) {
    const gamma = scaleOf(reference, reference.arena, norm, units);
    for (const r of norm.readers) scaleUnits(checkpoint, arena, r, gamma.map((g) => 1 / g));
    if (norm.shift) scaleUnits(checkpoint, arena, norm.shift, gamma);
    scaleUnits(checkpoint, arena, norm.scale, gamma);
  }
}

/** (rows × cols) → (cols × rows). */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j]!;
  return t;
}

/** The stream actions O acts on: every one but the norm scales (γ = 1 once folded). */
function rotated(group: PermutationGroup, norms: readonly StreamNorm[]): ParameterAction[] {
  const scales = new Set(norms.map((n) => n.scale));
  return group.parameters.filter((a) => !scales.has(a));
}

/** C = Σ a·bᵀ over every stream vector of the folded A and B. */
function crossOfWeights(a: Checkpoint, foldedA: Float32Array, b: Checkpoint, foldedB: Float32Array, actions: readonly ParameterAction[], units: number, threads: number): Float64Array {
  const c = new Float64Array(units * units);
  const part = new Float32Array(units * units);
  const addon = native();
  for (const action of actions) {
    const va = view(a, foldedA, action);
    const vb = view(b, foldedB, action);
    const xa = vectors(va.values, va.p.shape, action, units);
    const xb = vectors(vb.values, vb.p.shape, action, units);
    const n = xa.length / units;
    addon.gemmAbt(transpose(xa, n, units), transpose(xb, n, units), units, units, n, part, threads);
    for (let k = 0; k < c.length; k++) c[k]! += part[k]!;
  }
  return c;
}

/** Every vector v of the actions' uses becomes O·v. */
function rotate(checkpoint: Checkpoint, arena: Float32Array, actions: readonly ParameterAction[], o: Float64Array, units: number, threads: number): void {
  const o32 = Float32Array.from(o);
  const addon = native();
  for (const action of actions) {
    const { values, p } = view(checkpoint, arena, action);
    const x = vectors(values, p.shape, action, units);
    const n = x.length / units;
    const y = new Float32Array(x.length);
    addon.gemmAbt(x, o32, n, units, units, y, threads);
    setVectors(values, p.shape, action, units, y);
  }
}

/** The groups of a spec that are residual streams: those read through a LayerNorm or RMSNorm. */
export function streamGroups(checkpoint: Checkpoint, spec: BoundSpec): { group: number; norms: StreamNorm[] }[] {
  const index = graphIndex(checkpoint);
  return spec.spec.groups.flatMap((g, group) => {
    if (g.carries || g.experts) return [];
    const norms = normsOf(checkpoint, g, index);
    return norms.length > 0 ? [{ group, norms }] : [];
  });
}

/**
 * The activation form of C: Σ z_A·z_Bᵀ over the data, every token of every residual sum on the
 * stream (the outputs of its Add nodes but the norms' shifts) a sample; per stream group.
 */
export async function streamCrossOfActivations(a: Checkpoint, b: Checkpoint, spec: BoundSpec, data: Dataset, batchSize: number, threads: number, control: RunControl): Promise<Map<number, Float64Array>> {
  const nodes = b.model.graph!.node;
  const producers = producerMap(b.model.graph!);
  const feeds: Feed[] = [];
  const perStream = new Map<number, Accumulator[]>();
  for (const { group, norms } of streamGroups(b, spec)) {
    const g = spec.spec.groups[group]!;
    const shifts = new Set(norms.flatMap((n) => (n.shift ? [nodes[b.parameters[n.shift.parameter]!.nodeIndex]!.output[0]!] : [])));
    const sums = g.values.filter((v) => nodes[producers.get(v.value)?.node ?? -1]?.opType === 'Add' && !shifts.has(v.value));
    if (sums.length === 0) throw new OrthogonalError(`${b.file}: no residual sum carries the stream '${g.label}', so activations cannot align it (use --method weight)`);
    const accs = sums.map((v) => new Accumulator(v, g.size));
    feeds.push(...accs.map((acc) => ({ a: acc.action.value, b: acc.action.value, acc })));
    perStream.set(group, accs);
  }
  await correlate(a, b, feeds, data, batchSize, threads, control);
  return new Map(
    [...perStream].map(([group, accs]) => {
      const size = spec.spec.groups[group]!.size;
      const c = new Float64Array(size * size);
      for (const acc of accs) acc.cross.values().forEach((x, k) => (c[k]! += x));
      return [group, c];
    }),
  );
}

/**
 * Aligns B's residual streams to A's by orthogonal maps: from the weights, or from `cross` (per
 * stream group, C from streamCrossOfActivations). `options.threads`: threads of the native
 * products (default 1). `b` is B as the permutations left it (its
 * arena); `spec` is bound to B's layout. A model with no residual stream read through a norm is
 * an OrthogonalError.
 */
export function orthogonalAlignment(a: Checkpoint, b: Checkpoint, spec: BoundSpec, options: { readonly threads?: number } = {}, cross?: ReadonlyMap<number, Float64Array>): OrthogonalAlignment {
  const { threads } = resolveOptions('orthogonalAlignment()', { threads: 'threads' } as const, options);
  const streams = streamGroups(b, spec);
  if (streams.length === 0) {
    throw new OrthogonalError(`${b.file}: no residual stream read through a LayerNorm or RMSNorm; orthogonal alignment needs one (use permutations alone)`);
  }
  let arena = b.arena;
  const maps: StreamMap[] = [];
  for (const { group, norms } of streams) {
    const g = spec.spec.groups[group]!;
    const units = g.size;
    const keepsOnes = norms.some((n) => n.kind === 'LayerNorm');
    const foldedB = fold(b, arena, norms, units);
    const actions = rotated(g, norms);
    const c = cross?.get(group) ?? crossOfWeights(a, fold(a, a.arena, norms, units), b, foldedB, actions, units, threads);
    const o = new Float64Array(units * units);
    const objective = native().procrustes(c, units, keepsOnes, o);
    let initialObjective = 0;
    for (let i = 0; i < units; i++) initialObjective += c[i * units + i]!;
    rotate(b, foldedB, actions, o, units, threads);
    unfold(b, foldedB, norms, units, a);
    arena = foldedB;
    maps.push({ group, label: g.label, size: units, map: o, keepsOnes, norms, objective, initialObjective });
  }
  return { streams: maps, arena };
}
