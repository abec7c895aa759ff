/**
 * PyTorch state-dict keys for the parameters of an ONNX export (torch.onnx.export, legacy
 * exporter), so that aligned parameters can go back through `model.load_state_dict`.
 *
 * - A parameter read under a PyTorch-looking name ("fc1.weight", or an Identity alias named
 *   "features.12.squeeze.bias") keeps it.
 * - Otherwise ("onnx::Conv_28": a Conv with BatchNorm folded in, renamed by the exporter) the
 *   key is the module path of the consuming node's scope plus the role of the input:
 *   "/layer1/layer1.0/conv1/Conv" input 1 → "layer1.0.conv1.weight". The exporter prefixes a
 *   child of a container with the parent's last segment ("/layer2/layer2.0/downsample/
 *   downsample.0/Conv" → "layer2.0.downsample.0").
 * - Such folded Conv parameters are not the original state dict: weight = W·γ/σ and
 *   bias = β − μγ/σ (+ b·γ/σ); they load into a model whose BatchNorms are folded (a Conv with
 *   a bias and no BatchNorm), not into the original one. The result lists them.
 * - A MatMul weight (newer exporters) is stored [in, out]; nn.Linear wants [out, in], so it is
 *   transposed, and the bias of the Add after it is named after the same scope.
 * - A MatMul weight whose bias Add reads a PyTorch name ending in "bias" is named after it:
 *   nn.MultiheadAttention's fused projection ("….in_proj_bias" → "….in_proj_weight"), which is
 *   not a module of its own, so its scope alone would give "….mha.weight".
 */
import type { Checkpoint } from '../checkpoint.js';
import { modulePath } from '../onnx/names.js';

export interface TorchTensor {
  readonly key: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** The parameter uses it was taken from (several when equal values share a key). */
  readonly parameters: readonly number[];
  /** How the key was found: as read by the node, or derived from the node's scope. */
  readonly source: 'name' | 'scope' | 'tensor';
  /** A MatMul weight transposed to PyTorch's [out, in]. */
  readonly transposed: boolean;
}

export interface TorchStateDict {
  readonly tensors: TorchTensor[];
  /** Keys of Conv parameters with BatchNorm folded in (renamed "onnx::…" by the exporter). */
  readonly folded: string[];
  /** Parameters whose key could not be recovered (the ONNX tensor name is used). */
  readonly unnamed: string[];
  /** Keys written more than once with different values (uses permuted differently), suffixed "#use<k>". */
  readonly conflicts: string[];
}

/** Module path of a node's scope: "/layer2/layer2.0/downsample/downsample.0/Conv" → "layer2.0.downsample.0". */
export const scopePath: (nodeName: string) => string | null = modulePath;

const TORCH_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$/;

function role(op: string, slot: number, rank: number): { name: string; transpose: boolean } | null {
  switch (op) {
    case 'Conv':
    case 'ConvTranspose':
    case 'Gemm':
    case 'InstanceNormalization':
    case 'LayerNormalization':
      return slot === 1 ? { name: 'weight', transpose: false } : slot === 2 ? { name: 'bias', transpose: false } : null;
    case 'BatchNormalization':
      return slot >= 1 && slot <= 4 ? { name: ['weight', 'bias', 'running_mean', 'running_var'][slot - 1]!, transpose: false } : null;
    case 'MatMul':
      return slot === 1 && rank === 2 ? { name: 'weight', transpose: true } : null;
    case 'Add':
      return rank === 1 ? { name: 'bias', transpose: false } : null;
    case 'PRelu':
      return slot === 1 ? { name: 'weight', transpose: false } : null;
    default:
      return null;
  }
}

function equal(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/** The parameters of `arena` (this checkpoint's layout) under PyTorch state-dict keys. */
export function torchStateDict(checkpoint: Checkpoint, arena: Float32Array = checkpoint.arena): TorchStateDict {
  const nodes = checkpoint.model.graph?.node ?? [];
  const tensors: TorchTensor[] = [];
  const byKey = new Map<string, TorchTensor>();
  const folded: string[] = [];
  const unnamed: string[] = [];
  const conflicts: string[] = [];
  const readers = new Map<string, string[][]>();
  for (const node of nodes) for (const i of node.input) if (node.opType === 'Add') readers.set(i, [...(readers.get(i) ?? []), node.input]);
  /** The weight key a MatMul's bias Add names ("x.in_proj_bias" → "x.in_proj_weight"). */
  const afterBias = (nodeIndex: number): string | undefined => {
    const out = nodes[nodeIndex]?.output[0];
    const bias = (out ? readers.get(out) ?? [] : []).flat().find((i) => i !== out && TORCH_NAME.test(i) && i.endsWith('bias'));
    return bias ? `${bias.slice(0, -'bias'.length)}weight` : undefined;
  };
  for (const p of checkpoint.parameters) {
    const read = nodes[p.nodeIndex]?.input[p.inputIndex] ?? p.tensor;
    let key: string;
    let source: TorchTensor['source'];
    let transpose = false;
    const r = role(p.op, p.inputIndex, p.shape.length);
    const scope = scopePath(p.node);
    if (TORCH_NAME.test(read) && !read.startsWith('onnx::')) {
      key = read;
      source = 'name';
      transpose = r?.transpose ?? false;
    } else if (r && scope) {
      key = (p.op === 'MatMul' ? afterBias(p.nodeIndex) : undefined) ?? `${scope}.${r.name}`;
      source = 'scope';
      transpose = r.transpose;
      if ((p.op === 'Conv' || p.op === 'ConvTranspose') && p.tensor.startsWith('onnx::')) folded.push(key);
    } else {
      key = p.tensor;
      source = 'tensor';
      unnamed.push(p.tensor);
    }
    let data: Float32Array = arena.subarray(p.offset, p.offset + p.length);
    let shape = [...p.shape];
    if (transpose && shape.length === 2) {
      data = transpose2d(data, shape[0]!, shape[1]!);
      shape = [shape[1]!, shape[0]!];
    }
    const existing = byKey.get(key);
    if (existing) {
      if (equal(existing.data, data)) {
        (existing.parameters as number[]).push(p.index);
        continue;
      }
      conflicts.push(key);
      key = `${key}#use${p.index}`;
    }
    const t: TorchTensor = { key, shape, data, parameters: [p.index], source, transposed: transpose && shape.length === 2 };
    byKey.set(key, t);
    tensors.push(t);
  }
  return { tensors, folded, unnamed: [...new Set(unnamed)], conflicts };
}

