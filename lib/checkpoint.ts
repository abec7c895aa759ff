/**
 * A checkpoint: an ONNX model whose float parameters live in one contiguous arena.
 *
 * Parameters are per use, not per stored tensor: every (node, input slot) that reads a FLOAT
 * initializer, directly or through Identity aliases, gets its own slot in the arena. Two
 * exports of one architecture may share tensors differently (PyTorch de-duplicates equal
 * values, e.g. all-zero biases), yet their per-use parameter lists line up one to one.
 */
import { CheckpointMismatchError, InvalidArgumentError, NonFiniteParameterError, OnnxFormatError } from './errors.js';
import { fileBackedFloats, releaseFilePages } from './file-backed.js';
import { readExternalInto, type ExternalBytes } from './onnx/external-data.js';
import { cloneModel, readModel, type OnnxModel } from './onnx/model.js';
import { dropUnreadAliases, floatValueInfo, initializerAliases, initializerMap, isAliasNode, nodeName, producerMap, realInputs, valueShape } from './onnx/graph.js';
import { DataLocation, DataType, dataTypeName, encodeAttribute, int64s, newNode, newTensor, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from './onnx/proto.js';
import { copyFloat32Into, elementCount, float32Bytes, floatCount, infinitiesOnly, tensorShape, valueKey, writeFloat32 } from './onnx/tensor.js';

/** One use of a float initializer by a node: a slot of the arena. */
export interface Parameter {
  /** Position in the checkpoint's parameter list. */
  readonly index: number;
  /** The initializer's name as stored (may differ between exports: "onnx::Conv_17"). */
  readonly tensor: string;
  /** The consuming node's name. */
  readonly node: string;
  /** Index of the consuming node in graph.node. */
  readonly nodeIndex: number;
  readonly op: string;
  /** Which input of the node reads it (Gemm: 1 weight, 2 bias). */
  readonly inputIndex: number;
  readonly shape: readonly number[];
  /** Offset and length in the arena, in floats. */
  readonly offset: number;
  readonly length: number;
}

/** A graph input or output: name and dims (-1 where symbolic, e.g. the batch). */
export interface ValueSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface Checkpoint {
  readonly file: string;
  /** Whether the model was read with external data (its outputs are written the same way). */
  readonly externalData: boolean;
  /** The model as read (never modified). */
  readonly model: ModelProto;
  /** Every float parameter, per use, in graph order. */
  readonly arena: Float32Array;
  readonly parameters: readonly Parameter[];
  readonly input: ValueSpec;
  /** Every data input in graph order (the first is `input`): token ids, attention mask, position ids, … */
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  /** One structural signature per compute node (Identity aliases left out), for pairing. */
  readonly structure: readonly NodeSignature[];
}

/** What pairing compares for one compute node. */
export interface NodeSignature {
  readonly nodeIndex: number;
  readonly name: string;
  readonly op: string;
  readonly attributes: string;
  /** Per input: its kind and what must match. */
  readonly inputs: readonly InputSignature[];
}

export type InputSignature =
  | { kind: 'parameter'; tensor: string; shape: readonly number[]; parameter: number }
  | { kind: 'constant'; tensor: string; type: string; shape: readonly number[]; key: string }
  | { kind: 'value'; producer: number; slot: number }
  | { kind: 'graph-input'; position: number }
  | { kind: 'none' };

/** How loadCheckpoint holds the arena. */
export interface LoadOptions {
  /**
   * Arenas of at least this many floats are file-backed (lib/file-backed.ts), their pages handed
   * back once loaded: for a pass that reads them a segment at a time. Without, none is.
   */
  readonly fileBackedFrom?: number;
}

/**
 * Reads a checkpoint. FLOAT initializers in external data files stay there until the arena
 * exists, then stream straight into their slots: a model of several GB is never held twice.
 */
export async function loadCheckpoint(file: string, options: LoadOptions = {}): Promise<Checkpoint> {
  const model = await readModel(file, (tensor) => tensor.dataType === DataType.FLOAT);
  const deferred = new Map(model.deferred);
  // A tensor of infinities only is a constant, not a parameter, and the layout tells it by its
  // values: a tensor whose first value is infinite is read in whole first (such fills are small).
  for (const [tensor, where] of deferred) {
    if (where.length < 4) continue;
    const first = new Uint8Array(4);
    await readExternalInto(file, tensor.name, { ...where, length: 4 }, first);
    if (Number.isFinite(new DataView(first.buffer).getFloat32(0, true))) continue;
    await loadDeferred(file, tensor, where);
    deferred.delete(tensor);
  }
  const fileBacked = (floats: number): boolean => options.fileBackedFrom !== undefined && floats >= options.fileBackedFrom;
  const checkpoint = layoutCheckpoint({ ...model, deferred }, (floats) => (fileBacked(floats) ? fileBackedFloats(floats) : new Float32Array(floats)));
  const firsts = firstUses(checkpoint);
  const initializers = initializerMap(checkpoint.model.graph!);
  for (const p of firsts) {
    const tensor = initializers.get(p.tensor)!;
    const where = deferred.get(tensor);
    if (!where) {
      copyFloat32Into(tensor, slot(checkpoint.arena, p), file);
      continue;
    }
    await readExternalInto(file, p.tensor, where, float32Bytes(slot(checkpoint.arena, p)));
  }
  // FLOAT initializers no node reads as a parameter (unused ones) are loaded like any other tensor.
  const slotted = new Set(firsts.map((p) => p.tensor));
  for (const [tensor, where] of deferred) if (!slotted.has(tensor.name)) await loadDeferred(file, tensor, where);
  completeArena(checkpoint, firsts, initializers);
  if (fileBacked(checkpoint.arena.length)) releaseFilePages(checkpoint.arena);
  return checkpoint;
}

/** Reads a tensor left in its data file into its own raw_data. */
async function loadDeferred(file: string, tensor: TensorProto, where: ExternalBytes): Promise<void> {
  const data = new Uint8Array(where.length);
  await readExternalInto(file, tensor.name, where, data);
  tensor.rawData = data;
  tensor.dataLocation = DataLocation.DEFAULT;
  tensor.externalData = [];
}

/** A parameter's slot of an arena. */
function slot(arena: Float32Array, p: Parameter): Float32Array {
  return arena.subarray(p.offset, p.offset + p.length);
}

/** The first use of each stored tensor: the slot its values are read into. */
function firstUses(checkpoint: Checkpoint): Parameter[] {
  const seen = new Set<string>();
  return checkpoint.parameters.filter((p) => !seen.has(p.tensor) && seen.add(p.tensor));
}

/**
 * Finishes an arena whose first-use slots are filled: copies them to the other uses, refuses
 * non-finite values, and makes each stored tensor's raw_data a view of its first use's slot, so
 * the model and the arena share one copy of the weights. Bytes of other tensors that are views
 * of a larger buffer (the file protobuf decoded them from) get their own, so that buffer is freed.
 */
function completeArena(checkpoint: Checkpoint, firsts: readonly Parameter[], initializers: Map<string, TensorProto>): void {
  const { arena, file } = checkpoint;
  const first = new Map(firsts.map((p) => [p.tensor, p]));
  for (const p of firsts) {
    const data = slot(arena, p);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new NonFiniteParameterError(file, p.tensor, bad, data[bad]!);
  }
  for (const p of checkpoint.parameters) {
    const q = first.get(p.tensor)!;
    if (q !== p) arena.copyWithin(p.offset, q.offset, q.offset + q.length);
  }
  // Assigned only where they change: setting a proto2 field, even to its default, marks it set.
  const own = (tensor: TensorProto): void => {
    if (tensor.rawData.byteLength < tensor.rawData.buffer.byteLength) tensor.rawData = tensor.rawData.slice();
  };
  for (const tensor of checkpoint.model.graph!.initializer) {
    const p = first.get(tensor.name);
    if (!p) {
      own(tensor);
      continue;
    }
    writeFloat32(tensor, slot(arena, p));
    if (tensor.dataLocation === DataLocation.EXTERNAL) {
      tensor.dataLocation = DataLocation.DEFAULT;
      tensor.externalData = [];
    }
  }
  for (const node of checkpoint.model.graph!.node) for (const a of node.attribute) if (a.t) own(a.t);
}

function attributeKey(attributes: AttributeProto[]): string {
  return attributes
    .map((a) => `${a.name}=${Buffer.from(encodeAttribute(a)).toString('base64')}`)
    .sort()
    .join(';');
}

/**
 * Builds the arena and the structural signature of a model whose tensors are all in memory
 * (readModel without `defer`). The model's float initializers become views of the arena.
 */
export function checkpointFromModel(model: OnnxModel): Checkpoint {
  if (model.deferred && model.deferred.size > 0) throw new InvalidArgumentError(`${model.file}: tensors left in external data files are read by loadCheckpoint`);
  const checkpoint = layoutCheckpoint(model);
  const firsts = firstUses(checkpoint);
  const initializers = initializerMap(checkpoint.model.graph!);
  for (const p of firsts) copyFloat32Into(initializers.get(p.tensor)!, slot(checkpoint.arena, p), model.file);
  completeArena(checkpoint, firsts, initializers);
  return checkpoint;
}

/** The arena layout (zeros, from `allocate`) and the structural signature of a model, before any value is read. */
function layoutCheckpoint({ file, proto, externalData = false, deferred }: OnnxModel, allocate = (floats: number) => new Float32Array(floats)): Checkpoint {
  const graph = proto.graph!;
  const initializers = initializerMap(graph);
  const aliases = initializerAliases(graph, initializers);
  const producers = producerMap(graph);
  const inputs = realInputs(graph);
  if (inputs.length === 0) throw new OnnxFormatError(file, 'expected a data input, found none');
  const inputPositions = new Map(inputs.map((v, i) => [v.name, i]));
  const nodes = graph.node;
  const computeIndex = new Map<number, number>();
  nodes.forEach((node, i) => {
    if (!isAliasNode(node, aliases)) computeIndex.set(i, computeIndex.size);
  });

  const parameters: Parameter[] = [];
  const structure: NodeSignature[] = [];
  let offset = 0;
  nodes.forEach((node, nodeIndex) => {
    if (isAliasNode(node, aliases)) return;
    const name = nodeName(node, nodeIndex);
    const signature: InputSignature[] = node.input.map((input, inputIndex): InputSignature => {
      if (!input) return { kind: 'none' };
      const stored = initializers.has(input) ? input : aliases.get(input);
      if (stored !== undefined) {
        const tensor = initializers.get(stored)!;
        const shape = tensorShape(tensor);
        // Keyed by value only when a constant: a weight's bytes are never turned into a string.
        const constant = (): InputSignature => ({ kind: 'constant', tensor: stored, type: dataTypeName(tensor.dataType), shape, key: valueKey(tensor) });
        if (tensor.dataType !== DataType.FLOAT) return constant();
        // A tensor of infinities only is a fill value (masked_fill's −inf, which the dynamo
        // exporter lifts to an initializer), not a weight: interpolating it would give 0·∞ = NaN.
        if (infinitiesOnly(tensor)) return constant();
        const length = elementCount(shape);
        // Sizes are checked before the arena is allocated from the shapes: a shape that its
        // data does not fill (say a corrupted huge dim) is an error naming the tensor, not an allocation.
        const where = deferred?.get(tensor);
        if (!where) floatCount(tensor, file);
        else if (where.length !== length * 4) throw new OnnxFormatError(file, `initializer '${stored}' of shape [${shape.join(', ')}] (float32) has ${where.length} bytes of external data, its shape needs ${length * 4}`);
        const parameter: Parameter = { index: parameters.length, tensor: stored, node: name, nodeIndex, op: node.opType, inputIndex, shape, offset, length };
        parameters.push(parameter);
        offset += length;
        return { kind: 'parameter', tensor: stored, shape, parameter: parameter.index };
      }
      const producer = producers.get(input);
      if (producer) return { kind: 'value', producer: computeIndex.get(producer.node) ?? -1, slot: producer.slot };
      const position = inputPositions.get(input);
      if (position !== undefined) return { kind: 'graph-input', position };
      throw new OnnxFormatError(file, `node '${name}' reads '${input}', which no node, input or initializer provides`);
    });
    structure.push({ nodeIndex, name, op: `${node.domain}::${node.opType}`, attributes: attributeKey(node.attribute), inputs: signature });
  });

  const arena = allocate(offset);
  const input = inputs[0]!;
  return {
    file,
    externalData,
    model: proto,
    arena,
    parameters,
    input: { name: input.name, shape: valueShape(input) },
    inputs: inputs.map((v) => ({ name: v.name, shape: valueShape(v) })),
    outputs: graph.output.map((o) => ({ name: o.name, shape: valueShape(o) })),
    structure,
  };
}

/** Names of the attributes set differently (or in one only) in two attribute keys. */
function differingAttributes(x: string, y: string): string[] {
  const entries = (key: string) => new Map(key.split(';').filter(Boolean).map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  const [ex, ey] = [entries(x), entries(y)];
  return [...new Set([...ex.keys(), ...ey.keys()])].filter((name) => ex.get(name) !== ey.get(name)).sort();
}

function describeInput(s: InputSignature): string {
  switch (s.kind) {
    case 'parameter':
      return `parameter '${s.tensor}' of shape [${s.shape.join(', ')}]`;
    case 'constant':
      return `constant '${s.tensor}'`;
    case 'value':
      return `the output ${s.slot} of compute node ${s.producer}`;
    case 'graph-input':
      return `graph input ${s.position}`;
    case 'none':
      return 'no input';
  }
}

/**
 * Checks that two checkpoints are the same architecture by graph structure (op sequence,
 * attributes, wiring, parameter shapes, constant values), never by names. Throws a
 * CheckpointMismatchError naming the first differing node, tensor and shapes.
 */
export function pairCheckpoints(a: Checkpoint, b: Checkpoint): void {
  const n = Math.min(a.structure.length, b.structure.length);
  for (let i = 0; i < n; i++) {
    const sa = a.structure[i]!;
    const sb = b.structure[i]!;
    const where = `node ${i} ('${sa.name}' in ${a.file}, '${sb.name}' in ${b.file})`;
    if (sa.op !== sb.op) {
      throw new CheckpointMismatchError(`${a.file} and ${b.file} differ at ${where}: op ${sa.op.replace(/^::/, '')} vs ${sb.op.replace(/^::/, '')}`, sa.name);
    }
    if (sa.attributes !== sb.attributes) {
      throw new CheckpointMismatchError(`${a.file} and ${b.file} differ at ${where} (${sa.op.replace(/^::/, '')}): the attributes differ (${differingAttributes(sa.attributes, sb.attributes).join(', ')})`, sa.name);
    }
    if (sa.inputs.length !== sb.inputs.length) {
      throw new CheckpointMismatchError(`${a.file} and ${b.file} differ at ${where}: ${sa.inputs.length} inputs vs ${sb.inputs.length}`, sa.name);
    }
    for (let k = 0; k < sa.inputs.length; k++) {
      const ia = sa.inputs[k]!;
      const ib = sb.inputs[k]!;
      const same =
        ia.kind === ib.kind &&
        (ia.kind !== 'parameter' || (ib.kind === 'parameter' && ia.shape.join() === ib.shape.join())) &&
        (ia.kind !== 'constant' || (ib.kind === 'constant' && ia.key === ib.key)) &&
        (ia.kind !== 'value' || (ib.kind === 'value' && ia.producer === ib.producer && ia.slot === ib.slot)) &&
        (ia.kind !== 'graph-input' || (ib.kind === 'graph-input' && ia.position === ib.position));
      if (ia.kind === 'constant' && ib.kind === 'constant' && ia.key !== ib.key) {
        throw new CheckpointMismatchError(
          `${a.file} and ${b.file} differ at ${where}, input ${k}: the ${ia.type} initializer '${ia.tensor}' of shape [${ia.shape.join(', ')}] ` +
            `differs from '${ib.tensor}' (${ib.type}, [${ib.shape.join(', ')}]); non-float initializers (shapes, indices, masks) and fill values (±inf) are never interpolated and must be equal in A and B`,
          sa.name,
          ia.tensor,
          [ia.shape, ib.shape],
        );
      }
      if (!same) {
        const tensor = ia.kind === 'parameter' || ia.kind === 'constant' ? ia.tensor : undefined;
        const shapes: [readonly number[], readonly number[]] | undefined =
          ia.kind === 'parameter' && ib.kind === 'parameter' ? [ia.shape, ib.shape] : undefined;
        throw new CheckpointMismatchError(
          `${a.file} and ${b.file} differ at ${where}, input ${k}: ${describeInput(ia)} vs ${describeInput(ib)}`,
          sa.name,
          tensor,
          shapes,
        );
      }
    }
  }
  if (a.structure.length !== b.structure.length) {
    const longer = a.structure.length > b.structure.length ? a : b;
    const extra = longer.structure[n]!;
    throw new CheckpointMismatchError(
      `${a.file} has ${a.structure.length} compute nodes and ${b.file} has ${b.structure.length}; the first extra one is '${extra.name}' in ${longer.file}`,
      extra.name,
    );
  }
}

/** Name of the graph value that feeds parameter slot k in rewritten models. */
export function parameterValueName(p: Parameter): string {
  return `llfc_param_${p.index}`;
}

/**
 * A copy of the model in which every parameter use reads its own value `llfc_param_k`;
 * shared initializers and Identity aliases that only served parameters are removed.
 * With `values`, the parameters are initializers holding those values (one arena);
 * without, they are graph inputs to be fed at run time.
 */
export function rewireParameters(checkpoint: Checkpoint, values?: Float32Array): ModelProto {
  const model = cloneModel(checkpoint.model);
  const graph = model.graph!;
  const nodes = graph.node;
  for (const p of checkpoint.parameters) nodes[p.nodeIndex]!.input[p.inputIndex] = parameterValueName(p);

  dropUnreadAliases(graph);
  if (values) {
    for (const p of checkpoint.parameters) {
      const tensor = newTensor({ name: parameterValueName(p), dataType: DataType.FLOAT, dims: int64s(p.shape) });
      writeFloat32(tensor, values.subarray(p.offset, p.offset + p.length));
      graph.initializer.push(tensor);
    }
  } else {
    for (const p of checkpoint.parameters) graph.input.push(floatValueInfo(parameterValueName(p), p.shape));
  }
  return model;
}

/** Graph inputs of an interpolating model (rewireInterpolated): parameter k of A and of B, and α. */
export const interpolationInputs = {
  a: (p: Parameter): string => `llfc_a_${p.index}`,
  b: (p: Parameter): string => `llfc_b_${p.index}`,
  alpha: 'llfc_alpha',
} as const;

/**
 * A copy of the model that computes θ(α) itself: every parameter use reads
 * `llfc_param_k = α·(B_k − A_k) + A_k` (float32), computed by nodes placed at the start of the
 * graph (see below: onnxruntime then runs them just before the node that reads them), from graph
 * inputs fed A's and B's arenas and the scalar α. A session over it holds no weights and no θ(α)
 * arena: each θ_k exists only around its layer's run.
 */
export function rewireInterpolated(checkpoint: Checkpoint): ModelProto {
  const model = rewireParameters(checkpoint);
  const graph = model.graph!;
  const { a, b, alpha } = interpolationInputs;
  const names = new Set(checkpoint.parameters.map(parameterValueName));
  graph.input = graph.input.filter((v) => !names.has(v.name));
  graph.input.push(floatValueInfo(alpha, []));
  const blends: NodeProto[] = [];
  for (const node of graph.node) {
    for (const input of node.input) {
      if (!names.delete(input)) continue;
      const p = checkpoint.parameters[Number(input.slice('llfc_param_'.length))]!;
      graph.input.push(floatValueInfo(a(p), p.shape), floatValueInfo(b(p), p.shape));
      blends.push(
        newNode({ opType: 'Sub', input: [b(p), a(p)], output: [`${input}_d`], name: `${input}_d` }),
        newNode({ opType: 'Mul', input: [`${input}_d`, alpha], output: [`${input}_s`], name: `${input}_s` }),
        newNode({ opType: 'Add', input: [`${input}_s`, a(p)], output: [input], name: input }),
      );
    }
  }
  // Before every node of the model, not each before its layer: onnxruntime runs the nodes in a
  // reverse depth-first order from the outputs that enters a node's inputs highest graph index
  // first. Each just before its layer, every θ_k was computed at the start of a run, so θ(α) was
  // whole in memory (+365 MB on GPT-2 small, bench/memory.ts); placed first, each θ_k is entered
  // after the layers before its own, and computed just before its layer reads it.
  graph.node = [...blends, ...graph.node];
  return model;
}

/**
 * A copy of the original model with its parameters replaced by `values` (an arena of this
 * checkpoint's layout), keeping initializer names. A tensor shared by several uses takes the
 * value of its first use; use rewireParameters when uses must be able to differ.
 */
export function withParameters(checkpoint: Checkpoint, values: Float32Array): ModelProto {
  if (values.length !== checkpoint.arena.length) {
    throw new RangeError(`withParameters: ${values.length} values for an arena of ${checkpoint.arena.length}`);
  }
  const model = cloneModel(checkpoint.model);
  const initializers = initializerMap(model.graph!);
  const written = new Set<string>();
  for (const p of checkpoint.parameters) {
    if (written.has(p.tensor)) continue;
    written.add(p.tensor);
    writeFloat32(initializers.get(p.tensor)!, values.subarray(p.offset, p.offset + p.length));
  }
  return model;
}

/**
 * The checkpoint with another arena of its layout (B with permuted parameters): its model's
 * stored tensors become views of that arena as withParameters writes them, so nothing keeps the
 * old arena alive.
 */
export function withArena(checkpoint: Checkpoint, arena: Float32Array): Checkpoint {
  return { ...checkpoint, arena, model: withParameters(checkpoint, arena) };
}

/** Whether every use of each stored tensor has the same values in `values` (so withParameters loses nothing). */
export function sharedTensorsAgree(checkpoint: Checkpoint, values: Float32Array): boolean {
  const first = new Map<string, Parameter>();
  for (const p of checkpoint.parameters) {
    const q = first.get(p.tensor);
    if (!q) {
      first.set(p.tensor, p);
      continue;
    }
    for (let i = 0; i < p.length; i++) if (values[p.offset + i] !== values[q.offset + i]) return false;
  }
  return true;
}

export { elementCount };
