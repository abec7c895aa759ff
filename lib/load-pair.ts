/**
 * Loading two checkpoints to be paired. All-zero biases the dynamo exporter's optimizer drops: a checkpoint whose Conv or Gemm bias
 * happens to be zero has one input fewer than its partner. Pairing restores it as a zero
 * initializer where the partner has one, so both arenas line up per use.
 */
import { checkpointFromModel, loadCheckpoint, type Checkpoint, type InputSignature } from './checkpoint.js';
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

/** The biases `mine` lacks where `partner` has one, node by node (compute nodes in graph order). */
function missingBiases(mine: Checkpoint, partner: Checkpoint): MissingBias[] {
  const missing: MissingBias[] = [];
  const n = Math.min(mine.structure.length, partner.structure.length);
  for (let i = 0; i < n; i++) {
    const own = mine.structure[i]!;
    const other = partner.structure[i]!;
    const slot = BIAS_SLOT[own.op];
    if (slot === undefined || own.op !== other.op) continue;
    const bias = other.inputs[slot];
    if (absent(own.inputs[slot]) && bias?.kind === 'parameter') missing.push({ nodeIndex: own.nodeIndex, slot, shape: bias.shape, name: bias.tensor });
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

/** A and B with every bias dropped in one and present in the other restored as zeros. */
export function restoreDroppedBiases(a: Checkpoint, b: Checkpoint): [Checkpoint, Checkpoint] {
  return [withZeroBiases(a, missingBiases(a, b)), withZeroBiases(b, missingBiases(b, a))];
}

/**
 * Loads two checkpoints to be paired (A, B), an all-zero bias dropped in one and present in
 * the other restored as zeros.
 */
export async function loadPair(a: string, b: string): Promise<[Checkpoint, Checkpoint]> {
  // One after the other: a checkpoint being read holds its arena and its file's bytes at once.
  const ca = await loadCheckpoint(a);
  const cb = await loadCheckpoint(b);
  return restoreDroppedBiases(ca, cb);
}
