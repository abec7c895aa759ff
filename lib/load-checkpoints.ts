/**
 * Loading checkpoints to be compared (a pair, or the N models of merge and series). All-zero
 * biases the dynamo exporter's optimizer drops: a checkpoint whose Conv or Gemm bias happens to be
 * zero has one input fewer than its partners. Loading restores it as a zero initializer where any
 * other checkpoint has one, so every arena lines up per use.
 */
import { checkpointFromModel, loadCheckpoint, type Checkpoint, type InputSignature, type LoadOptions } from './checkpoint.js';
import { cloneModel } from './onnx/model.js';
import { DataType, int64s, newTensor } from './onnx/proto.js';
import { elementCount, writeFloat32 } from './onnx/tensor.js';

/** The input slot of the optional bias, per op (domain::op as in NodeSignature). */
const BIAS_SLOT: Readonly<Record<string, number>> = { '::Gemm': 2, '::Conv': 2, '::ConvTranspose': 2 };

interface MissingBias {
  readonly nodeIndex: number;
  readonly slot: number;
  readonly shape: readonly number[];
  /** The partner's tensor name, reused when free. */
  readonly name: string;
}

const absent = (s: InputSignature | undefined): boolean => s === undefined || s.kind === 'none';

/** The biases `mine` lacks where one of `others` has one, node by node (compute nodes in graph order; the first such partner's shape and name). */
function missingBiases(mine: Checkpoint, others: readonly Checkpoint[]): MissingBias[] {
  const missing: MissingBias[] = [];
  for (const own of mine.structure) {
    const slot = BIAS_SLOT[own.op];
    if (slot === undefined || !absent(own.inputs[slot])) continue;
    const i = mine.structure.indexOf(own);
    const bias = others.map((o) => o.structure[i]).find((other) => other?.op === own.op && other.inputs[slot]?.kind === 'parameter')?.inputs[slot];
    if (bias?.kind === 'parameter') missing.push({ nodeIndex: own.nodeIndex, slot, shape: bias.shape, name: bias.tensor });
  }
  return missing;
}

/** A copy of the checkpoint with zero initializers feeding the missing biases. */
function withZeroBiases(checkpoint: Checkpoint, missing: readonly MissingBias[]): Checkpoint {
  if (missing.length === 0) return checkpoint;
  const model = cloneModel(checkpoint.model);
  const graph = model.graph!;
  const taken = new Set<string>([...graph.initializer.map((t) => t.name), ...graph.node.flatMap((n) => [...n.input, ...n.output])]);
  for (const m of missing) {
    let name = m.name;
    for (let k = 1; taken.has(name); k++) name = `${m.name}_zero${k}`;
    taken.add(name);
    const tensor = newTensor({ name, dataType: DataType.FLOAT, dims: int64s(m.shape) });
    writeFloat32(tensor, new Float32Array(elementCount(m.shape)));
    graph.initializer.push(tensor);
    const inputs = graph.node[m.nodeIndex]!.input!;
    while (inputs.length <= m.slot) inputs.push('');
    inputs[m.slot] = name;
  }
  return checkpointFromModel({ file: checkpoint.file, proto: model, externalData: checkpoint.externalData });
}

/** The checkpoints with every bias dropped in some and present in others restored as zeros where it is dropped. */
export function restoreDroppedBiases(checkpoints: readonly Checkpoint[]): Checkpoint[] {
  return checkpoints.map((c, k) => withZeroBiases(c, missingBiases(c, checkpoints.filter((_, j) => j !== k))));
}

/** Loads checkpoints to be compared, in order, an all-zero bias dropped in some and present in others restored as zeros. */
export async function loadCheckpoints(files: readonly string[], options: LoadOptions = {}): Promise<Checkpoint[]> {
  // One after the other: a checkpoint being read holds its arena and its file's bytes at once.
  const checkpoints: Checkpoint[] = [];
  for (const file of files) checkpoints.push(await loadCheckpoint(file, options));
  return restoreDroppedBiases(checkpoints);
}

/** Loads two checkpoints to be paired (A, B), as loadCheckpoints does. */
export async function loadPair(a: string, b: string, options: LoadOptions = {}): Promise<[Checkpoint, Checkpoint]> {
  const [ca, cb] = await loadCheckpoints([a, b], options);
  return [ca!, cb!];
}
